"""`make bench`: speed of the encoder, the index build, the served API and FAISS, written to BENCHMARKS.md."""
