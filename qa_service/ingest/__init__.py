"""Ingest: corpus files (plain text, Markdown, saved pages, the Dong-A layout) read into articles, and an article's
fields checked. Uses text and config only: it knows nothing of indexes, questions or the web."""
