"""The question-answering core that the web layer, the CLI and `eval` all call.

It owns the one encoder (loaded once per process, on first use) and the index reader.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .answer import choose_sentence, is_found
from .config import DEFAULT_OVERVIEW_LIMIT, DEFAULT_TOP_K, MODES, Config
from .followup import resolve, with_context
from .generation.read import IndexReader, IndexUnavailable, Snapshot
from .occupancy import Occupancy
from .overview import overview, topic_of
from .search import Filters, Query, retrieve

if TYPE_CHECKING:
    from .embedder import Encoder

log = logging.getLogger(__name__)
# Asked once at start (warm_up): questions of several kinds, so that each path of search and answer has run.
WARM_UP_QUESTIONS = ("What does the editorial argue?", "Who warned about it, and why?",
                     "How many people were there in 2015?")


def limit_math_threads(threads: int = 1) -> None:
    """BLAS (numpy's and FAISS's) and OpenMP on `threads` threads, for the rest of this process.

    A question's matrix-vector products are small: on every core they gain nothing and, beside the
    encoder's own threads, stall for milliseconds (with two BLAS threads `make eval`'s p95 doubled).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


@dataclass(frozen=True)
class Question:
    text: str
    top_k: int = DEFAULT_TOP_K
    mode: str = MODES[0]
    filters: Filters = field(default_factory=Filters)
    history: tuple[tuple[str, str], ...] = ()


def citation(snapshot: Snapshot, row: int) -> dict:
    article = snapshot.articles[snapshot.passage_article[row]]
    return {
        "article_id": article.id,
        "title": article.title,
        "date": article.date,
        "paragraph": int(snapshot.passage_paragraph[row]),
        "url": article.url,
    }


class QAService:
    def __init__(self, config: Config, embedder: Encoder | None = None, occupancy: Occupancy | None = None):
        self.config = config
        self.occupancy = occupancy or Occupancy()  # a server's is shared by its workers (see occupancy.py)
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self.reader = IndexReader(config.index_dir, model_name=embedder.name if embedder else None)

    @property
    def embedder(self) -> Encoder:
        """The encoder, loaded on first use so that processes that never ask never pay for it."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    from .embedder import load_embedder

                    self._embedder = load_embedder(self.config, occupancy=self.occupancy)
                    self.reader.model_name = self._embedder.name
        return self._embedder

    def warm_up(self) -> None:
        """Load the encoder and the index, and run the whole ask path, before the first request, not during it.

        The first questions after a start would otherwise pay for the encoder's first run at each length
        and for the index's first reads (BENCHMARKS.md, "Serving over HTTP").
        """
        self.embedder.warm_up()
        try:
            self.reader.snapshot()
        except IndexUnavailable as exc:
            log.warning("index not available yet: %s", exc)
            return
        for text in WARM_UP_QUESTIONS:
            self._ask(Question(text))

    def snapshot(self) -> Snapshot:
        return self.reader.snapshot()

    def ask(self, question: Question) -> dict:
        with self.occupancy.busy():
            return self._ask(question)

    def _ask(self, question: Question) -> dict:
        started = time.perf_counter()
        snapshot = self.reader.snapshot()
        context = resolve(question.text, question.history)
        resolved = with_context(question.text, context)  # the one text embedded: the question, resolved
        query = Query(snapshot, question.text, self.embedder.encode([resolved])[0], context=context)
        hits = retrieve(snapshot, query, question.top_k, question.mode, question.filters)
        answer = choose_sentence(snapshot, query, hits) if is_found(snapshot, query, hits) else None
        result = {
            "question": question.text,
            "found": answer is not None,
            "answer": None if answer is None else {
                "text": answer.text, "passage": answer.passage, "start": answer.start, "end": answer.end,
            },
            "passages": [
                {
                    "rank": rank,
                    "score": round(hit.score, 6),
                    "text": snapshot.passage_text[hit.row],
                    "citation": citation(snapshot, hit.row),
                }
                for rank, hit in enumerate(hits, start=1)
            ],
            "mode": question.mode,
            "index_version": snapshot.version,
        }
        if resolved != question.text:
            result["resolved_question"] = resolved
        result["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return result

    def overview(self, topic: str, limit: int = DEFAULT_OVERVIEW_LIMIT, filters: Filters | None = None) -> dict:
        """The editorials that discuss `topic` (overview.py), as /api/overview answers: one encoder call."""
        with self.occupancy.busy():
            started = time.perf_counter()
            snapshot = self.reader.snapshot()
            searched = topic_of(topic)
            query = Query(snapshot, searched, self.embedder.encode([searched])[0])
            found = overview(snapshot, query, limit, filters)
            editorials = []
            for e in found.editorials:
                article = snapshot.articles[e.article_id]
                editorials.append({
                    "article_id": article.id, "title": article.title, "date": article.date, "url": article.url,
                    "score": round(e.score, 6),
                    "sentence": {"text": e.sentence_text, "paragraph": e.sentence_paragraph},
                    "paragraphs": list(e.paragraphs),
                })
            return {"topic": topic, "editorials": editorials, "total": found.total,
                    "took_ms": round((time.perf_counter() - started) * 1000, 2), "index_version": snapshot.version}

    def health(self) -> dict:
        snapshot = self.reader.snapshot()
        health = {
            "status": "ok",
            "articles": len(snapshot.articles),
            "passages": snapshot.n_passages,
            "model": snapshot.model,
            "index_version": snapshot.version,
        }
        if self.reader.error:
            health["warning"] = f"serving an older index generation: {self.reader.error}"
        return health
