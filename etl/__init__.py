"""Koriyama City open-data ETL: extract → transform → validate → publish."""

__version__ = "0.1.0"
