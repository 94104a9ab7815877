"""Stage 1, the document in: its bytes, decoded or rebuilt into numbered lines.

Owns: `text` (reading, encodings, line endings; `SourceText`), `pdf` (the city's PDF read by the
geometry of its characters) and `registry` (raw/datapackage.json: the recorded size and hash
that prove a source complete).
May import: `etl.errors`, `etl.shared`; no other stage.
"""
