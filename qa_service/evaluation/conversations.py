"""`qa-service eval --conversations`: multi-turn conversations, scored per turn type.

The layout and the scoring are those of ../shared/data/editorial-conversations/README.md: each
conversation is one session, its turns asked in order through the same `QAService.ask` as
`/api/ask`, each with the earlier turns as history the way the chat page sends them: the
question, the answer sentence the service gave (its own, not the gold one) and that answer's
article and paragraph.

* An answerable turn is right when the answer sentence holds `must_contain` or lies inside it
  and is longer than 20 characters (whitespace runs made one space); its top passage is right
  when it holds `must_contain`, and its gold is in the passages when one of the first
  GOLD_PASSAGES does. Beside "right", the answer or one of the alternatives offered with it.
* An unanswerable turn (`must_contain` null) is right when it is declined.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..reading.followup import Turn
from ..service import QAService, Question, history_turn
from .questions import EVAL_TOP_K, percentile, read_json_lines

TURN_TYPES = ("opener", "pronoun", "reference", "ellipsis", "topic-switch", "unanswerable")
FOLLOW_UPS = TURN_TYPES[1:]
# The rows issue 27's targets name: the follow-ups that lean on the conversation, and the turns that leave it
COMBINED = (("pronoun, reference, ellipsis", TURN_TYPES[1:4]), ("topic-switch, unanswerable", TURN_TYPES[4:]),
            ("all follow-ups", FOLLOW_UPS), ("all turns", TURN_TYPES))
MIN_INSIDE_CHARS = 20  # an answer sentence inside the gold span counts when longer than this
GOLD_PASSAGES = 5  # "gold in the passages": among this many first passages


@dataclass(frozen=True)
class ConversationTurn:
    question: str
    type: str
    must_contain: str | None
    file: str | None = None  # the editorial that answers it (a file name of the corpus), for `qa-service fit`


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[ConversationTurn, ...]


@dataclass
class TypeResult:
    type: str
    turns: int = 0
    right: int = 0
    right_or_alternative: int = 0  # the answer or one of its alternatives right
    top_passage_right: int = 0
    gold_in_passages: int = 0  # in the first GOLD_PASSAGES passages
    answerable: int = 0
    answered: int = 0


@dataclass
class ConversationResult:
    by_type: dict[str, TypeResult] = field(default_factory=dict)
    opener_ms: list[float] = field(default_factory=list)
    follow_up_ms: list[float] = field(default_factory=list)
    wrong: list[dict] = field(default_factory=list)  # the turns missed, for reading

    def to_dict(self) -> dict:
        parts = [*(self.by_type[t] for t in TURN_TYPES if t in self.by_type),
                 *(self.combined(name, types) for name, types in COMBINED)]
        return {
            "by_type": [asdict(p) for p in parts],
            "opener_median_ms": round(statistics.median(self.opener_ms), 2) if self.opener_ms else None,
            "follow_up_median_ms": round(statistics.median(self.follow_up_ms), 2) if self.follow_up_ms else None,
            "wrong": self.wrong,
        }

    def combined(self, name: str, types: Sequence[str]) -> TypeResult:
        total = TypeResult(name)
        for kind in types:
            part = self.by_type.get(kind)
            if part:
                for attribute in ("turns", "right", "right_or_alternative", "top_passage_right", "gold_in_passages",
                                  "answerable", "answered"):
                    setattr(total, attribute, getattr(total, attribute) + getattr(part, attribute))
        return total


def _conversation(item: dict, number: int) -> Conversation:
    turns = tuple(ConversationTurn(str(t["question"]).strip(), str(t.get("type") or "opener"),
                                   t.get("must_contain") or None, t.get("file") or None) for t in item["turns"])
    return Conversation(str(item.get("id", number)), turns)


def load_conversations(path: Path) -> list[Conversation]:
    return read_json_lines(path, _conversation, "conversation object")


def _spaced(text: str) -> str:
    return " ".join(text.split())


def answer_right(result: dict, turn: ConversationTurn) -> bool:
    answer = result.get("answer")
    if turn.must_contain is None:
        return answer is None
    return answer is not None and _holds(answer["text"], turn.must_contain)


def answer_or_alternative_right(result: dict, turn: ConversationTurn) -> bool:
    """Right, or an answerable turn whose gold is in one of the alternatives offered beside the answer."""
    return answer_right(result, turn) or (turn.must_contain is not None and any(
        _holds(a["text"], turn.must_contain) for a in result.get("alternatives") or ()))


def _holds(text: str, must_contain: str) -> bool:
    phrase, text = _spaced(must_contain), _spaced(text)
    return phrase in text or (text in phrase and len(text) > MIN_INSIDE_CHARS)


def top_passage_right(result: dict, turn: ConversationTurn) -> bool:
    return gold_in_passages(result, turn, 1)


def gold_in_passages(result: dict, turn: ConversationTurn, first: int = GOLD_PASSAGES) -> bool:
    phrase = turn.must_contain
    passages = (result.get("passages") or [])[:first]
    return phrase is not None and any(_spaced(phrase) in _spaced(p["text"]) for p in passages)


def evaluate_conversations(service: QAService, conversations: Sequence[Conversation],
                           mode: str = "hybrid") -> ConversationResult:
    outcome = ConversationResult()
    for conversation in conversations:
        history: list[Turn] = []
        for number, turn in enumerate(conversation.turns, start=1):
            started = time.perf_counter()
            result = service.ask(Question(turn.question, top_k=EVAL_TOP_K, mode=mode, history=tuple(history)))
            elapsed = (time.perf_counter() - started) * 1000
            (outcome.opener_ms if not history else outcome.follow_up_ms).append(elapsed)
            part = outcome.by_type.setdefault(turn.type, TypeResult(turn.type))
            part.turns += 1
            right = answer_right(result, turn)
            part.right += right
            part.right_or_alternative += answer_or_alternative_right(result, turn)
            if turn.must_contain is not None:
                part.answerable += 1
                part.answered += bool(result["found"])
                part.top_passage_right += top_passage_right(result, turn)
                part.gold_in_passages += gold_in_passages(result, turn)
            if not right:
                outcome.wrong.append({"conversation": conversation.id, "turn": number, "type": turn.type,
                                      "question": turn.question, "read_as": result.get("resolved_question"),
                                      "context": result.get("context"),
                                      "answer": (result.get("answer") or {}).get("text")})
            history.append(history_turn(turn.question, result))
    return outcome


def format_conversation_table(outcome: ConversationResult) -> str:
    """Per turn type: answer right, answer or an alternative right, top passage right, gold in the first
    passages, answered."""
    rows = [["turns", "n", "answer sentence right", "or an alternative", "top passage right",
             f"gold in {GOLD_PASSAGES} passages", "answered"]]

    def ratio(count: int, total: int) -> str:
        return f"{count / total:.2f}" if total else "–"

    def row(part: TypeResult) -> list[str]:
        return [part.type, str(part.turns), f"{part.right / part.turns:.2f} ({part.right})" if part.turns else "–",
                ratio(part.right_or_alternative, part.turns), ratio(part.top_passage_right, part.answerable),
                ratio(part.gold_in_passages, part.answerable), ratio(part.answered, part.answerable)]

    for kind in TURN_TYPES:
        if kind in outcome.by_type:
            rows.append(row(outcome.by_type[kind]))
    rows.extend(row(outcome.combined(name, types)) for name, types in COMBINED)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    times = []
    for label, values in (("openers", outcome.opener_ms), ("follow-ups", outcome.follow_up_ms)):
        if values:
            times.append(f"{label} median {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms")
    return "\n".join(lines) + ("\n\n" + "; ".join(times) if times else "")
