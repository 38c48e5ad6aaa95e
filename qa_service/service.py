"""The question-answering core that the web layer, the CLI and `eval` all call.

It owns the one encoder (loaded once per process, on first use) and the index reader.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import DEFAULT_OVERVIEW_LIMIT, DEFAULT_TOP_K, MODES, Config
from .index.generation.read import IndexReader, IndexUnavailable, Snapshot
from .index.occupancy import Occupancy
from .reading.answer import Answer, choose_sentence, evidence, is_found
from .reading.discussion import InArticle, answer_in_article, editorial_rows, shares_words, with_articles
from .reading.fitted import FOLLOW_UP, PositionScorer, Scorer, load_position_scorer, load_scorer
from .reading.followup import Reading, Turn, read, with_context
from .reading.overview import Editorial, overview
from .reading.position_features import POSITION_FEATURES
from .reading.search import Filters, Hit, Query, retrieve
from .reading.sentence_features import FEATURES
from .reading.topic_frame import topic_of

if TYPE_CHECKING:
    from .index.embedder import Encoder

log = logging.getLogger(__name__)
# Asked once at start (warm_up): questions of several kinds, so that each path of search and answer has run.
WARM_UP_QUESTIONS = ("What does the editorial argue?", "Who warned about it, and why?",
                     "How many people were there in 2015?")
WARM_UP_FOLLOW_UP = "Why?"  # then a follow-up on the last of them: the path of a conversation
WARM_UP_TOPIC = "What has the paper said about the economy?"


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
    history: tuple[Turn, ...] = ()


def history_turn(question: str, result: dict) -> Turn:
    """A turn as a client sends it back with the next question: the answer shown and where it came from."""
    answer = result.get("answer")
    if not answer:
        return Turn(question)
    cited = result["passages"][answer["passage"] - 1]["citation"]
    return Turn(question, answer["text"], cited["article_id"], cited["paragraph"])


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
    def __init__(self, config: Config, embedder: Encoder | None = None, occupancy: Occupancy | None = None,
                 follow_up_scorer: Scorer | None = None, position_scorer: PositionScorer | None = None):
        """`follow_up_scorer`, `position_scorer`: instead of the ones fitted.py reads (config.fitted_dir, else the
        shipped ones)."""
        self.config = config
        self.occupancy = occupancy or Occupancy()  # a server's is shared by its workers (see occupancy.py)
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self.reader = IndexReader(config.index_dir, model_name=embedder.name if embedder else None)
        self._follow_up_scorer = follow_up_scorer
        self._position_scorer = position_scorer

    @property
    def embedder(self) -> Encoder:
        """The encoder, loaded on first use so that processes that never ask never pay for it."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    from .index.embedder import load_embedder

                    self._embedder = load_embedder(self.config, occupancy=self.occupancy)
                    self.reader.model_name = self._embedder.name
        return self._embedder

    @property
    def follow_up_scorer(self) -> Scorer:
        """The follow-up scorer (fitted.py), read on first use: fitting one scorer needs no valid other one."""
        if self._follow_up_scorer is None:
            self._follow_up_scorer = load_scorer(self.config.fitted_dir, FOLLOW_UP, FEATURES)
        return self._follow_up_scorer

    @follow_up_scorer.setter
    def follow_up_scorer(self, scorer: Scorer) -> None:
        self._follow_up_scorer = scorer

    @property
    def position_scorer(self) -> PositionScorer:
        """The overview's position scorer (fitted.py), read on first use."""
        if self._position_scorer is None:
            self._position_scorer = load_position_scorer(self.config.fitted_dir, POSITION_FEATURES)
        return self._position_scorer

    @position_scorer.setter
    def position_scorer(self, scorer: PositionScorer) -> None:
        self._position_scorer = scorer

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
            result = self._ask(Question(text))
        if result["passages"]:  # a follow-up on the editorial of the last one's first passage
            cited = result["passages"][0]["citation"]
            previous = Turn(WARM_UP_QUESTIONS[-1], "", cited["article_id"], cited["paragraph"])
            self._ask(Question(WARM_UP_FOLLOW_UP, history=(previous,)))
        self.overview(WARM_UP_TOPIC)  # and an overview, whose first one reads the articles' acronyms

    def snapshot(self) -> Snapshot:
        return self.reader.snapshot()

    def ask(self, question: Question) -> dict:
        with self.occupancy.busy():
            return self._ask(question)

    def _ask(self, question: Question) -> dict:
        started = time.perf_counter()
        snapshot = self.reader.snapshot()
        reading = read(question.text, with_articles(snapshot, question.history))
        resolved = with_context(question.text, reading.context)
        hits, answer, context, alternatives = self._answer(snapshot, question, reading, resolved)
        result = {
            "question": question.text,
            "found": answer is not None,
            "answer": None if answer is None else _answer_json(answer),
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
        if alternatives:
            result["alternatives"] = [_answer_json(a) for a in alternatives]
        if resolved != question.text:
            result["resolved_question"] = resolved
        if context is not None:
            result["context"] = context
        result["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return result

    def _answer(self, snapshot: Snapshot, question: Question, reading: Reading,
                resolved: str) -> tuple[list[Hit], Answer | None, dict | None, tuple[Answer, ...]]:
        """The passages and the answer: for a follow-up, in the editorial under discussion first.

        One text is embedded: in the editorial under discussion, the question as asked (its words are what
        tells the editorial's sentences apart; the carried-over names are in all of them), else the question
        with what it leaves out. `context` (None for a conversation's first question) says where it was
        searched, for the reader. In the editorial, the next best sentences come too when they score close.
        """
        rows = editorial_rows(snapshot, question.text, reading, question.filters)
        vector = self.embedder.encode([question.text if rows is not None else resolved])[0]
        query = Query(snapshot, question.text, vector, context=reading.context)
        hits: list[Hit] | None = None
        if rows is not None:
            in_article: InArticle = answer_in_article(snapshot, query, reading, rows, question.top_k,
                                                      self.follow_up_scorer)
            article_id = reading.previous.article_id if reading.previous else None
            title = snapshot.articles[article_id].title if article_id else None
            stay = reading.leans
            if not stay and in_article.answer is not None:
                # A question that stands on its own may have changed the subject without naming anything new:
                # it stays unless the whole corpus answers it clearly better, and only when it shares a word with
                # the editorial: an unrelated question ("How do I bake bread?") is not answered from it.
                hits = retrieve(snapshot, query, question.top_k, question.mode, question.filters)
                margin = self.follow_up_scorer.switch_margin
                elsewhere = is_found(snapshot, query, hits) and evidence(hits) > in_article.evidence + margin
                stay = not elsewhere and shares_words(snapshot, query, rows)
            if stay:
                return (in_article.hits, in_article.answer, _context(reading, article_id, title, in_article.answer),
                        in_article.alternatives)
        if hits is None:
            hits = retrieve(snapshot, query, question.top_k, question.mode, question.filters)
        answer = choose_sentence(snapshot, query, hits) if is_found(snapshot, query, hits) else None
        return hits, answer, None if reading.previous is None else _context(reading, None, None, answer), ()

    def overview(self, topic: str, limit: int = DEFAULT_OVERVIEW_LIMIT, filters: Filters | None = None) -> dict:
        """The editorials that discuss `topic` (overview.py), as /api/overview answers: one encoder call."""
        with self.occupancy.busy():
            started = time.perf_counter()
            snapshot = self.reader.snapshot()
            searched = topic_of(topic)
            query = Query(snapshot, searched, self.embedder.encode([searched])[0], acronyms=True)
            found = overview(snapshot, query, limit, self.position_scorer, filters)
            editorials = [_editorial_json(snapshot, e) for e in found.editorials]
            return {"topic": topic, "editorials": editorials, "total": found.total, "order": found.order,
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


def _editorial_json(snapshot: Snapshot, editorial: Editorial) -> dict:
    article = snapshot.articles[editorial.article_id]
    data = {"article_id": article.id, "title": article.title, "date": article.date, "url": article.url,
            "score": round(editorial.score, 6),
            "sentence": {"text": editorial.sentence.text, "paragraph": editorial.sentence.paragraph},
            "paragraphs": list(editorial.paragraphs)}
    if editorial.second is not None:
        data["second_sentence"] = {"text": editorial.second.text, "paragraph": editorial.second.paragraph}
    return data


def _answer_json(answer: Answer) -> dict:
    return {"text": answer.text, "passage": answer.passage, "start": answer.start, "end": answer.end}


def _context(reading: Reading, article_id: str | None, title: str | None, answer: Answer | None) -> dict:
    """How a question of a conversation was read and where it was searched, as the response's `context`."""
    if article_id is None:
        reason = "a new question: searched all editorials"
    elif answer is not None:
        reason = f"a follow-up: searched in “{title}” first"
    else:
        reason = f"a follow-up: I couldn't find this in “{title}”"
    return {
        "article_id": article_id,
        "title": title,
        "reason": reason,
        "pronouns": [{"word": word, "as": name} for word, name in reading.pronouns],
    }
