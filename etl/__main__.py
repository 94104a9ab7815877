from etl.cli import run

run()
