"""Index: articles cut into passages and sentences, embedded (the encoder and its runtimes), annotated (entities,
voice, clues) and written as atomically switched generations (FAISS, BM25, SQLite). Uses ingest, text, config."""
