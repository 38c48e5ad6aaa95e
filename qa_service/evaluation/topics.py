"""`qa-service eval --topics`: recall@10, precision, position and key-sentence hits of the overview of a topic.

Scored exactly as ../shared/data/editorial-topics/README.md says. A topic file holds one JSON
object a line: `id`, `question`, `relevant` and `passing` (file names of the editorials that
discuss the topic, and of those that only mention it) and `key` (for each relevant file, the
sentence that states its position). Each question goes through `QAService.overview` with its
default limit (10), as `/api/overview` answers it; an editorial's shown text is its key sentence.

* L: the first 10 distinct editorials listed, in the order given.
* Recall@10 = |R ∩ L| / min(|R|, 10); precision = |(R ∪ P) ∩ L| / |L| (0 for an empty list).
* Key-sentence hits = the editorials f of R ∩ L whose shown text hits key[f], over min(|R|, 10).
  Both texts have their whitespace runs made one space and are trimmed; the shown text hits the
  key when it contains it, or when it is a sentence of at least 8 words that the key contains.
* Position hits = the same rule against any of the sentences that state f's position
  (`positions.jsonl` beside the topics: every such sentence of each relevant editorial).
* Each figure is averaged over the topics, each weighted equally; times are wall-clock
  milliseconds per `overview` call, the topic's encoding included.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..ingest.corpus import article_id_for
from .questions import percentile, read_json_lines

LISTED = 10


@dataclass(frozen=True)
class Topic:
    id: str
    question: str
    relevant: tuple[str, ...]  # article ids
    passing: tuple[str, ...]
    key: dict[str, str]  # article id -> key sentence
    positions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # article id -> its position sentences


@dataclass(frozen=True)
class TopicScore:
    id: str
    recall: float
    precision: float
    key_hits: float
    position_hits: float | None = None  # None: the topic has no position sentences


@dataclass
class TopicsResult:
    topics: list[TopicScore] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)

    def mean(self, name: str) -> float | None:
        values = [getattr(t, name) for t in self.topics if getattr(t, name) is not None]
        return round(statistics.fmean(values), 4) if values else None

    def to_dict(self) -> dict:
        return {
            "topics": len(self.topics), "recall_at_10": self.mean("recall"), "precision": self.mean("precision"),
            "key_sentence_hits": self.mean("key_hits"), "position_hits": self.mean("position_hits"),
            "median_ms": round(statistics.median(self.times_ms), 2) if self.times_ms else None,
            "p95_ms": round(percentile(self.times_ms, 95), 2) if self.times_ms else None,
            "per_topic": [t.__dict__ for t in self.topics],
        }


def _topic(item: dict, number: int) -> Topic:
    return Topic(
        id=str(item.get("id", number)), question=str(item["question"]).strip(),
        relevant=tuple(article_id_for(f) for f in item["relevant"]),
        passing=tuple(article_id_for(f) for f in item.get("passing") or ()),
        key={article_id_for(f): str(s) for f, s in (item.get("key") or {}).items()},
    )


POSITIONS = "positions.jsonl"  # beside a topics file: every position sentence of each relevant editorial


def load_topics(path: Path, positions: Path | None = None) -> list[Topic]:
    """The topics of `path`, with the position sentences of `positions` (default: POSITIONS beside it, if there)."""
    topics = read_json_lines(path, _topic, "topic object")
    positions = positions or Path(path).with_name(POSITIONS)
    if not positions.is_file():
        return topics
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for topic_id, article_id, sentences in read_json_lines(positions, _positions, "position object"):
        found.setdefault(topic_id, {})[article_id] = sentences
    return [replace(t, positions=found.get(t.id, {})) for t in topics]


def _positions(item: dict, number: int) -> tuple[str, str, tuple[str, ...]]:
    return str(item["topic"]), article_id_for(item["file"]), tuple(str(s) for s in item["positions"])


def _spaced(text: str) -> str:
    return " ".join(text.split())


def hits_key(shown: str, key: str) -> bool:
    """The README's rule: the shown text holds the key sentence, or is a sentence of 8+ words inside it."""
    shown, key = _spaced(shown), _spaced(key)
    return bool(shown) and (key in shown or (len(shown.split()) >= 8 and shown in key))


def score_topic(topic: Topic, listed: Sequence[tuple[str, str]]) -> TopicScore:
    """Score one answer: `listed` holds (article id, shown text) in the order the system gives them."""
    shown: dict[str, str] = {}
    for article_id, text in listed:
        if article_id not in shown:
            shown[article_id] = text
        if len(shown) == LISTED:
            break
    relevant, passing = set(topic.relevant), set(topic.passing)
    found = [a for a in shown if a in relevant]
    denominator = min(len(relevant), LISTED)
    recall = len(found) / denominator if denominator else 0.0
    precision = sum(a in relevant or a in passing for a in shown) / len(shown) if shown else 0.0
    hits = sum(hits_key(shown[a], topic.key.get(a, "")) for a in found if topic.key.get(a))
    positions = sum(any(hits_key(shown[a], p) for p in topic.positions.get(a, ())) for a in found)
    return TopicScore(topic.id, round(recall, 4), round(precision, 4),
                      round(hits / denominator, 4) if denominator else 0.0,
                      round(positions / denominator, 4) if denominator and topic.positions else None)


def evaluate_topics(service, topics: Sequence[Topic], scorer_for=None) -> TopicsResult:
    """Each topic's question through `service.overview`, scored; the time of each call kept.

    `scorer_for(topic)`: the position scorer to answer that topic with (leave-one-topic-out: one fitted on the
    others); default, the service's own.
    """
    result = TopicsResult()
    shipped = service.position_scorer
    for topic in topics:
        service.position_scorer = scorer_for(topic) if scorer_for else shipped
        started = time.perf_counter()
        answer = service.overview(topic.question)
        result.times_ms.append((time.perf_counter() - started) * 1000)
        listed = [(e["article_id"], e["sentence"]["text"]) for e in answer["editorials"]]
        result.topics.append(score_topic(topic, listed))
    service.position_scorer = shipped
    return result


def format_topics(result: TopicsResult) -> str:
    """A Markdown table: a row per topic and one for the mean, then the time per overview."""
    def figure(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    rows: list[tuple[str, ...]] = [("topic", "recall@10", "precision", "position hits", "key-sentence hits")]
    rows += [(t.id, figure(t.recall), figure(t.precision), figure(t.position_hits), figure(t.key_hits))
             for t in result.topics]
    rows.append(("mean", *(figure(result.mean(name)) for name in ("recall", "precision", "position_hits",
                                                                     "key_hits"))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    data = result.to_dict()
    lines.append(f"\noverview: median {data['median_ms']} ms, p95 {data['p95_ms']} ms per topic")
    return "\n".join(lines)
