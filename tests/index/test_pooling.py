"""Sentence vectors pooled from their passage's one encoder pass (pooling.py, Embedder.encode_passages)."""

from __future__ import annotations

import numpy as np
import pytest

from qa_service.index.pooling import normalise, pool_spans
from qa_service.text import sentence_spans

PASSAGE = ("Pompeo telephoned Kang Kyung-wha on Friday to complain. He said Seoul should not move faster than "
           "the talks with Pyongyang. The ministry declined to comment on the call.")
OTHER = "Glaciers in Greenland are melting faster than scientists predicted."
UNRELATED = ("Pompeo telephoned Kang Kyung-wha on Friday to complain. Glaciers in Greenland are melting faster than "
             "scientists predicted. The central bank raised interest rates by half a point.")


def test_a_span_is_the_mean_of_the_word_pieces_inside_it_and_special_tokens_belong_to_none():
    tokens = np.array([[9.0, 9.0], [1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [9.0, 9.0]], dtype=np.float32)
    offsets = np.array([[0, 0], [0, 3], [4, 7], [8, 11], [0, 0]])  # [CLS] w1 w2 w3 [SEP]
    vectors = pool_spans(tokens, offsets, [(0, 7), (8, 11)])
    assert np.allclose(vectors[0], [1.0, 0.0])  # mean (2, 0), normalised
    assert np.allclose(vectors[1], [0.0, 1.0])


def test_a_span_without_word_pieces_takes_the_whole_text():
    tokens = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    offsets = np.array([[0, 3], [4, 7]])
    assert np.allclose(pool_spans(tokens, offsets, [(20, 30)])[0], normalise(np.array([0.5, 0.5])))


def test_one_pass_gives_the_passage_vector_that_encode_gives(embedder):
    texts = [PASSAGE, OTHER]
    spans = [sentence_spans(text) for text in texts]
    passages, sentences = embedder.encode_passages(texts, spans)
    assert passages.shape == (2, embedder.dimension) and sentences.shape == (4, embedder.dimension)
    assert (passages * embedder.encode(texts)).sum(axis=1).min() > 0.999
    assert np.allclose(np.linalg.norm(sentences, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("backend", ["onnx-int8", "torch"])
def test_each_sentence_vector_is_nearest_its_own_sentence_read_alone(backend, embedder, torch_embedder):
    encoder = embedder if backend == "onnx-int8" else torch_embedder
    spans = sentence_spans(UNRELATED)
    assert len(spans) == 3
    _, pooled = encoder.encode_passages([UNRELATED], [spans])
    alone = encoder.encode([UNRELATED[start:end] for start, end in spans])
    similarity = pooled @ alone.T
    assert list(similarity.argmax(axis=1)) == [0, 1, 2]


def test_a_sentence_is_read_in_its_passage_context(embedder):
    """"the call" is the telephone call of the first sentence: pooled from the passage, the last sentence
    is closer to that sentence than the same words read alone are."""
    spans = sentence_spans(PASSAGE)
    _, pooled = embedder.encode_passages([PASSAGE], [spans])
    alone = embedder.encode([PASSAGE[start:end] for start, end in spans])
    assert pooled[2] @ alone[0] > alone[2] @ alone[0] + 0.2


def test_sentence_vectors_of_the_two_runtimes_agree(embedder, torch_embedder):
    spans = [sentence_spans(PASSAGE)]
    _, int8 = embedder.encode_passages([PASSAGE], spans)
    _, fp32 = torch_embedder.encode_passages([PASSAGE], spans)
    assert (int8 * fp32).sum(axis=1).min() > 0.97


def test_spans_must_come_one_list_per_text(embedder):
    with pytest.raises(ValueError, match="span lists"):
        embedder.encode_passages([PASSAGE, OTHER], [sentence_spans(PASSAGE)])


def test_no_texts_give_empty_arrays(embedder):
    passages, sentences = embedder.encode_passages([], [])
    assert passages.shape == sentences.shape == (0, embedder.dimension)
