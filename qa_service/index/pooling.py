"""Vectors for parts of a text from one encoder pass over the whole text ("late chunking").

An index needs a vector per passage and a vector per sentence. Encoding every sentence again on its
own doubles the encoder's work for a build; instead each sentence's vector is the mean of the
passage's own token outputs over the sentence's word pieces. The sentence is then read in its
passage's context: "It" knows what it refers to. BENCHMARKS.md ("Index build") and README.md
("Quality") have what this saves and what it changed in the answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[int, int]  # character offsets [start, end) within the text


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), as float32."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)


class PassageOutputs:
    """What an Encoder's encode_passages returns, filled a batch of texts at a time, in any order: one row per
    text, and one row per span of every text, in order."""

    def __init__(self, n_texts: int, spans: Sequence[Sequence[Span]], dimension: int):
        if len(spans) != n_texts:
            raise ValueError(f"{len(spans)} span lists for {n_texts} texts")
        self._first = np.concatenate([[0], np.cumsum([len(s) for s in spans])]).astype(np.int64)
        self.texts = np.empty((n_texts, dimension), dtype=np.float32)
        self.spans = np.empty((int(self._first[-1]), dimension), dtype=np.float32)

    def put(self, rows: np.ndarray, text_vectors: np.ndarray, span_vectors: np.ndarray) -> None:
        """The vectors of the texts at positions `rows`, and of their spans (one text's after another's)."""
        self.texts[rows] = text_vectors
        span_rows = [np.arange(self._first[i], self._first[i + 1]) for i in rows]
        self.spans[np.concatenate(span_rows) if span_rows else []] = span_vectors

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        return self.texts, self.spans


def pool_spans(tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """One normalised vector per span: the mean of the outputs of the word pieces inside it.

    `tokens` holds the text's token outputs (length × dimension), `offsets` each token's character
    span in the text, as fast tokenizers give them; special tokens ([CLS], [SEP]) have empty spans
    and belong to no span. A span without a word piece of its own (punctuation cut off by
    truncation, say) takes the mean of the whole text.
    """
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    whole = tokens.mean(axis=0)
    out = np.empty((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        inside = real & (starts >= start) & (ends <= end)
        out[i] = tokens[inside].mean(axis=0) if inside.any() else whole
    return normalise(out)
