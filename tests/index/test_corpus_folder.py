"""An index folder holds one corpus folder's articles (issue 26, item 4).

A user served the 266 editorials, then put a file in corpus/ and ran `make index`: the index became that one
article, the running server with it, and getting the editorials back embedded all 4,360 texts again. Now the
manifest names the folder, a build from another one is refused unless switched to (`--switch-corpus`), and
switching back takes the vectors from the older generations the index folder keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from qa_service.changes.corpus_change import JOURNAL, change_and_rebuild
from qa_service.config import Config
from qa_service.index.generation.build import build_index, is_up_to_date
from qa_service.index.generation.layout import generations, read_current_name
from qa_service.service import QAService, Question
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder
from ..fixtures import admin_env, write_article
from .test_store import CountingEmbedder, passages_of

TOKEN = "test-admin-token-26"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def two_folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(a, b, index): folder a of three articles, indexed; folder b of one article, not."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for name in ("harbour", "bridges", "tides"):
        write_article(a, f"{name}.txt", name.title(), [f"A paragraph about {name}.", f"More about {name} here."])
    write_article(b, "mine.txt", "Mine", ["The one article a new user added."])
    index = tmp_path / "index"
    build_index(a, index, HashingEmbedder())
    return a, b, index


def manifest_of(index: Path) -> dict:
    return json.loads((index / str(read_current_name(index)) / "manifest.json").read_text())


def index_json(fake_cli, corpus: Path, index: Path, *flags: str) -> dict:
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--json", *flags)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_manifest_names_the_corpus_folder_by_its_resolved_path(tmp_path):
    a, _, index = two_folders(tmp_path)
    assert manifest_of(index)["corpus_dir"] == str(a.resolve())
    (tmp_path / "link").symlink_to(a)
    assert is_up_to_date(index, tmp_path / "link", HashingEmbedder.name, HashingEmbedder.encoder)
    assert is_up_to_date(index, a / ".." / "a", HashingEmbedder.name, HashingEmbedder.encoder)


def test_index_from_another_folder_is_refused_in_one_line_naming_both_and_the_switch(tmp_path, fake_cli):
    a, b, index = two_folders(tmp_path)
    served, kept = read_current_name(index), generations(index)
    result = fake_cli("index", "--corpus", str(b), "--index", str(index))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert f"built from {a.resolve()}, not {b.resolve()}" in lines[0] and "--switch-corpus" in lines[0]
    assert read_current_name(index) == served and generations(index) == kept
    assert {aid for aid, _, _ in passages_of(index)} == {"harbour", "bridges", "tides"}


def test_switching_and_switching_back_embeds_nothing_it_had_embedded(tmp_path, fake_cli):
    a, b, index = two_folders(tmp_path)
    there = index_json(fake_cli, b, index, "--switch-corpus")
    assert (there["articles_added"], there["articles_removed"], there["texts_embedded"]) == (1, 3, 1)
    assert manifest_of(index)["corpus_dir"] == str(b.resolve())
    assert "--switch-corpus" in fake_cli("index", "--corpus", str(a), "--index", str(index)).output
    back = index_json(fake_cli, a, index, "--switch-corpus")
    assert (back["articles_added"], back["articles_removed"], back["texts_embedded"]) == (3, 1, 0)
    assert "up to date" in fake_cli("index", "--corpus", str(a), "--index", str(index)).output


def test_switching_back_with_the_real_model_embeds_nothing_and_restores_the_same_index(fresh_index, embedder, tmp_path):
    corpus, index = fresh_index
    before_passages = passages_of(index)
    before_vectors = [np.load(index / str(read_current_name(index)) / f) for f in ("passages.npy", "sentences.npy")]
    other = tmp_path / "other"
    other.mkdir()
    write_article(other, "lighthouses.txt", "On lighthouses", ["Lighthouses guided ships along the rocky coast."])
    build_index(other, index, embedder, switch_corpus=True)
    assert {aid for aid, _, _ in passages_of(index)} == {"lighthouses"}
    counting = CountingEmbedder(embedder)
    report = build_index(corpus, index, counting, switch_corpus=True)
    assert counting.encoded == [] and report.texts_embedded == 0
    assert passages_of(index) == before_passages
    after_vectors = [np.load(index / str(read_current_name(index)) / f) for f in ("passages.npy", "sentences.npy")]
    assert all(np.array_equal(after, before) for after, before in zip(after_vectors, before_vectors, strict=True))
    service = QAService(Config(corpus_dir=corpus, index_dir=index), embedder=embedder)
    answer = service.ask(Question("What did Pompeo warn about?"))
    assert answer["passages"][0]["citation"]["article_id"].startswith("donga-")


def test_vectors_are_not_taken_from_a_damaged_older_generation(tmp_path, fake_cli):
    a, b, index = two_folders(tmp_path)
    index_json(fake_cli, b, index, "--switch-corpus")
    older = index / "gen-000001" / "passages.npy"
    damaged = bytearray(older.read_bytes())
    damaged[-1] ^= 0xFF
    older.write_bytes(bytes(damaged))
    back = index_json(fake_cli, a, index, "--switch-corpus")
    assert back["texts_embedded"] == 6  # every passage of a, embedded again


def test_an_index_built_before_folders_were_named_belongs_to_the_next_folder_indexed(tmp_path, fake_cli):
    a, b, index = two_folders(tmp_path)
    manifest = index / str(read_current_name(index)) / "manifest.json"
    manifest.write_text(json.dumps({k: v for k, v in json.loads(manifest.read_text()).items() if k != "corpus_dir"}))
    assert not is_up_to_date(index, a, HashingEmbedder.name, HashingEmbedder.encoder)  # named at the next build
    result = fake_cli("index", "--corpus", str(b), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    assert manifest_of(index)["corpus_dir"] == str(b.resolve())
    assert fake_cli("index", "--corpus", str(a), "--index", str(index)).exit_code == 1


def test_an_admin_change_on_a_server_of_another_folder_is_409_and_changes_nothing(tmp_path):
    env = admin_env(tmp_path, TOKEN)
    other = tmp_path / "other"
    other.mkdir()
    write_article(other, "mine.txt", "Mine", ["An article of another folder."])
    config = Config(corpus_dir=other, index_dir=env.index, admin_token=TOKEN)
    client = create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client()
    served = read_current_name(env.index)
    for response in (client.post("/api/articles", json={"title": "Night trains", "text": "Sleepers return."},
                                 headers=AUTH),
                     client.delete("/api/articles/mine", headers=AUTH)):
        assert response.status_code == 409, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "other_corpus" and str(env.corpus.resolve()) in error["message"]
        assert str(other.resolve()) in error["message"] and "--switch-corpus" in error["message"]
    assert sorted(p.name for p in other.iterdir()) == ["mine.txt"] and read_current_name(env.index) == served


def test_an_import_into_another_folder_is_refused_before_it_writes(tmp_path, fake_cli):
    a, b, index = two_folders(tmp_path)
    export = tmp_path / "rows.jsonl"
    export.write_text(json.dumps({"id": "wire-1", "title": "Wire", "text": "A wire story."}) + "\n")
    served = read_current_name(index)
    result = fake_cli("import", str(export), "--corpus", str(b), "--index", str(index))
    assert result.exit_code == 1
    assert f"built from {a.resolve()}, not {b.resolve()}" in result.output and "nothing was imported" in result.output
    assert "--switch-corpus" in result.output
    assert sorted(p.name for p in b.iterdir()) == ["mine.txt"] and read_current_name(index) == served


def test_eval_does_not_replace_an_index_of_another_corpus(tmp_path, fake_cli):
    a, b, index = two_folders(tmp_path)
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"question": "Who added it?", "answers": ["user"], "article": "mine.txt"}\n')
    served = read_current_name(index)
    result = fake_cli("eval", "--corpus", str(b), "--questions", str(questions), "--index", str(index), "--quiet")
    assert result.exit_code == 1
    assert f"built from {a.resolve()}, not {b.resolve()}" in result.output and "--index" in result.output
    assert read_current_name(index) == served
    elsewhere = fake_cli("eval", "--corpus", str(b), "--questions", str(questions), "--index", str(tmp_path / "ev"),
                         "--quiet")
    assert elsewhere.exit_code == 0, elsewhere.output


def test_an_article_change_journals_its_corpus_folder(tmp_path):
    a, _, index = two_folders(tmp_path)
    journalled = {}

    def rebuild():
        journalled.update(json.loads((index / JOURNAL).read_text()))

    change_and_rebuild(Config(corpus_dir=a, index_dir=index), [], [(a / "new.txt", "New\n\nA new text.\n")], rebuild)
    assert journalled["corpus"] == str(a.resolve())


def test_a_dead_change_is_recovered_in_the_folder_its_journal_names(tmp_path, fake_cli):
    """`index --switch-corpus` of b first recovers a change that died in a, in a, not in b."""
    a, b, index = two_folders(tmp_path)
    (a / "harbour.txt").rename(a / ".harbour.txt.0.aside")  # a replacement that died after moving the file aside
    (a / "harbour.md").write_text("# Harbour\n\nHalf a replacement.\n")
    (index / JOURNAL).write_text(json.dumps({"corpus": str(a.resolve()), "moved": [[".harbour.txt.0.aside",
                                             "harbour.txt"]], "added": ["harbour.md"], "temp": []}))
    write_article(b, "harbour.md", "B's own harbour", ["A file of b with the same name."])
    result = fake_cli("index", "--corpus", str(b), "--index", str(index), "--switch-corpus", "--quiet")
    assert result.exit_code == 0, result.output
    assert "An interrupted article change was undone" in result.output
    assert sorted(p.name for p in a.iterdir()) == ["bridges.txt", "harbour.txt", "tides.txt"]
    assert sorted(p.name for p in b.iterdir()) == ["harbour.md", "mine.txt"]
    assert {aid for aid, _, _ in passages_of(index)} == {"harbour", "mine"}
