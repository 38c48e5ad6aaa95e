"""Follow-up questions: resolved against the conversation; questions that stand alone are left alone."""

import pytest

from qa_service.followup import names, needs_context, resolve, retrieval_query

from .fixtures import FISHERY_ID, SEED_ID, TRAM_ID, WATER_ID


@pytest.mark.parametrize("question", [
    "Who did he call to complain?",
    "Who is its president?",
    "What did they agree on?",
    "Why?",
    "And Iran?",
    "What about the railway project?",
    "How did the prime minister respond?",
])
def test_questions_that_lean_on_the_conversation(question):
    assert needs_context(question)


@pytest.mark.parametrize("question", [
    "What did Pompeo warn about?",
    "What changed in relations between the United States and Cuba?",
    "Why did Sony drop its comedy about Kim Jong-un before Christmas?",
    "How did Prime Minister Tony Abbott respond?",
    "Who took hostages in the Sydney cafe siege?",
])
def test_questions_that_stand_alone(question):
    assert not needs_context(question)


def test_names_are_capitalised_runs_without_question_words():
    assert names("What did Pompeo warn about?") == ["Pompeo"]
    assert names("Why did the Marshall Islands sue the nuclear powers?") == ["Marshall Islands"]
    assert names("Who met Kang Kyung-wha in Seoul?") == ["Kang Kyung-wha", "Seoul"]
    assert names("Who did he call?") == []


def test_resolution_carries_the_previous_names_and_chains():
    history = (("What did Pompeo warn about?", "Pompeo’s remarks were tough."),)
    assert retrieval_query("Who did he call to complain?", history) == "Who did he call to complain? (Pompeo)"
    chained = (*history, ("Who did he call to complain?", "Pompeo telephoned Kang Kyung-wha."))
    assert resolve("Why did he do that?", chained) == "Pompeo"
    # No names in the previous question: those of its answer; else its content words.
    assert resolve("Where is it?", (("Which country sued?", "The Marshall Islands did."),)) == "Marshall Islands"
    assert resolve("Why?", (("which country sued the nuclear powers", ""),)) == "country, sued, nuclear, powers"


def test_standalone_questions_and_empty_history_are_untouched():
    history = (("What did Pompeo warn about?", "Pompeo’s remarks were tough."),)
    assert retrieval_query("What changed between the United States and Cuba?", history) \
        == "What changed between the United States and Cuba?"
    assert retrieval_query("Who did he call?", ()) == "Who did he call?"
    assert retrieval_query("Who did he call?", (("", ""),)) == "Who did he call?"
    assert resolve("Who did he meet in Seoul?", (("Was Seoul there?", ""),)) == "", "nothing new to carry over"


def converse(client, turns):
    """Ask the turns in order as the chat page does (history of earlier questions and answers); the replies."""
    history, replies = [], []
    for question in turns:
        data = client.post("/api/ask", json={"question": question, "history": history}).get_json()
        replies.append(data)
        history.append({"question": question, "answer": (data["answer"] or {}).get("text")})
    return replies


def top_citation(data):
    citation = data["passages"][0]["citation"]
    return citation["article_id"], citation["paragraph"]


def test_pompeo_conversation_over_the_seed(client):
    first, second = converse(client, ["What did Pompeo warn about?", "Who did he call to complain?"])
    assert top_citation(first)[0] == SEED_ID
    assert second["resolved_question"] == "Who did he call to complain? (Pompeo)"
    assert top_citation(second) == (SEED_ID, 3)
    assert "Kang Kyung-wha" in second["answer"]["text"]


def test_conversations_over_the_editorials(client):
    _, president = converse(client, ["What does the Arlen Valley Water Board want to build?", "Who is its president?"])
    assert top_citation(president) == (WATER_ID, 4)
    assert "Margit Solberg" in president["answer"]["text"]
    turns = ["Where did the Kessling tram derailment happen?", "How did the mayor respond?"]
    _, response = converse(client, turns)
    assert top_citation(response) == (TRAM_ID, 5)
    assert "Hallam" in response["answer"]["text"]


def test_a_change_of_subject_is_not_dragged_back(client):
    alone = client.post("/api/ask", json={"question": "What changed in relations between Grimsvik and Port Aird?"})
    _, changed = converse(client, ["What did Pompeo warn about?",
                                   "What changed in relations between Grimsvik and Port Aird?"])
    assert "resolved_question" not in changed
    assert top_citation(changed)[0] == FISHERY_ID
    assert [p["citation"] for p in changed["passages"]] == [p["citation"] for p in alone.get_json()["passages"]]
