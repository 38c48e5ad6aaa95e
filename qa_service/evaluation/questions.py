"""`qa-service eval`: retrieval, answer and abstention figures, measured through QAService.ask.

Every question goes through the same `QAService.ask` as `/api/ask` (top_k 20), so the figures
describe what users get. A question file holds one JSON object a line, in either of two layouts:

* SQuAD's (../shared/data/README.md): `question`, `answers`, `article` (file name under the corpus
  folder), `paragraph` (1-based) and optionally `is_impossible`;
* the editorial questions' (../shared/data/editorial-questions/README.md): `question`, `file`,
  `paragraph` and `must_contain`, an exact phrase of the answer sentence; an unanswerable question
  has `must_contain` null.

* A question is answered at rank k when one of the first k passages holds its gold text: the
  `must_contain` phrase, else the gold article's gold paragraph (a window of a long paragraph cites
  that paragraph). Recall@1/5/20 and MRR@10 are over the answerable questions.
* "answer" is the share of answerable questions whose answer sentence is right: it holds the
  `must_contain` phrase or lies inside it, or holds a gold answer string (case and spacing ignored);
  a declined question counts as a miss.
* "answered" is the share of answerable questions given an answer (`found`).
* "declined" is the share of foreign questions given none: the foreign questions (default: the
  questions) asked against the foreign corpus (default: the corpus). E.g. squad-dev's questions
  against the editorials, which do not answer them.
* "unanswerable declined" is the share of unanswerable questions (`is_impossible`, or `must_contain`
  null) given no answer.
* Times are wall-clock milliseconds per `ask` call, the question's encoding included.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from ..config import MODES
from ..index.generation.build import ProgressFactory
from ..ingest.corpus import article_id_for
from ..service import QAService, Question

EVAL_TOP_K = 20
T = TypeVar("T")


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    answers: tuple[str, ...] = ()
    article_id: str | None = None
    paragraph: int | None = None
    impossible: bool = False
    id: str = ""
    must_contain: str | None = None  # a phrase of the answer sentence (the editorial questions' layout)


@dataclass
class ModeResult:
    mode: str
    questions: int = 0  # answerable questions measured
    recall_at_1: float | None = None
    recall_at_5: float | None = None
    recall_at_20: float | None = None
    mrr_at_10: float | None = None
    answer_contains_gold: float | None = None
    answered: float | None = None
    impossible: int = 0
    impossible_declined: float | None = None
    foreign: int = 0
    foreign_declined: float | None = None
    median_ms: float | None = None
    p95_ms: float | None = None
    times_ms: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["times_ms"]
        return data


def read_json_lines(path: Path, parse: Callable[[dict, int], T], what: str) -> list[T]:
    """`parse(item, line number)` of each JSON object in a JSON-lines file; a bad line is a ValueError naming it."""
    parsed = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                parsed.append(parse(json.loads(line), number))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}:{number}: not a {what} ({exc})") from None
    return parsed


def _question(item: dict, number: int) -> EvalQuestion:
    article = item.get("article") or item.get("file")
    phrase = item.get("must_contain")
    return EvalQuestion(
        question=str(item["question"]).strip(),
        answers=tuple(str(a) for a in item.get("answers") or ()),
        article_id=article_id_for(article) if article else None,
        paragraph=int(item["paragraph"]) if item.get("paragraph") is not None else None,
        impossible=bool(item.get("is_impossible", False)) or ("must_contain" in item and not phrase),
        id=str(item.get("id", number)),
        must_contain=str(phrase) if phrase else None,
    )


def load_questions(path: Path, limit: int | None = None) -> list[EvalQuestion]:
    """Questions from a JSON-lines file; with `limit`, that many spread evenly over the file."""
    questions = read_json_lines(path, _question, "question object")
    if limit is not None and limit < len(questions):
        questions = [questions[i * len(questions) // limit] for i in range(limit)]
    return questions


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _spaced(text: str) -> str:
    """The editorial questions' comparison: runs of whitespace made one space, case kept."""
    return " ".join(text.split())


def gold_rank(result: dict, question: EvalQuestion) -> int | None:
    """1-based rank of the first passage holding the gold phrase or citing the gold paragraph, or None."""
    if question.must_contain:
        phrase = _spaced(question.must_contain)
        return next((p["rank"] for p in result["passages"] if phrase in _spaced(p["text"])), None)
    for passage in result["passages"]:
        citation = passage["citation"]
        if citation["article_id"] == question.article_id and citation["paragraph"] == question.paragraph:
            return passage["rank"]
    return None


def answer_contains_gold(result: dict, question: EvalQuestion) -> bool:
    """Whether the answer sentence is right: it holds the gold phrase (or lies inside it), or a gold answer."""
    answer = result.get("answer")
    if not answer:
        return False
    if question.must_contain:
        phrase, text = _spaced(question.must_contain), _spaced(answer["text"])
        return phrase in text or text in phrase
    text = _normal(answer["text"])
    return any(_normal(gold) in text for gold in question.answers if gold.strip())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) as the nearest of the values themselves (no interpolation): eval and bench."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def _ask_all(service: QAService, questions: Sequence[EvalQuestion], mode: str, label: str,
             progress: ProgressFactory | None):
    tick = progress(len(questions), label) if progress and questions else None
    for question in questions:
        started = time.perf_counter()
        result = service.ask(Question(text=question.question, top_k=EVAL_TOP_K, mode=mode))
        elapsed = (time.perf_counter() - started) * 1000
        if tick:
            tick(1)
        yield question, result, elapsed


def evaluate_mode(
    service: QAService,
    questions: Sequence[EvalQuestion],
    mode: str,
    *,
    foreign_service: QAService | None = None,
    foreign_questions: Sequence[EvalQuestion] = (),
    progress: ProgressFactory | None = None,
) -> ModeResult:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    result = ModeResult(mode)
    answerable = hits1 = hits5 = hits20 = answered = with_gold = impossible_declined = 0
    reciprocal = 0.0
    for question, response, elapsed in _ask_all(service, questions, mode, f"{mode}: questions", progress):
        result.times_ms.append(elapsed)
        if question.impossible:
            result.impossible += 1
            impossible_declined += not response["found"]
            continue
        answerable += 1
        answered += bool(response["found"])
        with_gold += answer_contains_gold(response, question)
        rank = gold_rank(response, question)
        if rank is not None:
            hits1 += rank <= 1
            hits5 += rank <= 5
            hits20 += rank <= 20
            reciprocal += 1.0 / rank if rank <= 10 else 0.0
    if answerable:
        result.questions = answerable
        result.recall_at_1 = round(hits1 / answerable, 4)
        result.recall_at_5 = round(hits5 / answerable, 4)
        result.recall_at_20 = round(hits20 / answerable, 4)
        result.mrr_at_10 = round(reciprocal / answerable, 4)
        result.answer_contains_gold = round(with_gold / answerable, 4)
        result.answered = round(answered / answerable, 4)
    if result.impossible:
        result.impossible_declined = round(impossible_declined / result.impossible, 4)
    if foreign_service is not None and foreign_questions:
        declined = 0
        asked = _ask_all(foreign_service, foreign_questions, mode, f"{mode}: foreign questions", progress)
        for _, response, elapsed in asked:
            result.times_ms.append(elapsed)
            declined += not response["found"]
        result.foreign = len(foreign_questions)
        result.foreign_declined = round(declined / len(foreign_questions), 4)
    if result.times_ms:
        result.median_ms = round(statistics.median(result.times_ms), 2)
        result.p95_ms = round(percentile(result.times_ms, 95), 2)
    return result


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def format_table(results: Sequence[ModeResult]) -> str:
    """One Markdown table, a row per mode; columns without data in any row are left out."""
    columns = [
        ("mode", lambda r: r.mode, True),
        ("R@1", lambda r: _percent(r.recall_at_1), any(r.recall_at_1 is not None for r in results)),
        ("R@5", lambda r: _percent(r.recall_at_5), any(r.recall_at_5 is not None for r in results)),
        ("R@20", lambda r: _percent(r.recall_at_20), any(r.recall_at_20 is not None for r in results)),
        ("MRR@10", lambda r: _percent(r.mrr_at_10), any(r.mrr_at_10 is not None for r in results)),
        ("answer has gold", lambda r: _percent(r.answer_contains_gold),
         any(r.answer_contains_gold is not None for r in results)),
        ("answered", lambda r: _percent(r.answered), any(r.answered is not None for r in results)),
        ("unanswerable declined", lambda r: "–" if r.impossible_declined is None else
         f"{r.impossible_declined:.3f} ({round(r.impossible_declined * r.impossible)}/{r.impossible})",
         any(r.impossible for r in results)),
        ("foreign declined", lambda r: _percent(r.foreign_declined), any(r.foreign for r in results)),
        ("median ms", lambda r: "–" if r.median_ms is None else f"{r.median_ms:.1f}", True),
        ("p95 ms", lambda r: "–" if r.p95_ms is None else f"{r.p95_ms:.1f}", True),
    ]
    shown = [(name, get) for name, get, show in columns if show]
    rows = [[name for name, _ in shown]] + [[get(r) for _, get in shown] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(shown))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def machine() -> str:
    """A one-line description of the machine, for reports."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} logical CPUs, {system}"
