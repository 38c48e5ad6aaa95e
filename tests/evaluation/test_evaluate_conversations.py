"""`qa-service eval --conversations`: turns asked in order with the service's own answers as history."""

import json

from click.testing import CliRunner

from qa_service.cli import main
from qa_service.evaluation.conversations import (
    ConversationTurn,
    answer_or_alternative_right,
    answer_right,
    evaluate_conversations,
    format_conversation_table,
    load_conversations,
)
from qa_service.reading.fitted import FOLLOW_UP, load_scorer
from qa_service.reading.sentence_features import FEATURES
from qa_service.service import QAService

from ..fixtures import SHARED_DATA, TRAM_ID, WATER_ID, needs_shared_data, write_scorer

TRAM_TALK = {"id": "tram", "turns": [
    {"question": "Where did the Kessling tram derailment happen?", "file": f"{TRAM_ID}.txt", "paragraph": 1,
     "must_contain": "on the curve beside the Mill Street bridge", "type": "opener"},
    {"question": "How did the mayor respond?", "file": f"{TRAM_ID}.txt", "paragraph": 5,
     "must_contain": "he closed the river line", "type": "reference"},
    {"question": "Which airline did he fly?", "file": None, "paragraph": None, "must_contain": None,
     "type": "unanswerable"},
]}
WATER_TALK = {"id": "water", "turns": [
    {"question": "What does the Arlen Valley Water Board want to build?", "file": f"{WATER_ID}.txt", "paragraph": 1,
     "must_contain": "build a reservoir at Hollin Gap", "type": "opener"},
    {"question": "Who is its president?", "file": f"{WATER_ID}.txt", "paragraph": 4,
     "must_contain": "Margit Solberg, president of the Arlen Valley Water Board", "type": "pronoun"},
]}


def write_conversations(path, items):
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def test_an_answer_is_right_when_it_holds_the_span_or_lies_inside_it():
    turn = ConversationTurn("q", "pronoun", "the sole  owner of the bank, Roman Popov")
    assert answer_right({"answer": {"text": "Through this, the sole owner of the bank, Roman Popov, was seen."}}, turn)
    assert answer_right({"answer": {"text": "owner of the bank, Roman Popov"}}, turn), "inside, over 20 characters"
    assert not answer_right({"answer": {"text": "Roman Popov"}}, turn), "inside but too short to count"
    assert not answer_right({"answer": None}, turn)
    unanswerable = ConversationTurn("q", "unanswerable", None)
    assert answer_right({"answer": None}, unanswerable)
    assert not answer_right({"answer": {"text": "Anything at all."}}, unanswerable)


def test_conversations_over_the_test_articles(tmp_path, service):
    conversations = load_conversations(write_conversations(tmp_path / "c.jsonl", [TRAM_TALK, WATER_TALK]))
    outcome = evaluate_conversations(service, conversations)
    assert outcome.by_type["opener"].turns == 2
    assert outcome.by_type["reference"].right == 1, outcome.wrong
    assert outcome.by_type["pronoun"].right == 1, outcome.wrong
    assert outcome.by_type["reference"].gold_in_passages == 1 and outcome.by_type["pronoun"].gold_in_passages == 1
    table = format_conversation_table(outcome)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("|")}
    assert set(rows) >= {"opener", "pronoun", "reference", "unanswerable", "pronoun, reference, ellipsis",
                         "topic-switch, unanswerable", "all follow-ups", "all turns"}
    assert "1.00 (2)" in rows["pronoun, reference, ellipsis"]


def test_an_unanswerable_turn_is_right_when_declined(tmp_path, service):
    declining = load_scorer(write_scorer(tmp_path, decline_below=1e9), FOLLOW_UP, FEATURES)
    strict = QAService(service.config, embedder=service.embedder, follow_up_scorer=declining)
    outcome = evaluate_conversations(strict, load_conversations(write_conversations(tmp_path / "c.jsonl", [TRAM_TALK])))
    assert outcome.by_type["unanswerable"].right == 1 and outcome.by_type["reference"].right == 0


def test_an_alternative_holding_the_gold_counts_beside_the_answer():
    turn = ConversationTurn("q", "pronoun", "he closed the river line")
    result = {"answer": {"text": "The mayor spoke."}, "alternatives": [{"text": "Then he closed the river line."}]}
    assert not answer_right(result, turn) and answer_or_alternative_right(result, turn)
    assert not answer_or_alternative_right({"answer": None, "alternatives": []}, turn)


def test_eval_command_prints_the_conversation_table(tmp_path, monkeypatch, embedder, built_index):
    corpus, _ = built_index
    path = write_conversations(tmp_path / "c.jsonl", [TRAM_TALK])
    monkeypatch.setattr("qa_service.index.embedder.Embedder", lambda *args, **kwargs: embedder)
    result = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--conversations", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "| all follow-ups" in result.output and "1 conversations (3 turns)" in result.output
    as_json = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--conversations", str(path), "--quiet",
                                        "--json"])
    [report] = json.loads(as_json.output)["conversations"]
    by_type = {row["type"]: row for row in report["by_type"]}
    assert by_type["all turns"]["turns"] == 3 and report["file"] == str(path) and report["fitted_on"]


def test_a_malformed_conversation_is_a_one_line_error(tmp_path, built_index):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "x", "turns": "not a list of turns"}\n')
    result = CliRunner().invoke(main, ["eval", "--corpus", str(built_index[0]), "--conversations", str(path)])
    assert result.exit_code == 1 and "c.jsonl:1" in result.output


@needs_shared_data("editorial-conversations")
def test_the_shared_conversations_load_with_their_turn_types():
    conversations = load_conversations(SHARED_DATA / "editorial-conversations" / "conversations.jsonl")
    assert len(conversations) == 20
    assert {t.type for c in conversations for t in c.turns} == {
        "opener", "pronoun", "ellipsis", "reference", "topic-switch", "unanswerable"}
