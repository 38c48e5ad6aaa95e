"""Article file formats that need more than corpus.py's line-by-line reading (saved web pages)."""
