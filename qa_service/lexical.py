"""The BM25 side (bm25s), tokenised with the project's own stemmer and stop words.

Stored inside each index generation, so it always describes exactly the same passages
(same row numbers) as the FAISS index beside it.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from .text import tokenize


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25):
        self._retriever = retriever

    @classmethod
    def build(cls, documents: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25()
        retriever.index([tokenize(doc) for doc in documents], show_progress=False)
        return cls(retriever)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(path), show_progress=False))

    def save(self, path: Path) -> None:
        self._retriever.save(str(path), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage row (zeros where no query term occurs)."""
        tokens = [t for t in tokenize(query) if t in self._retriever.vocab_dict]
        num_docs = self._retriever.scores["num_docs"]
        if not tokens:
            return np.zeros(num_docs, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def idf(self, tokens: list[str]) -> np.ndarray:
        """Inverse document frequency of each token; unseen tokens get the rarest value."""
        indptr = self._retriever.scores["indptr"]
        n = self._retriever.scores["num_docs"]
        vocab = self._retriever.vocab_dict
        df = np.array([indptr[vocab[t] + 1] - indptr[vocab[t]] if t in vocab else 0 for t in tokens], dtype=np.float64)
        return np.log(1.0 + (n - df + 0.5) / (df + 0.5))
