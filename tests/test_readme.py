"""The README's examples run as written (issue 26, item 15): the files they name exist, the commands are spelt one
way, and the first /api/ask example shows what the seed corpus answers."""

from __future__ import annotations

import re

from qa_service.config import PROJECT_ROOT, Config
from qa_service.index.generation.build import build_index
from qa_service.service import QAService, Question

from .fixtures import SEED_CORPUS

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
CODE_BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M)


def shell_examples() -> str:
    """Every line of the README's shell and console blocks (not its JSON)."""
    return "\n".join(body for language, body in CODE_BLOCKS if language in ("sh", ""))


def test_the_files_the_examples_name_exist():
    named = re.findall(r"file=@(\S+)", shell_examples()) + re.findall(r"qa-service import (\S+)", shell_examples())
    assert len(named) >= 4
    assert [name for name in named if not (PROJECT_ROOT / name).is_file()] == []


def test_the_examples_run_the_command_from_the_virtual_environment():
    inline = re.findall(r"`([^`\n]*\| *qa-service[^`\n]*)`", README)  # a command piped into it, in the text
    bare = [line for line in shell_examples().splitlines() + inline
            if re.search(r"(?<![\w./-])qa-service(?![\w-])", line)]
    assert bare == []


def test_the_first_screen_says_how_long_make_test_takes_and_how_to_serve_another_folder():
    first_screen = README.split("\n## ", 2)[1]
    assert re.search(r"make test .*\d+ min", first_screen)
    assert "make run CORPUS=" in first_screen and "make index CORPUS=" in first_screen


def test_the_first_ask_example_is_what_the_seed_corpus_answers(tmp_path, embedder):
    example = README.split("-d '{\"question\": \"What did Pompeo warn about?\", \"top_k\": 5}'", 1)[1]
    shown = re.search(r'"answer": \{"text": "([^"]+)",\s*"passage": (\d+), "start": (\d+), "end": (\d+)\}', example)
    assert shown, "the first /api/ask example shows an answer with its passage and offsets"
    first_citation = re.search(r'"paragraph": (\d+)', example)
    assert first_citation
    build_index(SEED_CORPUS, tmp_path / "index", embedder)
    service = QAService(Config(corpus_dir=SEED_CORPUS, index_dir=tmp_path / "index"), embedder=embedder)
    result = service.ask(Question("What did Pompeo warn about?", top_k=5))
    answer = result["answer"]
    assert (answer["text"], answer["passage"], answer["start"], answer["end"]) == \
        (shown[1], int(shown[2]), int(shown[3]), int(shown[4]))
    assert result["passages"][0]["citation"]["paragraph"] == int(first_citation[1])
    assert f'"index_version": "{result["index_version"]}"' in example.split("```", 3)[2]
