"""Article layouts, a module each (corpus.py chooses one per file); common.py holds what they share."""
