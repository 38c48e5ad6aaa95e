"""`qa-service eval`: question files, the metrics, the table, and a tiny real run over two squad-dev articles."""

import json

import pytest
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.config import Config
from qa_service.evaluation.questions import (
    EvalQuestion,
    ModeResult,
    answer_contains_gold,
    evaluate_mode,
    format_table,
    gold_rank,
    load_questions,
)
from qa_service.service import QAService, Question

from ..fixtures import SEED_CORPUS, SEED_ID, SHARED_DATA, needs_shared_data

SQUAD = SHARED_DATA / "squad-dev"
SQUAD_ARTICLES = ("construction.txt", "jacksonville-florida.txt")
needs_squad = needs_shared_data("squad-dev")


def write_questions(path, items):
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def test_load_questions_reads_the_shared_layout_and_spreads_a_limit(tmp_path):
    items = [{"id": f"q{i}", "question": f" Question {i}? ", "answers": ["a"], "article": "My Article.txt",
              "paragraph": i + 1, "is_impossible": i == 9} for i in range(10)]
    path = write_questions(tmp_path / "q.jsonl", items)
    questions = load_questions(path)
    assert len(questions) == 10
    first = questions[0]
    assert (first.question, first.article_id, first.paragraph) == ("Question 0?", "my-article", 1)
    assert first.answers == ("a",)
    assert questions[9].impossible and not first.impossible
    assert [q.id for q in load_questions(path, limit=3)] == ["q0", "q3", "q6"]
    assert len(load_questions(path, limit=50)) == 10


def test_load_questions_reads_the_editorial_layout(tmp_path):
    items = [{"id": "dev-1", "question": "What did Pompeo warn about?", "file": "Seed Story.txt", "paragraph": 2,
              "must_contain": "open warning against Seoul", "answer": "...", "type": "opinion"},
             {"id": "dev-2", "question": "Did Pompeo visit Tokyo?", "file": None, "paragraph": None,
              "must_contain": None, "answer": None, "type": "unanswerable"}]
    answerable, unanswerable = load_questions(write_questions(tmp_path / "q.jsonl", items))
    assert (answerable.article_id, answerable.paragraph, answerable.must_contain) == \
        ("seed-story", 2, "open warning against Seoul")
    assert not answerable.impossible and unanswerable.impossible and unanswerable.must_contain is None


def test_the_gold_phrase_decides_rank_and_answer():
    question = EvalQuestion("Q?", must_contain="open warning  against Seoul’s independent")
    phrase_passage = {"rank": 2, "text": "Pompeo’s open warning against\nSeoul’s independent arguments suggests rifts.",
                      "citation": {"article_id": "x", "paragraph": 9}}
    other = {"rank": 1, "text": "Pompeo’s remarks were tough.", "citation": {"article_id": "x", "paragraph": 2}}
    result = {"passages": [other, phrase_passage], "answer": {"text": phrase_passage["text"]}}
    assert gold_rank(result, question) == 2
    assert answer_contains_gold(result, question), "the sentence holds the phrase"
    assert answer_contains_gold({**result, "answer": {"text": "open warning against"}}, question), "inside the phrase"
    assert not answer_contains_gold({**result, "answer": {"text": "Pompeo’s remarks were tough."}}, question)
    assert not answer_contains_gold({**result, "answer": {"text": "OPEN WARNING against Seoul’s independent"}},
                                    question), "the phrase is matched as written, spacing aside"


def test_a_malformed_question_line_names_the_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok"}\n\n{"no question": 1}\n')
    with pytest.raises(ValueError, match=r"q.jsonl:3"):
        load_questions(path)


def passage(rank, article_id, paragraph):
    return {"rank": rank, "citation": {"article_id": article_id, "paragraph": paragraph}}


def test_gold_rank_and_answer_matching():
    question = EvalQuestion("Q?", answers=("Kang Kyung-wha", "the minister"), article_id="a", paragraph=3)
    result = {"passages": [passage(1, "a", 2), passage(2, "b", 3), passage(3, "a", 3), passage(4, "a", 3)],
              "answer": {"text": "Pompeo telephoned  KANG Kyung-wha to complain."}}
    assert gold_rank(result, question) == 3
    assert answer_contains_gold(result, question)
    assert not answer_contains_gold({**result, "answer": {"text": "Pompeo telephoned Kang."}}, question)
    assert not answer_contains_gold({**result, "answer": None}, question)
    assert gold_rank({"passages": []}, question) is None


def test_the_table_has_a_row_per_mode_and_only_measured_columns():
    rows = [ModeResult("dense", questions=10, recall_at_1=0.5, median_ms=3.0, p95_ms=9.25),
            ModeResult("hybrid", questions=10, recall_at_1=0.75, median_ms=4.0, p95_ms=8.0)]
    lines = format_table(rows).splitlines()
    assert len(lines) == 4
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["mode", "R@1", "median ms", "p95 ms"]
    assert [c.strip() for c in lines[3].strip("|").split("|")] == ["hybrid", "0.750", "4.0", "8.0"]


def test_evaluate_mode_over_the_sample_editorials(tmp_path, service):
    questions = [
        EvalQuestion("Who did Pompeo telephone to complain?", ("Kang Kyung-wha",), SEED_ID, 3),
        EvalQuestion("What did Pompeo warn about?", ("no such answer string",), SEED_ID, 2),
        EvalQuestion("Did Pompeo visit Tokyo?", (), SEED_ID, 1, impossible=True),
    ]
    foreign = [EvalQuestion("Which NFL team represented the AFC at Super Bowl 50?"),
               EvalQuestion("What is the atomic number of oxygen?")]
    result = evaluate_mode(service, questions, "hybrid", foreign_service=service, foreign_questions=foreign)
    expected_ranks = [gold_rank(service.ask(Question(q.question, top_k=20)), q) for q in questions[:2]]
    assert result.questions == 2 and result.impossible == 1 and result.foreign == 2
    assert result.recall_at_1 == sum(r == 1 for r in expected_ranks if r) / 2
    assert result.mrr_at_10 == pytest.approx(sum(1 / r for r in expected_ranks if r and r <= 10) / 2, abs=1e-4)
    assert result.answer_contains_gold == 0.5, "only the first question has its gold string in the answer"
    assert result.foreign_declined == 1.0
    assert len(result.times_ms) == 5 and result.median_ms > 0


@needs_squad
def test_eval_command_on_two_squad_articles(tmp_path, monkeypatch, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SQUAD_ARTICLES:
        (corpus / name).write_text((SQUAD / "corpus" / name).read_text())
    with open(SQUAD / "questions.jsonl") as handle:
        items = [item for item in map(json.loads, handle) if item["article"] in SQUAD_ARTICLES]
    path = write_questions(tmp_path / "questions.jsonl", items)
    monkeypatch.setattr("qa_service.index.embedder.Embedder", lambda *args, **kwargs: embedder)
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    args = ["eval", "--corpus", str(corpus), "--questions", str(path), "--limit", "12", "--index", str(tmp_path / "i"),
            "--mode", "dense", "--mode", "lexical", "--mode", "hybrid", "--foreign-corpus", str(SEED_CORPUS), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_mode = {r["mode"]: r for r in report["results"]}
    assert list(by_mode) == ["dense", "lexical", "hybrid"]
    for row in by_mode.values():
        assert row["questions"] == 12 and row["foreign"] == 12
        assert 0 <= row["recall_at_1"] <= row["recall_at_5"] <= row["recall_at_20"] <= 1
        assert 0 <= row["foreign_declined"] <= 1 and row["p95_ms"] >= row["median_ms"] > 0

    # The same figures, recomputed question by question through QAService.ask on the index eval kept.
    service = QAService(Config(index_dir=tmp_path / "i"), embedder=embedder)
    chosen = load_questions(path, limit=12)
    ranks = [gold_rank(service.ask(Question(q.question, top_k=20, mode="hybrid")), q) for q in chosen]
    assert by_mode["hybrid"]["recall_at_5"] == round(sum(1 for r in ranks if r and r <= 5) / 12, 4)

    table = CliRunner().invoke(main, [a for a in args if a != "--json"] + ["--quiet"])
    assert table.exit_code == 0, table.output
    assert "| mode" in table.output and "| hybrid" in table.output and "foreign declined" in table.output


def test_eval_needs_some_questions(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--corpus", str(tmp_path)])
    assert result.exit_code == 1 and "--questions" in result.output


def test_eval_command_on_questions_in_the_editorial_layout(tmp_path, monkeypatch, embedder, built_index):
    corpus, index = built_index
    items = [
        {"id": "e1", "question": "Who did Pompeo telephone to complain?", "file": f"{SEED_ID}.txt", "paragraph": 3,
         "must_contain": "telephoned South Korean Foreign Minister Kang Kyung-wha", "type": "person"},
        {"id": "e2", "question": "Who won the 2015 UK general election?", "file": None, "paragraph": None,
         "must_contain": None, "type": "unanswerable"},
    ]
    path = write_questions(tmp_path / "questions.jsonl", items)
    monkeypatch.setattr("qa_service.index.embedder.Embedder", lambda *args, **kwargs: embedder)
    result = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--questions", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    header = [c.strip() for c in result.output.splitlines()[0].strip("|").split("|")]
    row = dict(zip(header, (c.strip() for c in result.output.splitlines()[2].strip("|").split("|")), strict=True))
    service = QAService(Config(index_dir=index), embedder=embedder)
    answered = service.ask(Question(items[0]["question"], top_k=20))
    declined = not service.ask(Question(items[1]["question"], top_k=20))["found"]
    right = answer_contains_gold(answered, load_questions(path)[0])
    assert row["answer has gold"] == f"{float(right):.3f}"
    assert row["unanswerable declined"] == f"{float(declined):.3f} ({int(declined)}/1)"
