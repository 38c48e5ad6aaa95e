"""Follow-up questions: resolved against the conversation; questions that stand alone are left alone."""

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.reading.fitted import FOLLOW_UP, load_scorer
from qa_service.reading.followup import MAX_CAPITALISED_RUNS, Turn, names, needs_context, read, retrieval_query
from qa_service.reading.sentence_features import FEATURES
from qa_service.service import QAService, Question, history_turn
from qa_service.serving.web import create_app

from ..fixtures import FISHERY_ID, SEED_CORPUS, SEED_ID, TRAM_ID, WATER_ID, linear, write_scorer


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


def turns(*pairs):
    return tuple(Turn(q, a) for q, a in pairs)


def test_resolution_carries_the_previous_names_and_chains():
    history = turns(("What did Pompeo warn about?", "Pompeo’s remarks were tough."))
    assert retrieval_query("Who did he call to complain?", history) == "Who did he call to complain? (Pompeo)"
    chained = (*history, Turn("Who did he call to complain?", "Pompeo telephoned Kang Kyung-wha."))
    assert read("Why did he do that?", chained).context == "Pompeo"
    # No names in the previous question: those of its answer; else its content words.
    assert read("Where is it?", turns(("Which country sued?", "The Marshall Islands did."))).context \
        == "Marshall Islands"
    assert read("Why?", turns(("which country sued the nuclear powers", ""))).context \
        == "country, sued, nuclear, powers"


def test_a_person_pronoun_is_read_as_the_person_named_most_recently():
    pompeo = turns(("What did Pompeo warn about?", "Pompeo’s remarks were tough."))
    assert read("Who did he call?", pompeo).pronouns == (("he", "Pompeo"),)
    # A title or a first name marks a person; the previous answer is read before the previous question.
    taylor = turns(("What did PFA chief Gordon Taylor compare the Ched Evans case to?",
                    "It was football’s version of Godwin’s law."))
    assert read("How much is he paid?", taylor).pronouns == (("he", "Gordon Taylor"),)
    assert read("What did she say?", turns(("Who runs the board?", "Its president is Margit Solberg."))).pronouns \
        == (("she", "Margit Solberg"),)
    jonathan = turns(("How many senators plot against President Jonathan?", "About 65 Senators are involved."))
    assert read("What are they accusing him of?", jonathan).pronouns == (("him", "Jonathan"),)
    # The owner, not the thing owned; organisations and sentence openings are not people.
    assert read("How did he answer?", turns(("Why did Ridley Scott's Exodus face accusations?", ""))).pronouns \
        == (("he", "Ridley Scott"),)
    council = turns(("What did the UN Security Council demand?", "Instead, the Security Council voted."))
    assert read("What did he say?", council).pronouns == ()
    assert read("How close did it come to passing?", council).pronouns == (), "only people's pronouns are read"


@pytest.mark.parametrize(("question", "leans"), [
    ("Why now?", True),  # ellipsis
    ("And in Italy?", True),
    ("What about government spending?", True),
    ("What are they accusing him of?", True),  # pronouns
    ("Is the writer happy about that?", True),  # a reference to the previous answer
    ("Who said that?", True),
    ("Which US states bid for Tesla's new battery factory?", False),  # stands alone
])
def test_which_questions_lean_on_the_previous_turn(question, leans):
    history = turns(("What did Pompeo warn about?", "Pompeo’s remarks were tough."))
    reading = read(question, history)
    assert reading.leans is leans
    assert reading.previous == history[-1], "a question that stands alone still knows the turn before it"


def test_answers_already_shown_from_the_editorial_under_discussion_are_remembered():
    history = (Turn("Q1", "First answer.", "a", 2), Turn("Q2", "Elsewhere.", "b", 1), Turn("Q3", "Third.", "a", 4))
    reading = read("And then?", history)
    assert reading.previous == history[-1]
    assert reading.shown == ("First answer.", "Third.")


def converse(client, questions, with_sources=True):
    """Ask the questions in order as the chat page does (each earlier question, its answer and its source)."""
    history, replies = [], []
    for question in questions:
        data = client.post("/api/ask", json={"question": question, "history": history}).get_json()
        replies.append(data)
        turn = {"question": question, "answer": (data["answer"] or {}).get("text")}
        if with_sources and data["answer"]:
            cited = data["passages"][data["answer"]["passage"] - 1]["citation"]
            turn.update(article_id=cited["article_id"], paragraph=cited["paragraph"])
        history.append(turn)
    return replies


def top_citation(data):
    citation = data["passages"][0]["citation"]
    return citation["article_id"], citation["paragraph"]


def test_the_readme_follow_up_over_the_seed(client):
    """The fitted scorer (qa_service/reading/scorers/, `make fit`) ranks the README's known case first."""
    first, second = converse(client, ["What did Pompeo warn about?", "Who did he call to complain?"])
    assert top_citation(first)[0] == SEED_ID
    assert "context" not in first, "the first question of a conversation has nothing to be read against"
    assert second["context"]["article_id"] == SEED_ID
    assert second["context"]["pronouns"] == [{"word": "he", "as": "Pompeo"}]
    assert top_citation(second) == (SEED_ID, 3)
    assert "Kang Kyung-wha" in second["answer"]["text"]


@pytest.fixture(scope="module")
def seed_only(tmp_path_factory, embedder):
    """A service over the seed corpus alone (`corpus/`, what `make run` serves on a fresh clone)."""
    root = tmp_path_factory.mktemp("seed-only")
    build_index(SEED_CORPUS, root / "index", embedder)
    return QAService(Config(corpus_dir=SEED_CORPUS, index_dir=root / "index"), embedder=embedder)


def test_the_readme_follow_up_over_the_seed_corpus_alone(seed_only):
    first = seed_only.ask(Question("What did Pompeo warn about?"))
    second = seed_only.ask(Question("Who did he call to complain?",
                                    history=(history_turn("What did Pompeo warn about?", first),)))
    assert second["context"]["pronouns"] == [{"word": "he", "as": "Pompeo"}]
    assert "Pompeo telephoned South Korean Foreign Minister Kang Kyung-wha" in second["answer"]["text"]


def test_clients_that_send_only_questions_and_answers_still_get_follow_ups(client):
    _, second = converse(client, ["What did Pompeo warn about?", "Who did he call to complain?"], with_sources=False)
    assert second["resolved_question"] == "Who did he call to complain? (Pompeo)"
    assert second["context"]["article_id"] == SEED_ID, "the answer sent back names its editorial (issue 27, 4)"
    assert "Kang Kyung-wha" in second["answer"]["text"]


def test_follow_ups_are_answered_in_the_editorial_under_discussion(client):
    _, president = converse(client, ["What does the Arlen Valley Water Board want to build?", "Who is its president?"])
    assert president["context"]["article_id"] == WATER_ID
    assert {p["citation"]["article_id"] for p in president["passages"]} == {WATER_ID}
    assert "Margit Solberg" in president["answer"]["text"]
    _, mayor = converse(client, ["Where did the Kessling tram derailment happen?", "How did the mayor respond?"])
    assert top_citation(mayor) == (TRAM_ID, 5)
    assert "Hallam" in mayor["answer"]["text"]


def test_a_three_turn_conversation_reads_her_as_the_person_named(client):
    replies = converse(client, ["Who speaks for the Kessling tram drivers?", "What did she say about the curves?",
                                "How many complaints did her members log?"])
    assert "Lena Okafor" in replies[0]["answer"]["text"]
    assert replies[2]["context"]["pronouns"] == [{"word": "her", "as": "Lena Okafor"}]
    assert "63 complaints" in replies[2]["answer"]["text"]


def test_a_follow_up_the_editorial_does_not_answer_is_declined_as_such(service, tmp_path):
    """Declined as not in that editorial, not answered from elsewhere (the threshold is the fitted scorer's)."""
    declining = load_scorer(write_scorer(tmp_path, decline_below=1e9), FOLLOW_UP, FEATURES)
    strict = QAService(service.config, embedder=service.embedder, follow_up_scorer=declining)
    client = create_app(strict.config, service=strict).test_client()
    _, declined = converse(client, ["Where did the Kessling tram derailment happen?", "Which airline did he fly?"])
    assert declined["found"] is False
    assert declined["context"]["article_id"] == TRAM_ID
    assert "couldn't find" in declined["context"]["reason"]


def test_a_change_of_subject_is_not_dragged_back(client):
    alone = client.post("/api/ask", json={"question": "What changed in relations between Grimsvik and Port Aird?"})
    _, changed = converse(client, ["What did Pompeo warn about?",
                                   "What changed in relations between Grimsvik and Port Aird?"])
    assert "resolved_question" not in changed
    assert changed["context"]["article_id"] is None, "it names places the seed editorial never mentions"
    assert top_citation(changed)[0] == FISHERY_ID
    assert [p["citation"] for p in changed["passages"]] == [p["citation"] for p in alone.get_json()["passages"]]


HOSTILE_QUESTION = ("he " + "M," * 1000)[:1000]  # a pronoun, then a thousand capitalised tokens
HOSTILE_ANSWER = ("M," * 2000)[:2000]


def hostile_history(turns: int) -> tuple[Turn, ...]:
    return tuple(Turn(HOSTILE_QUESTION, HOSTILE_ANSWER, "some-article", 1) for _ in range(turns))


def test_reading_a_hostile_history_grows_with_its_size_not_its_square():
    """Issue 26, 1: ten turns of capitalised-token runs cost 25 s of CPU, 91 times one turn (a name's title was
    looked for in all the text before it, and each earlier turn was read again for every later one)."""
    assert linear(lambda history: read(HOSTILE_QUESTION, history), hostile_history, n=1)


def test_the_names_read_from_one_text_are_bounded():
    many = "and " + ", ".join(f"Name{i} said" for i in range(1000))
    found = names(many)
    assert len(found) == MAX_CAPITALISED_RUNS and found[0] == "Name0"


def test_a_question_sharing_no_word_with_the_editorial_is_not_answered_from_it(client):
    _, unrelated = converse(client, ["What did Pompeo warn about?", "How do I bake sourdough bread at home?"])
    assert unrelated["found"] is False and unrelated["context"]["article_id"] is None
