"""Stage 1, the document in: its bytes, decoded or rebuilt into numbered lines.

Owns: `text` (reading, encodings, line endings; `SourceText`), `pdf` (the city's PDF: its two
readers, pdfminer and pdfium, in a bounded child process), `geometry` (a page's characters and ruled
tables → the document's lines) and `registry` (raw/datapackage.json: the recorded size and hash
that prove a source complete).
May import: `etl.errors`, `etl.shared`; no other stage.
"""
