"""Retrieval: the three modes, the hybrid's signals, titles, and an index kept in step on rebuilds."""

import numpy as np
import pytest

from qa_service.index.generation.build import build_index
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot
from qa_service.reading.search import MODES, Query, retrieve

from ..fakes import HashingEmbedder
from ..fixtures import SEED_ID


def query(snapshot, embedder, text, context=""):
    return Query(snapshot, text, embedder.encode([text])[0], context=context)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_returns_distinct_passages_best_first(snapshot, embedder, mode):
    hits = retrieve(snapshot, query(snapshot, embedder, "Why did Pompeo warn Seoul?"), 7, mode)
    assert 0 < len(hits) <= 7
    assert len({h.row for h in hits}) == len(hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert snapshot.passage_article[hits[0].row] == SEED_ID
    for hit in hits:
        assert -1.0 <= hit.dense <= 1.0 and -1.0 <= hit.sentence <= 1.0
        assert 0.0 <= hit.coverage <= 1.0 + 1e-9


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_a_snapshot_with_the_float16_first_pass_ranks_exactly_as_without(snapshot, embedder, monkeypatch, mode):
    from qa_service.index import dense

    monkeypatch.setattr(dense, "SCAN_MIN_VECTORS", 0)  # the sample index is below the size that gets one
    scanned = Snapshot(snapshot.path, embedder.name)
    assert snapshot.dense_scan is None and scanned.dense_scan is not None
    for text in ("What did Pompeo warn about?", "skippers of Port Aird and Councillor Duncan Farrow", "climate"):
        plain = retrieve(snapshot, query(snapshot, embedder, text), 10, mode)
        fast = retrieve(scanned, query(scanned, embedder, text), 10, mode)
        assert [h.row for h in fast] == [h.row for h in plain]
        assert np.allclose([h.score for h in fast], [h.score for h in plain], atol=1e-6)


def test_dense_and_lexical_scores_are_the_cosine_and_bm25(snapshot, embedder):
    q = query(snapshot, embedder, "skippers of Port Aird and Councillor Duncan Farrow")
    dense = retrieve(snapshot, q, 5, "dense")
    vectors = snapshot.dense.reconstruct_batch(np.array([h.row for h in dense], dtype=np.int64))
    assert np.allclose([h.score for h in dense], vectors @ q.vector, atol=1e-5)
    lexical = retrieve(snapshot, q, 5, "lexical")
    bm25 = snapshot.lexical.scores(q.tokens)
    assert [h.row for h in lexical] == sorted(range(len(bm25)), key=lambda r: (-bm25[r], r))[:5]


def test_hybrid_puts_the_passage_whose_one_sentence_answers_first(snapshot, embedder):
    # The answer is one sentence in the middle of a long paragraph about other things.
    q = query(snapshot, embedder, "Who did Pompeo telephone to complain about the military agreement?")
    hits = retrieve(snapshot, q, 5, "hybrid")
    top = hits[0]
    assert (snapshot.passage_article[top.row], int(snapshot.passage_paragraph[top.row])) == (SEED_ID, 3)
    assert top.sentence > top.dense, "its one sentence matches the question better than the paragraph as a whole"
    assert top.coverage == pytest.approx(max(h.coverage for h in hits))


def test_a_question_with_no_known_word_still_gets_dense_matches_in_hybrid(snapshot, embedder):
    q = query(snapshot, embedder, "zqxv wvyq?")
    assert q.term_ids == []
    assert retrieve(snapshot, q, 5, "lexical") == []
    hybrid = retrieve(snapshot, q, 5, "hybrid")
    assert len(hybrid) == 5 and all(h.lexical == 0 and h.coverage == 0 for h in hybrid)


def test_coverage_is_the_idf_weighted_share_of_the_questions_terms(snapshot, embedder):
    complete = query(snapshot, embedder, "Pompeo telephoned Kang Kyung-wha")
    row = next(i for i, (p, (s, e)) in enumerate(zip(snapshot.sentence_passage, snapshot.sentence_span))
               if snapshot.passage_text[p][s:e].startswith("Pompeo telephoned South Korean"))
    assert complete.coverage()[row] == pytest.approx(1.0)
    partial = query(snapshot, embedder, "Pompeo zqxvword")
    idf = snapshot.lexical.idf(["pompeo", "zqxvword"])
    assert idf[1] == pytest.approx(snapshot.lexical.unseen_idf) and idf[1] > idf[0]
    assert partial.coverage()[row] == pytest.approx(idf[0] / idf.sum())


def test_carried_over_context_counts_less_than_the_question(snapshot, embedder):
    plain = query(snapshot, embedder, "Who did he call to complain?")
    with_context = query(snapshot, embedder, "Who did he call to complain?", context="Pompeo")
    assert with_context.context_tokens == ["pompeo"] and plain.context_tokens == []
    own = snapshot.lexical.scores(plain.tokens)
    carried = snapshot.lexical.scores(["pompeo"])
    assert np.allclose(with_context.bm25(), own + 0.5 * carried)
    own_idf = snapshot.lexical.idf(sorted(set(plain.tokens)))
    pompeo_idf = snapshot.lexical.idf(["pompeo"])[0]
    weights = dict(zip(with_context.term_ids, with_context.term_weights))
    expected = 0.5 * pompeo_idf / (own_idf.sum() + 0.5 * pompeo_idf)
    assert weights[snapshot.lexical.vocab["pompeo"]] == pytest.approx(expected)
    assert sum(weights.values()) == pytest.approx(1.0)


def test_titles_are_matched_and_the_lexical_side_follows_rebuilds(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "keepers.txt").write_text("Lighthouse keepers of Maine\n\nThe cottages stood on rocky coasts.\n")
    (corpus / "bread.txt").write_text("Bakeries at dawn\n\nBread rises overnight in warm kitchens.\n")
    index = tmp_path / "index"
    embedder = HashingEmbedder()
    build_index(corpus, index, embedder)
    snap = Snapshot(index / read_current_name(index))
    q = Query(snap, "lighthouse", embedder.encode(["lighthouse"])[0])
    hits = retrieve(snap, q, 5, "lexical")
    assert [snap.passage_article[h.row] for h in hits] == ["keepers"]
    assert q.coverage()[snap.sentence_first[hits[0].row]] == pytest.approx(1.0), "title words count for sentences"

    (corpus / "tides.txt").write_text("Tides\n\nThe moon pulls the oceans into tides.\n")
    (corpus / "bread.txt").unlink()
    build_index(corpus, index, embedder)
    snap = Snapshot(index / read_current_name(index))
    assert snap.lexical.n_docs == snap.n_passages == 2
    assert snap.sentence_terms.n_sentences == len(snap.sentence_vectors)
    moon = Query(snap, "moon", embedder.encode(["moon"])[0])
    assert [snap.passage_article[h.row] for h in retrieve(snap, moon, 5, "lexical")] == ["tides"]
    assert retrieve(snap, Query(snap, "bread", embedder.encode(["bread"])[0]), 5, "lexical") == []


def test_unknown_mode_is_refused(snapshot, embedder):
    with pytest.raises(ValueError, match="mode"):
        retrieve(snapshot, query(snapshot, embedder, "Cuba"), 5, "magic")
