"""`qa-service eval --topics`: the scorer on hand-made answers, and the figures on the shared topics."""

import json

import pytest
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.evaluation.topics import Topic, hits_key, load_topics, score_topic

from ..fixtures import SHARED_DATA, TRAM_ID, needs_shared_data

KEY = "The council should mend the tracks before it restores the timetable."
TOPIC = Topic(id="t", question="Editorials on trams", relevant=("a", "b", "c"), passing=("p",),
              key={"a": KEY, "b": "Trams are safe.", "c": "Buses are worse than trams in every way that counts."})


@pytest.mark.parametrize(("shown", "hit"), [
    (KEY, True),
    (f"It is clear.  {KEY}  And more.", True),  # holds the key
    ("The   council should mend the tracks before it restores", True),  # 8+ words inside the key
    ("should mend the tracks before it restores", False),  # 7 words: too short to count
    ("The council should mend the roads before it restores the timetable.", False),
    ("", False),
])
def test_hits_key_follows_the_readme_rule(shown, hit):
    assert hits_key(shown, KEY) is hit


def test_score_topic_counts_recall_precision_and_key_hits():
    listed = [("a", KEY), ("x", "unrelated"), ("p", "passing"), ("a", "a duplicate"), ("b", "Not the key at all.")]
    score = score_topic(TOPIC, listed)
    assert score.recall == round(2 / 3, 4)  # a and b of a, b, c
    assert score.precision == round(3 / 4, 4)  # a, p, b of the 4 distinct editorials a, x, p, b
    assert score.key_hits == round(1 / 3, 4)  # only a shows its key


def test_score_topic_takes_the_first_ten_distinct_and_caps_the_denominator():
    many = Topic(id="m", question="q", relevant=tuple(f"r{i}" for i in range(12)), passing=(),
                 key={f"r{i}": f"key sentence number {i}" for i in range(12)})
    listed = [(f"r{i}", f"key sentence number {i}") for i in range(12)]
    score = score_topic(many, listed)
    assert (score.recall, score.precision, score.key_hits) == (1.0, 1.0, 1.0)


def test_an_empty_answer_has_precision_zero():
    assert score_topic(TOPIC, []) == score_topic(TOPIC, []).__class__("t", 0.0, 0.0, 0.0)


def test_load_topics_names_a_bad_line(tmp_path):
    path = tmp_path / "topics.jsonl"
    path.write_text('{"id": "t", "question": "q", "relevant": ["a.txt"], "key": {"a.txt": "k"}}\n{"id": 2}\n')
    with pytest.raises(ValueError, match=r"topics.jsonl:2"):
        load_topics(path)


def test_eval_topics_prints_the_figures(tmp_path, built_index, monkeypatch, embedder):
    corpus, index = built_index
    monkeypatch.setattr("qa_service.index.embedder.Embedder", lambda *args, **kwargs: embedder)
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    topics = tmp_path / "topics.jsonl"
    topics.write_text(json.dumps({
        "id": "tram", "question": "What has the paper said about the Kessling tram derailment?",
        "relevant": [f"{TRAM_ID}.txt"], "passing": [], "key": {f"{TRAM_ID}.txt": "not in the editorial"},
    }) + "\n")
    result = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--index", str(index), "--topics",
                                       str(topics), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)["topics"]
    assert figures["topics"] == 1 and figures["recall_at_10"] == 1.0 and figures["key_sentence_hits"] == 0.0


def test_eval_topics_with_an_unreadable_file_is_one_line(tmp_path, built_index):
    corpus, index = built_index
    result = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--index", str(index),
                                       "--topics", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 1 and "Error: cannot read topics" in result.output


@needs_shared_data("editorial-topics")
def test_the_shared_topics_load_and_name_real_editorials():
    topics = load_topics(SHARED_DATA / "editorial-topics" / "topics.jsonl")
    assert len(topics) == 12
    names = {p.stem for p in (SHARED_DATA / "editorials").glob("*.txt")}
    for topic in topics:
        assert len(topic.relevant) >= 3 and set(topic.key) == set(topic.relevant)
        assert set(topic.relevant) | set(topic.passing) <= names


@needs_shared_data("editorial-topics")
@needs_shared_data("editorials")
def test_the_overview_finds_the_shared_topics_editorials(tmp_path, embedder):
    """Four dev topics over their editorials and 40 others (a real index; the whole set is `make eval`'s).
    topic-03's include one that writes "ISIL" seventeen times and never "Islamic State" (acronyms.py)."""
    from qa_service.config import Config
    from qa_service.evaluation.topics import evaluate_topics
    from qa_service.index.generation.build import build_index
    from qa_service.service import QAService

    chosen = [t for t in load_topics(SHARED_DATA / "editorial-topics" / "topics.jsonl")
              if t.id in ("topic-03", "topic-08", "topic-09", "topic-12")]
    files = sorted((SHARED_DATA / "editorials").glob("*.txt"))
    wanted = {a for t in chosen for a in (*t.relevant, *t.passing)}
    others = [p for p in files if p.stem not in wanted][::6][:40]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in [p for p in files if p.stem in wanted] + others:
        (corpus / path.name).write_bytes(path.read_bytes())
    build_index(corpus, tmp_path / "index", embedder)
    service = QAService(Config(index_dir=tmp_path / "index"), embedder=embedder)
    result = evaluate_topics(service, chosen)
    figures = result.to_dict()
    assert figures["recall_at_10"] >= 0.85 and figures["precision"] >= 0.85, figures  # (here: 0.85, 0.95)
    assert figures["key_sentence_hits"] > 0, figures
    listed = {e["article_id"] for e in service.overview(chosen[0].question)["editorials"]}
    assert "aljazeera-159-mosulcitydeathrow" in listed
