"""A deterministic stand-in encoder for fast plumbing tests (never the only proof of behaviour)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import numpy as np


class HashingEmbedder:
    """Bag of hashed words: similar word sets give similar vectors; records every text it encodes (an Encoder)."""

    name = "test/hashing-embedder"
    backend = "fake"
    encoder = "fake"
    dimension = 64
    max_tokens = 254

    def __init__(self, fail_after: int | None = None, backend: str = "fake", encoder: str | None = None):
        self.encoded: list[str] = []
        self.fail_after = fail_after
        self.backend = backend
        self.encoder = encoder or backend

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self) -> None:
        """Nothing to warm."""

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        if self.fail_after is not None and len(self.encoded) + len(texts) > self.fail_after:
            raise RuntimeError("encoder failed half-way (simulated)")
        self.encoded.extend(texts)
        return self._vectors(texts, progress)

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], batch_size: int = 32,
                        progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each text is "encoded" once (recorded); its spans' vectors are its spans' own bags of words."""
        text_vectors = self.encode(texts, batch_size, progress)
        parts = [text[start:end] for text, text_spans in zip(texts, spans, strict=True) for start, end in text_spans]
        return text_vectors, self._vectors(parts, None)

    def _vectors(self, texts: Sequence[str], progress: Callable[[int], None] | None) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if progress:
            progress(len(texts))
        return vectors / np.where(norms == 0, 1, norms)
