"""Index generations: incremental builds, atomic switch, failures that leave the old index serving."""

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from qa_service.index.generation import build, read
from qa_service.index.generation.build import EmptyCorpus, IndexBusy, build_index, build_lock, is_up_to_date
from qa_service.index.generation.layout import CURRENT, generations, read_current_name
from qa_service.index.generation.read import IndexReader, Snapshot
from qa_service.ingest import corpus as corpus_module
from qa_service.ingest.formats import common as formats_common
from qa_service.reading.answer import choose_sentence
from qa_service.reading.search import Query, retrieve

from ..fakes import HashingEmbedder
from ..fixtures import FISHERY_ID, SAMPLES


class CountingEmbedder:
    """The real encoder, recording every text it is asked to embed (sentences are read in their passage's pass)."""

    def __init__(self, inner):
        self.inner, self.encoded = inner, []
        self.name, self.backend, self.encoder = inner.name, inner.backend, inner.encoder
        self.dimension, self.max_tokens = inner.dimension, inner.max_tokens

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def encode(self, texts, batch_size=32, progress=None):
        self.encoded.extend(texts)
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)

    def encode_passages(self, texts, spans, batch_size=32, progress=None):
        self.encoded.extend(texts)
        return self.inner.encode_passages(texts, spans, batch_size=batch_size, progress=progress)


def passages_of(index_dir: Path) -> list[tuple[str, int, str]]:
    snap = Snapshot(index_dir / str(read_current_name(index_dir)))
    return [(a, int(n), t) for a, n, t in zip(snap.passage_article, snap.passage_paragraph, snap.passage_text)]


def write_article(folder: Path, name: str, title: str, paragraphs: list[str]) -> None:
    (folder / name).write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n")


def test_adding_an_article_embeds_only_its_text(fresh_index, embedder):
    corpus, index = fresh_index
    before = passages_of(index)
    paragraphs = ["Lighthouses guided ships along the rocky coast.", "Keepers lived in small stone cottages."]
    write_article(corpus, "lighthouses.txt", "On lighthouses", paragraphs)
    counting = CountingEmbedder(embedder)
    report = build_index(corpus, index, counting)
    assert sorted(set(counting.encoded)) == sorted(paragraphs), "only the new paragraphs, each once"
    assert report.articles_added == 1 and report.articles_unchanged == len({a for a, _, _ in before})
    assert report.passages_added == 2 and report.passages_removed == 0
    after = passages_of(index)
    assert len(after) == len(before) + 2
    assert ("lighthouses", 2, paragraphs[1]) in after


def test_changing_one_paragraph_re_embeds_only_that_paragraph(fresh_index, embedder):
    corpus, index = fresh_index
    seed = next(corpus.glob("donga-*.txt"))
    changed = "Pompeo also praised the working group as a useful channel."
    text = seed.read_text()
    old = text.split("\n\n")[-1].strip()
    seed.write_text(text.replace(old, changed))
    counting = CountingEmbedder(embedder)
    report = build_index(corpus, index, counting)
    assert counting.encoded == [changed]
    assert report.articles_updated == 1 and report.passages_added == 1 and report.passages_removed == 1
    texts = [t for _, _, t in passages_of(index)]
    assert changed in texts and old not in texts


def test_deleting_an_article_removes_its_passages(fresh_index, embedder):
    corpus, index = fresh_index
    victim = corpus / f"{FISHERY_ID}.txt"  # its long ¶5 is two windows: both go
    victim_id = victim.stem
    n_victim = sum(1 for a, _, _ in passages_of(index) if a == victim_id)
    assert n_victim > 0
    victim.unlink()
    counting = CountingEmbedder(embedder)
    report = build_index(corpus, index, counting)
    assert counting.encoded == []
    assert report.articles_removed == 1 and report.passages_removed == n_victim
    assert all(a != victim_id for a, _, _ in passages_of(index))
    snap = Snapshot(index / read_current_name(index))
    assert victim_id not in snap.articles and snap.lexical.scores("x").shape == (snap.n_passages,)


def alpha_index(tmp_path: Path, paragraphs: list[str]) -> tuple[Path, Path]:
    """(corpus, index): one article, a.txt titled Alpha, indexed with the hashing embedder."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(corpus, "a.txt", "Alpha", paragraphs)
    index = tmp_path / "index"
    build_index(corpus, index, HashingEmbedder())
    return corpus, index


def generation_contents(index_dir: Path) -> dict:
    """Everything a generation holds but its name and dates: tables, vectors, BM25 and sentence terms."""
    generation = index_dir / str(read_current_name(index_dir))
    db = sqlite3.connect(generation / "meta.sqlite")
    tables = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
              for t in ("articles", "paragraphs", "passages", "sentences")}
    db.close()
    snap = Snapshot(generation)
    probe = sorted(t for t in snap.lexical.vocab if t)
    return {
        **tables,
        "passage_vectors": np.load(generation / "passages.npy").tolist(),
        "sentence_vectors": np.load(generation / "sentences.npy").tolist(),
        "bm25": [snap.lexical.scores([t]).tolist() for t in probe],
        "postings": [snap.sentence_terms.weighted_presence([snap.lexical.vocab[t]], np.ones(1)).tolist()
                     for t in probe],
    }


def test_an_incremental_build_holds_exactly_what_a_clean_build_holds(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(4):
        write_article(corpus, f"a{i}.txt", f"Harbour report {i}",
                      [f"Ships number {i} arrived. The harbour master counted them.", f"Storm warning {i} issued."])
    index = tmp_path / "index"
    build_index(corpus, index, HashingEmbedder())
    write_article(corpus, "new.txt", "Storm season", ["A new storm formed. Harbour crews prepared."])
    write_article(corpus, "a1.txt", "Harbour report 1", ["Rewritten text about ships."])
    (corpus / "a2.txt").unlink()
    report = build_index(corpus, index, HashingEmbedder())
    assert (report.articles_added, report.articles_updated, report.articles_removed) == (1, 1, 1)
    build_index(corpus, tmp_path / "clean", HashingEmbedder())
    assert generation_contents(index) == generation_contents(tmp_path / "clean")


def test_unchanged_articles_are_taken_over_without_being_parsed_or_cut_again(fresh_index, embedder, monkeypatch):
    corpus, index = fresh_index
    write_article(corpus, "lighthouses.txt", "On lighthouses", ["Keepers lived in small stone cottages."])
    parsed, counted = [], []
    real_parse = corpus_module.parse_bytes
    monkeypatch.setattr(corpus_module, "parse_bytes", lambda raw, name: parsed.append(name) or real_parse(raw, name))
    counting = CountingEmbedder(embedder)
    counting.count_tokens = lambda text: counted.append(text) or embedder.count_tokens(text)
    build_index(corpus, index, counting)
    assert parsed == ["lighthouses.txt"]
    assert counted == ["Keepers lived in small stone cottages."]


def test_vectors_are_taken_over_only_from_the_same_encoder(tmp_path):
    corpus, index = alpha_index(tmp_path, ["Alpha paragraph one.", "Alpha paragraph two."])
    other_runtime = HashingEmbedder(backend="fake-int8", encoder="fake-int8/1")
    write_article(corpus, "b.txt", "Beta", ["Beta paragraph."])
    build_index(corpus, index, other_runtime)
    assert sorted(other_runtime.encoded) == ["Alpha paragraph one.", "Alpha paragraph two.", "Beta paragraph."]
    again = HashingEmbedder(backend="fake-int8", encoder="fake-int8/1")
    write_article(corpus, "c.txt", "Gamma", ["Gamma paragraph."])
    build_index(corpus, index, again)
    assert again.encoded == ["Gamma paragraph."]
    newer_recipe = HashingEmbedder(backend="fake-int8", encoder="fake-int8/2")
    assert not is_up_to_date(index, corpus, newer_recipe.name, newer_recipe.encoder)
    build_index(corpus, index, newer_recipe)
    assert len(newer_recipe.encoded) == 4


def test_an_index_whose_manifest_names_only_its_backend_reuses_vectors_of_that_backend(tmp_path):
    corpus, index = alpha_index(tmp_path, ["Alpha paragraph one."])
    generation = index / read_current_name(index)
    manifest = json.loads((generation / "manifest.json").read_text())
    del manifest["encoder"]
    (generation / "manifest.json").write_text(json.dumps(manifest))
    same_backend = HashingEmbedder()
    write_article(corpus, "b.txt", "Beta", ["Beta paragraph."])
    build_index(corpus, index, same_backend)
    assert same_backend.encoded == ["Beta paragraph."]


def test_an_index_of_the_previous_format_is_rebuilt_reusing_its_vectors(tmp_path):
    corpus, index = alpha_index(tmp_path, ["Alpha paragraph one."])
    generation = index / read_current_name(index)
    manifest = json.loads((generation / "manifest.json").read_text())
    del manifest["files"]  # format 2 had no checksums
    (generation / "manifest.json").write_text(json.dumps({**manifest, "format": 2}))
    db = sqlite3.connect(generation / "meta.sqlite")
    db.execute("ALTER TABLE sentences DROP COLUMN terms")
    db.commit()
    db.close()
    assert not is_up_to_date(index, corpus, HashingEmbedder.name, HashingEmbedder.encoder)
    embedder = HashingEmbedder()
    build_index(corpus, index, embedder)
    assert embedder.encoded == []
    assert passages_of(index) == [("a", 1, "Alpha paragraph one.")]


def test_rebuilding_an_unchanged_corpus_embeds_nothing_and_reports_up_to_date(fresh_index, embedder):
    corpus, index = fresh_index
    assert is_up_to_date(index, corpus, embedder.name, embedder.encoder)
    counting = CountingEmbedder(embedder)
    report = build_index(corpus, index, counting)
    assert counting.encoded == [] and report.passages_added == 0
    (corpus / "new.txt").write_text("T\n\nNew text.")
    assert not is_up_to_date(index, corpus, embedder.name, embedder.encoder)


def test_a_build_that_fails_half_way_leaves_the_previous_index_complete(tmp_path):
    corpus, index = alpha_index(tmp_path, ["Alpha paragraph one.", "Alpha paragraph two."])
    good = read_current_name(index)
    before = passages_of(index)
    for i in range(30):
        write_article(corpus, f"b{i}.txt", f"Beta {i}", [f"Beta {i} paragraph {j}." for j in range(5)])
    with pytest.raises(RuntimeError, match="half-way"):
        build_index(corpus, index, HashingEmbedder(fail_after=10), batch_size=4)
    assert read_current_name(index) == good
    assert passages_of(index) == before
    build_index(corpus, index, HashingEmbedder())
    assert len(passages_of(index)) == 2 + 30 * 5
    assert not list(index.glob("*.partial"))


def test_a_failure_while_writing_files_leaves_the_previous_index(tmp_path, monkeypatch):
    corpus, index = alpha_index(tmp_path, ["Alpha paragraph."])
    good = read_current_name(index)
    write_article(corpus, "b.txt", "Beta", ["Beta paragraph."])

    def broken_sqlite(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr("qa_service.index.generation.build._write_sqlite", broken_sqlite)
    with pytest.raises(OSError, match="disk full"):
        build_index(corpus, index, HashingEmbedder())
    assert read_current_name(index) == good
    assert Snapshot(index / good).n_passages == 1


def test_generation_carries_a_manifest_with_model_dimension_and_fingerprint(fresh_index, embedder):
    _, index = fresh_index
    manifest = json.loads((index / read_current_name(index) / "manifest.json").read_text())
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["dimension"] == 384
    assert len(manifest["corpus_fingerprint"]) == 64
    assert manifest["passages"] == len(passages_of(index))


def test_old_generations_are_pruned_to_two(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    index = tmp_path / "index"
    for i in range(5):
        write_article(corpus, f"a{i}.txt", f"T{i}", [f"P{i}."])
        build_index(corpus, index, HashingEmbedder())
    assert len(generations(index)) == 3
    assert (index / CURRENT).read_text().strip() == generations(index)[0].name


def test_empty_corpus_is_refused_and_the_index_kept(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(corpus, "a.txt", "Alpha", ["Alpha paragraph."])
    index = tmp_path / "index"
    build_index(corpus, index, HashingEmbedder())
    (corpus / "a.txt").unlink()
    with pytest.raises(EmptyCorpus):
        build_index(corpus, index, HashingEmbedder())
    assert len(passages_of(index)) == 1


def test_a_second_concurrent_build_waits_then_fails_clearly(tmp_path):
    index = tmp_path / "index"
    held, release = threading.Event(), threading.Event()

    def hold():
        with build_lock(index):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    try:
        with pytest.raises(IndexBusy), build_lock(index, wait_seconds=0.3):
            pass
    finally:
        release.set()
        thread.join()
    with build_lock(index, wait_seconds=0.3):
        pass


def test_reader_switches_to_a_new_generation_and_falls_back_from_a_damaged_one(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(corpus, "a.txt", "Alpha", ["Alpha paragraph."])
    index = tmp_path / "index"
    build_index(corpus, index, HashingEmbedder())
    reader = IndexReader(index)
    first = reader.snapshot()
    assert reader.snapshot() is first
    write_article(corpus, "b.txt", "Beta", ["Beta paragraph."])
    build_index(corpus, index, HashingEmbedder())
    second = reader.snapshot()
    assert second.version != first.version and second.n_passages == 2
    assert first.n_passages == 1, "a snapshot held by a request never changes"

    damaged = index / read_current_name(index)
    (damaged / "dense.faiss").write_bytes(b"garbage")
    fresh_reader = IndexReader(index)
    fallback = fresh_reader.snapshot()
    assert fallback.version == first.version
    assert "damaged" in fresh_reader.error


def test_reader_refuses_an_index_built_with_another_model(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(corpus, "a.txt", "Alpha", ["Alpha paragraph."])
    build_index(corpus, tmp_path / "index", HashingEmbedder())
    reader = IndexReader(tmp_path / "index", model_name="sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(Exception, match="rebuild"):
        reader.snapshot()



def test_large_sentence_vectors_are_memory_mapped_and_answer_the_same(built_index, embedder, monkeypatch):
    """An archive's sentence vectors are mapped, not copied into every worker; the answers do not change."""
    _, index = built_index
    generation = index / str(read_current_name(index))
    read_in = Snapshot(generation)
    monkeypatch.setattr(read, "MAP_SENTENCE_VECTORS_BYTES", 0)
    mapped = Snapshot(generation)
    assert isinstance(mapped.sentence_vectors, np.memmap) and not isinstance(read_in.sentence_vectors, np.memmap)
    question = "Who did Pompeo telephone to complain about the military agreement?"
    for snapshot in (read_in, mapped):
        query = Query(snapshot, question, embedder.encode([question])[0])
        hits = retrieve(snapshot, query, 5, "hybrid")
        found = choose_sentence(snapshot, query, hits)
        assert found is not None
        if snapshot is read_in:
            expected = ([h.row for h in hits], [round(h.score, 6) for h in hits], found.text)
        else:
            assert ([h.row for h in hits], [round(h.score, 6) for h in hits], found.text) == expected


# --- issue 21, item 4: what decides a file's parse is part of what an update may reuse ------------------------

SAVED_PAGE = SAMPLES / "fishing-quotas.html"  # blank lines between its blocks


def test_a_file_renamed_to_another_layout_is_read_and_cut_again(tmp_path):
    """A saved page first named .txt is indexed as raw markup; renamed .html, the same bytes are its article."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    write_article(corpus, "other.txt", "Other", ["Another article, so the corpus is never empty."])
    (corpus / "saved-page.txt").write_bytes(SAVED_PAGE.read_bytes())
    build_index(corpus, index, HashingEmbedder())
    assert any("<p" in text for _, _, text in passages_of(index))
    (corpus / "saved-page.txt").rename(corpus / "saved-page.html")
    report = build_index(corpus, index, HashingEmbedder())
    build_index(corpus, tmp_path / "clean", HashingEmbedder())
    assert passages_of(index) == passages_of(tmp_path / "clean")
    assert not any("<" in text for _, _, text in passages_of(index)) and report.texts_embedded > 0


def test_index_force_reads_every_file_again(tmp_path, fake_cli, monkeypatch):
    """Files unchanged since a build by other code (a parser fix) are parsed again by `index --force`."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    write_article(corpus, "tides.txt", "Tides", ["The moon pulls the tides twice a day."])
    clean = formats_common.clean
    with monkeypatch.context() as older:
        older.setattr(formats_common, "clean", lambda text: clean(text).upper())
        build_index(corpus, index, HashingEmbedder())
    assert passages_of(index) == [("tides", 1, "THE MOON PULLS THE TIDES TWICE A DAY.")]
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--force", "--quiet")
    assert result.exit_code == 0, result.output
    assert passages_of(index) == [("tides", 1, "The moon pulls the tides twice a day.")]
    assert Snapshot(index / str(read_current_name(index))).articles["tides"].title == "Tides"


# --- issue 26, item 4: vectors are taken from every generation the folder keeps ----------------------------------

def test_an_article_put_back_is_not_embedded_again_while_an_older_generation_holds_it(tmp_path):
    corpus, index = alpha_index(tmp_path, ["Alpha paragraph."])
    write_article(corpus, "b.txt", "Beta", ["Beta paragraph one.", "Beta paragraph two."])
    build_index(corpus, index, HashingEmbedder())
    beta = (corpus / "b.txt").read_bytes()
    (corpus / "b.txt").unlink()
    build_index(corpus, index, HashingEmbedder())  # the served generation no longer holds Beta; the older one does
    (corpus / "b.txt").write_bytes(beta)
    embedder = HashingEmbedder()
    report = build_index(corpus, index, embedder)
    assert embedder.encoded == [] and report.articles_added == 1 and report.passages_added == 2
    build_index(corpus, tmp_path / "clean", HashingEmbedder())
    assert generation_contents(index) == generation_contents(tmp_path / "clean")


# --- issue 26, item 13: a build that waited for another of the same files writes nothing -------------------------

def test_an_index_command_that_waited_for_a_build_of_the_same_files_is_up_to_date(tmp_path, fake_cli, monkeypatch):
    """It found the index stale before the lock; once the lock is taken the other build has made it up to date."""
    corpus, index = alpha_index(tmp_path, ["Alpha paragraph."])
    write_article(corpus, "b.txt", "Beta", ["Beta paragraph."])
    write_article(corpus, "c.txt", "Gamma", ["Gamma paragraph."])
    build_index(corpus, index, HashingEmbedder())
    write_article(corpus, "d.txt", "Delta", ["Delta paragraph."])  # three generations now; the corpus is stale
    waiting = threading.Event()

    def signalling_lock(index_dir, wait_seconds=600.0):
        waiting.set()
        return build_lock(index_dir, wait_seconds)

    monkeypatch.setattr(build, "build_lock", signalling_lock)
    result = {}
    with build_lock(index):  # the first build holds the lock while the command checks and waits
        second = threading.Thread(target=lambda: result.update(
            cli=fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")))
        second.start()
        assert waiting.wait(30)
        build_index(corpus, index, HashingEmbedder(), lock_held=True)
        kept = [g.name for g in generations(index)]
    second.join(30)
    assert result["cli"].exit_code == 0, result["cli"].output
    assert "is up to date" in result["cli"].output
    assert [g.name for g in generations(index)] == kept and len(kept) == 3  # the oldest fallback is still there
