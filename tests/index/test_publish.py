"""`qa-service publish`: the served generation copied into another folder, checked, and switched in there last.

Indexes here are built with the hashing encoder (milliseconds a build): what is tested is the copy, not the
vectors. tests/test_replicas.py runs a real server on a published folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.index.generation import publish as publish_module
from qa_service.index.generation.build import IndexBusy, build_index, build_lock
from qa_service.index.generation.integrity import damaged_files
from qa_service.index.generation.layout import (
    KEEP_OLD_GENERATIONS,
    MANIFEST,
    generations,
    read_current_name,
    read_manifest,
)
from qa_service.index.generation.publish import CopyDamaged, PublishRefused, publish_index
from qa_service.index.generation.read import IndexReader

from ..fakes import HashingEmbedder
from ..fixtures import write_article


def build_source(root: Path, articles: int = 2) -> tuple[Path, Path]:
    """(corpus, index) with `articles` small articles, built with the hashing encoder."""
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir(parents=True)
    for i in range(articles):
        add_article(corpus, i)
    build_index(corpus, index, HashingEmbedder())
    return corpus, index


def add_article(corpus: Path, i: int) -> None:
    write_article(corpus, f"a{i}.txt", f"Article {i}", [f"Paragraph one of article {i}.", f"And its second, {i}."])


def rebuild_with_one_more(corpus: Path, index: Path) -> str:
    add_article(corpus, len(list(corpus.iterdir())))
    return build_index(corpus, index, HashingEmbedder()).version


def served(index: Path) -> tuple[str | None, dict]:
    """(CURRENT's generation name, its manifest)."""
    name = read_current_name(index)
    return name, read_manifest(index / name) if name else {}


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def state(folder: Path) -> tuple:
    """Everything a reader of the folder could see: CURRENT, and every entry with its files' bytes."""
    return (read_current_name(folder), sorted(p.name for p in folder.iterdir()),
            {g.name: files_of(g) for g in folder.glob("gen-*")})


def test_publish_copies_the_served_generation_and_switches_current_last(tmp_path, monkeypatch):
    _, index = build_source(tmp_path / "source")
    (index / "models").mkdir()  # an old model export beside the generations: not part of one
    (index / "models" / "model.onnx").write_bytes(b"onnx")
    target = tmp_path / "replica"
    switched_to = []

    def switch_current(folder: Path, name: str) -> None:  # when CURRENT moves, the copy is complete and in place
        generation = folder / name
        assert generation.is_dir() and not list(folder.glob("*.partial"))
        assert damaged_files(generation, read_manifest(generation)["files"]) == []
        switched_to.append(name)
        real_switch(folder, name)

    real_switch = publish_module.switch_current
    monkeypatch.setattr(publish_module, "switch_current", switch_current)
    report = publish_index(index, target)

    source_name, source_manifest = served(index)
    name, manifest = served(target)
    assert switched_to == [name] == [report.generation]
    assert report.version == manifest["version"] == source_manifest["version"] and not report.up_to_date
    copied, original = files_of(target / name), files_of(index / source_name)
    assert copied.keys() == original.keys() and report.files_copied == len(original)
    assert {k: v for k, v in copied.items() if k != MANIFEST} == {k: v for k, v in original.items() if k != MANIFEST}
    assert manifest == {**source_manifest, "generation": name}
    assert not (target / "models").exists() and not list(target.glob("*.partial"))
    assert IndexReader(target, HashingEmbedder.name).snapshot().version == source_manifest["version"]


def test_publishing_again_copies_nothing_and_says_so(tmp_path):
    _, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    first = publish_index(index, target)
    before = state(target)
    again = publish_index(index, target)
    assert again.up_to_date and again.files_copied == 0
    assert (again.version, again.generation) == (first.version, first.generation)
    assert state(target) == before


def test_a_target_whose_copy_was_damaged_is_published_again(tmp_path):
    _, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    first = publish_index(index, target)
    with open(target / first.generation / "passages.npy", "r+b") as handle:  # one flipped byte
        handle.seek(200)
        byte = handle.read(1)
        handle.seek(200)
        handle.write(bytes([byte[0] ^ 0xFF]))
    again = publish_index(index, target)
    assert not again.up_to_date and again.generation != first.generation
    assert served(target)[0] == again.generation
    assert damaged_files(target / again.generation, served(target)[1]["files"]) == []


def test_each_publish_switches_to_the_new_version_and_prunes_as_a_build_does(tmp_path):
    corpus, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    versions = [publish_index(index, target).version]
    for _ in range(4):
        rebuild_with_one_more(corpus, index)
        report = publish_index(index, target)
        assert served(target)[1]["version"] == report.version == served(index)[1]["version"]
        versions.append(report.version)
    assert len(set(versions)) == 5
    kept = generations(target)
    assert len(kept) == 1 + KEEP_OLD_GENERATIONS and kept[0].name == read_current_name(target)
    assert [read_manifest(g)["version"] for g in kept] == versions[::-1][:len(kept)]


def test_a_source_rebuilt_from_scratch_is_published_as_the_targets_next_generation(tmp_path):
    _, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    first = publish_index(index, target)
    shutil.rmtree(index)  # "delete the whole folder to start over": the source's numbers start again at 1
    corpus = tmp_path / "source" / "corpus"
    add_article(corpus, 7)
    build_index(corpus, index, HashingEmbedder())
    assert served(index)[0] == first.generation  # the same name, other contents
    second = publish_index(index, target)
    assert second.generation > first.generation and second.version == served(index)[1]["version"] != first.version
    assert served(target)[0] == second.generation and (target / first.generation).is_dir()


real_copyfile = shutil.copyfile  # the tests below replace shutil.copyfile, which publish.py calls


def failing_copy(after: int):
    """shutil.copyfile that fails (a full disk) once `after` files are copied."""
    calls = []

    def copyfile(source, destination):
        calls.append(source)
        if len(calls) > after:
            raise OSError(28, "No space left on device", str(destination))
        return real_copyfile(source, destination)

    return copyfile


def corrupting_copy(source, destination):
    """shutil.copyfile whose copy of the dense index loses its last byte."""
    real_copyfile(source, destination)
    if Path(destination).name == "dense.faiss":
        with open(destination, "r+b") as handle:
            handle.truncate(Path(destination).stat().st_size - 1)


@pytest.mark.parametrize("copy, error", [(failing_copy(after=3), OSError), (corrupting_copy, CopyDamaged)],
                         ids=["disk-full", "copy-differs"])
def test_a_copy_that_fails_midway_leaves_the_target_as_it_was(tmp_path, monkeypatch, copy, error):
    corpus, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    publish_index(index, target)
    rebuild_with_one_more(corpus, index)
    before = state(target)
    monkeypatch.setattr(publish_module.shutil, "copyfile", copy)
    with pytest.raises(error) as raised:
        publish_index(index, target)
    assert state(target) == before  # CURRENT, the generations, no .partial left
    if error is CopyDamaged:
        assert "dense.faiss" in str(raised.value) and "target is unchanged" in str(raised.value)


def test_a_damaged_source_is_refused_with_its_reason(tmp_path):
    _, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    (index / served(index)[0] / "meta.sqlite").write_bytes(b"not a database")
    with pytest.raises(CopyDamaged, match=r"source/index/gen-000001 is damaged \(meta.sqlite has"):
        publish_index(index, target)
    assert read_current_name(target) is None and not list(target.glob("gen-*"))


def test_a_second_publish_into_one_folder_waits_for_the_first(tmp_path):
    _, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    with build_lock(target), pytest.raises(IndexBusy, match="another publish or build is writing"):
        publish_index(index, target, lock_wait_seconds=0.2)
    assert read_current_name(target) is None


@pytest.mark.parametrize("kind", ["missing", "empty", "blank-CURRENT"])
def test_publishing_from_a_folder_without_an_index_is_refused(tmp_path, kind):
    source = tmp_path / kind
    if kind != "missing":
        source.mkdir()
    if kind == "blank-CURRENT":
        (source / "CURRENT").write_text("")
    with pytest.raises(PublishRefused, match="no index in .* to publish"):
        publish_index(source, tmp_path / "replica")
    assert not (tmp_path / "replica").exists()


def test_a_generation_without_file_checksums_is_refused(tmp_path):
    _, index = build_source(tmp_path / "source")
    name, manifest = served(index)
    del manifest["files"]  # as written before index format 4
    (index / name / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PublishRefused, match="has no file checksums to check a copy against"):
        publish_index(index, tmp_path / "replica")
    assert not (tmp_path / "replica").exists()


# --- the command ------------------------------------------------------------------------------------------------

@pytest.fixture
def runner(monkeypatch):
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    return CliRunner()


def test_the_command_publishes_from_the_environments_index_and_reports_json(runner, tmp_path, monkeypatch):
    _, index = build_source(tmp_path / "source")
    target = tmp_path / "replica"
    monkeypatch.setenv("QA_INDEX_DIR", str(index))
    result = runner.invoke(main, ["publish", "--to", str(target), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["version"] == served(target)[1]["version"] == served(index)[1]["version"]
    assert report["up_to_date"] is False and report["files_copied"] > 0

    result = runner.invoke(main, ["publish", "--to", str(target)])
    assert result.exit_code == 0 and "already" in result.output and "nothing copied" in result.output


@pytest.mark.parametrize("args, message", [
    (["--index", "{root}/missing", "--to", "{root}/replica"], "Error: no index in {root}/missing to publish"),
    (["--index", "{root}/source/index", "--to", "{root}/source/index"], "is the index folder itself"),
    (["--index", "{root}/source/index", "--to", "{root}/a-file"], "is a file, not a folder"),
])
def test_the_command_refuses_bad_folders_in_one_line(runner, tmp_path, args, message):
    build_source(tmp_path / "source")
    (tmp_path / "a-file").write_text("")
    root = str(tmp_path)
    result = runner.invoke(main, ["publish", *(a.format(root=root) for a in args)])
    assert result.exit_code == 1
    assert message.format(root=root) in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output and not (tmp_path / "replica").exists()
