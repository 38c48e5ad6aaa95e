"""The `qa-service` command, run in-process through click's runner."""

import json

import pytest
from click.testing import CliRunner

from qa_service.cli import main

from .fixtures import WATER_ID


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    monkeypatch.delenv("QA_CORPUS_DIR", raising=False)
    return CliRunner()


@pytest.mark.parametrize("command", [[], ["index"], ["serve"], ["ask"], ["chat"], ["import"]])
def test_every_command_has_help(runner, command):
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_ask_prints_answer_and_cited_passages(runner, built_index):
    _, index = built_index
    result = runner.invoke(main, ["ask", "What did Pompeo warn about?", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Answer: ")
    assert "[1] U.S. warning against Seoul" in result.output and "(2018-11-22), ¶" in result.output


def test_ask_json_prints_the_api_json(runner, built_index):
    _, index = built_index
    args = ["ask", "What did Pompeo warn about?", "--index", str(index), "--json", "--top-k", "3"]
    result = runner.invoke(main, args)
    data = json.loads(result.output)
    assert len(data["passages"]) == 3 and data["passages"][0]["citation"]["date"] == "2018-11-22"


def test_ask_reads_index_from_environment(runner, built_index, monkeypatch):
    _, index = built_index
    monkeypatch.setenv("QA_INDEX_DIR", str(index))
    assert runner.invoke(main, ["ask", "Pompeo", "--json"]).exit_code == 0


def test_ask_without_index_is_a_clear_error(runner, tmp_path):
    result = runner.invoke(main, ["ask", "anything", "--index", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "Error:" in result.output and "qa-service index" in result.output
    assert "Traceback" not in result.output


def test_ask_rejects_empty_and_over_long_questions(runner, built_index):
    _, index = built_index
    assert runner.invoke(main, ["ask", "  ", "--index", str(index)]).exit_code == 1
    assert runner.invoke(main, ["ask", "x" * 1001, "--index", str(index)]).exit_code == 1
    assert runner.invoke(main, ["ask", "x", "--top-k", "0", "--index", str(index)]).exit_code == 2


def test_index_reports_what_it_did_then_up_to_date(runner, fresh_index):
    corpus, index = fresh_index
    (corpus / "new-one.txt").write_text("Fresh title\n\nA fresh paragraph about tides.\n")
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\xfa")
    result = runner.invoke(main, ["index", "--corpus", str(corpus), "--index", str(index), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "1 skipped" in result.output
    assert "Skipped broken.txt: not UTF-8" in result.output
    again = runner.invoke(main, ["index", "--corpus", str(corpus), "--index", str(index)])
    assert "up to date" in again.output


def test_index_json_report(runner, fresh_index):
    corpus, index = fresh_index
    (corpus / "a.txt").unlink(missing_ok=True)
    (corpus / f"{WATER_ID}.txt").unlink()
    result = runner.invoke(main, ["index", "--corpus", str(corpus), "--index", str(index), "--json"])
    report = json.loads(result.output)
    assert report["articles_removed"] == 1 and report["texts_embedded"] == 0 and report["seconds"] >= 0


def test_index_with_missing_corpus_is_a_clear_error(runner, tmp_path):
    result = runner.invoke(main, ["index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1 and "corpus folder not found" in result.output
