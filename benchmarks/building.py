"""One timed index build for the benchmarks: wall and CPU seconds, and the share spent in the encoder."""

from __future__ import annotations

import time
from pathlib import Path

from qa_service.index.generation.build import build_index
from qa_service.ingest.corpus import load_corpus


class TimedEmbedder:
    """Passes everything through, adding up the wall and CPU seconds spent in the encoder."""

    def __init__(self, inner):
        self.inner = inner
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _timed(self, call, *args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.process_time() - cpu

    def encode(self, texts, batch_size=32, progress=None):
        return self._timed(self.inner.encode, texts, batch_size=batch_size, progress=progress)

    def encode_passages(self, texts, spans, batch_size=32, progress=None):
        return self._timed(self.inner.encode_passages, texts, spans, batch_size=batch_size, progress=progress)


def build_once(corpus: Path, index: Path, embedder) -> dict:
    """One `build_index` call: wall seconds, CPU seconds (all threads), and the share spent embedding."""
    timed = TimedEmbedder(embedder)
    cpu = time.process_time()
    report = build_index(corpus, index, timed)
    cpu = time.process_time() - cpu
    n_paragraphs = sum(len(a.paragraphs) for a in load_corpus(corpus)[0])
    return {"seconds": report.seconds, "cpu_seconds": cpu, "embed_seconds": timed.seconds,
            "embed_cpu_seconds": timed.cpu_seconds, "texts": report.texts_embedded,
            "passages": report.passages_total, "paragraphs": n_paragraphs,
            "texts_per_s": report.texts_embedded / report.seconds,
            "paragraphs_per_s": n_paragraphs / report.seconds}
