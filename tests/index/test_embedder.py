"""The real encoder: the default ONNX int8 backend against PyTorch fp32, and where its export lives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from qa_service.config import PROJECT_ROOT, Config, bundled_model_path
from qa_service.index import onnx_export
from qa_service.index.embedder import (
    WARM_UP_LENGTHS,
    Embedder,
    ModelError,
    encoder_id,
    encoder_threads,
    model_name_for,
)
from qa_service.index.onnx_export import (
    FP32_FILE,
    FUSED_FILE,
    INT8_FILE,
    SPEC_FILE,
    SPEC_VERSION,
    export_folder,
    fused_graph,
)

TEXTS = [
    "What did Pompeo warn about?",
    "The Greenland glaciers are melting faster than scientists predicted.",
    "Seoul and Washington should coordinate closely before easing sanctions on North Korea, "
    "the editorial argues, because moving too fast would weaken the pressure that brought Pyongyang to talks.",
    "Stocks fell.",
]


def test_default_backend_is_onnx_int8(embedder):
    assert Config().backend == "onnx-int8"
    assert embedder.backend == "onnx-int8"
    assert embedder.model_file is not None and embedder.model_file.name == Path(INT8_FILE).name


def test_vectors_are_normalised_float32_of_dimension_384(embedder):
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and embedder.dimension == 384
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_int8_stays_close_to_torch_fp32(embedder, torch_embedder):
    cosines = (embedder.encode(TEXTS) * torch_embedder.encode(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.98, cosines


def test_same_window_and_token_counts_as_torch(embedder, torch_embedder):
    assert embedder.max_tokens == torch_embedder.max_tokens == 254
    for text in TEXTS:
        assert embedder.count_tokens(text) == torch_embedder.count_tokens(text)


def test_batch_order_is_kept_while_batches_are_sorted_by_length(embedder):
    """Row i is text i's vector: closest to text i encoded alone. (Not identical: dynamic int8 quantizes
    activations with one scale per batch, so a text's vector moves a little with its batch neighbours.)"""
    together = embedder.encode(TEXTS, batch_size=2)
    alone = np.vstack([embedder.encode([text]) for text in TEXTS])
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(TEXTS)))
    assert similarity.diagonal().min() > 0.98


def test_text_over_the_window_is_truncated_not_rejected(embedder):
    long = "The committee met again and argued about the budget. " * 200
    assert embedder.count_tokens(long) > embedder.max_tokens
    vector = embedder.encode([long, "short"])[0]
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_repeated_question_is_served_from_the_cache_and_the_cache_cannot_be_corrupted(embedder):
    first = embedder.encode(["How fast are the glaciers melting?"])
    first[0, :] = 0.0  # a caller scribbling on its result must not change the next answer
    second = embedder.encode(["How fast are the glaciers melting?"])
    assert abs(float(np.linalg.norm(second)) - 1.0) < 1e-5


def test_empty_input_gives_an_empty_matrix(embedder):
    assert embedder.encode([]).shape == (0, 384)


def test_export_lives_in_the_cache_folder_not_in_site_packages(embedder):
    cache = Config().index_dir / "models"
    assert embedder.model_file.is_relative_to(cache.resolve())
    folder = embedder.model_file.parent.parent
    assert (folder / INT8_FILE).exists() and (folder / "tokenizer.json").exists()
    assert not (folder / "model.safetensors").exists()  # serving needs no torch weights
    spec = json.loads((folder / SPEC_FILE).read_text())
    assert spec["lean"] is True  # the lean path reproduced sentence-transformers when exported
    bundled = Path(bundled_model_path())
    assert not (bundled / "onnx").exists() and not list(bundled.glob("*.onnx"))


def test_int8_export_runs_fused_bert_kernels_with_int8_weights(embedder):
    import onnx

    graph = onnx.load(str(embedder.model_file), load_external_data=False).graph
    operators = {node.op_type for node in graph.node}
    assert {"QAttention", "QEmbedLayerNormalization", "SkipLayerNormalization"} <= operators
    assert "MatMul" not in operators and "Softmax" not in operators  # nothing left unfused or in fp32 products
    assert not (embedder.model_file.parent.parent / FUSED_FILE).exists()  # staging file dropped


def test_a_graph_the_fusion_cannot_read_is_quantized_unfused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"num_attention_heads": 12, "hidden_size": 384}))
    (tmp_path / FP32_FILE).parent.mkdir()
    (tmp_path / FP32_FILE).write_bytes(b"not an ONNX graph")
    assert fused_graph(tmp_path, {"lean": True}) == tmp_path / FP32_FILE
    assert not (tmp_path / FUSED_FILE).exists()


def test_encoder_id_names_the_runtime_and_the_export_recipe(embedder):
    assert embedder.encoder == encoder_id("onnx-int8") == f"onnx-int8/{SPEC_VERSION}"
    assert encoder_id("torch") == "torch"  # no export: sentence-transformers runs the model as shipped


def test_existing_export_is_reused_not_made_again(embedder, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export", fail)
    monkeypatch.setattr(onnx_export, "quantize", fail)
    model = bundled_model_path()
    folder = export_folder(model, model_name_for(model), Config().index_dir / "models", int8=True)
    assert folder == embedder.model_file.parent.parent


def test_bad_backend_or_model_folder_is_refused(tmp_path):
    with pytest.raises(ModelError, match="unknown backend"):
        Embedder(bundled_model_path(), "tensorflow")
    with pytest.raises(ModelError, match="no sentence-transformers model"):
        Embedder(str(tmp_path), "onnx-int8")


def test_encoder_threads():
    assert encoder_threads(3) == 3
    assert encoder_threads() >= 1
    assert Config.from_env({}).encoder_threads is None
    assert encoder_threads(Config.from_env({"QA_ENCODER_THREADS": "1"}).encoder_threads) == 1
    assert encoder_threads(2) == 2


def test_encoder_settings_come_from_the_environment_through_config():
    config = Config.from_env({"QA_ENCODER_SOLO_THREADS": "0", "QA_QUERY_CACHE": "0"})
    assert config.encoder_solo_threads == 0 and config.query_cache == 0
    assert Config.from_env({}).query_cache == 1024 and Config.from_env({}).encoder_solo_threads is None


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_a_question_encoded_while_no_other_runs_uses_every_core_and_the_same_model():
    one_core = Embedder(bundled_model_path(), "onnx-int8", cache_dir=PROJECT_ROOT / "embeddings" / "models", threads=1)
    used = []
    for session in (one_core.runtime.lean.session, one_core.runtime.lean.solo_session):
        run = session.run
        session.run = lambda *args, _run=run, _session=session: used.append(_session) or _run(*args)
    alone = one_core.encode([TEXTS[0]])
    with one_core.occupancy.busy(), one_core.occupancy.busy():  # two questions being answered: this one and another
        shared = one_core.encode([TEXTS[1]])
    assert used == [one_core.runtime.lean.solo_session, one_core.runtime.lean.session]
    assert one_core.runtime.lean.solo_session.get_session_options().intra_op_num_threads == os.cpu_count()
    on_one_core = [one_core.runtime.lean.encode_batch(one_core.runtime.lean.tokenize([text]))[0] for text in TEXTS[:2]]
    np.testing.assert_allclose(alone[0], on_one_core[0], atol=1e-5)
    np.testing.assert_allclose(shared[0], on_one_core[1], atol=1e-5)


def test_warm_up_runs_every_question_length_on_both_sessions(monkeypatch):
    encoder = Embedder(bundled_model_path(), "onnx-int8", PROJECT_ROOT / "embeddings" / "models", threads=1,
                       solo_threads=2)
    runs = []
    real = encoder.runtime.encode_rows
    monkeypatch.setattr(encoder.runtime, "encode_rows",
                        lambda rows, solo=False: runs.append((len(rows[0]), solo)) or real(rows, solo))
    encoder.warm_up()
    assert sorted(runs) == sorted((n + 2, solo) for n in WARM_UP_LENGTHS for solo in (True, False))  # + [CLS], [SEP]
    assert encoder.runtime.lean.solo_session is not None, "a second session for a question that is alone"


def test_the_export_is_keyed_by_the_models_files_not_their_times(tmp_path):
    """Two installs of one model package (two clones) share one export instead of deleting each other's."""
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text('{"hidden_size": 384}')
        (folder / "model.safetensors").write_bytes(bytes(range(256)) * 1000)
    os.utime(tmp_path / "second" / "model.safetensors", (1, 1))

    def fingerprint(name: str) -> str:
        return onnx_export._source_fingerprint(str(tmp_path / name))

    assert fingerprint("first") == fingerprint("second")
    changed = bytearray((tmp_path / "second" / "model.safetensors").read_bytes())
    changed[-1] ^= 1
    (tmp_path / "second" / "model.safetensors").write_bytes(bytes(changed))
    assert fingerprint("first") != fingerprint("second")
