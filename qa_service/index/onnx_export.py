"""The one-time ONNX export of a sentence-transformers model: export, graph fusion, int8 quantisation, checks.

The export is made once into a model cache (never into site-packages; by default the user's cache
folder, shared by every index folder: Config.cache_dir) and reused afterwards. It is checked against
sentence-transformers once, when it is made: `spec["lean"]` says whether the lean runtime
(lean_onnx.py) reproduces this model; one it cannot (another pooling, extra layers) is served
through sentence-transformers (embedder.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock

from .generation.integrity import damaged_files, file_checksums
from .lean_onnx import LeanOnnx

FP32_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8_per_channel.onnx"
FUSED_FILE = "onnx/model_fused.onnx"  # staging only: the fp32 graph the int8 file is quantized from
SPEC_FILE = "qa_encoder.json"
SPEC_VERSION = 4  # bumped whenever an export would give other vectors: exports and index vectors are made again
TORCH_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot")
FINGERPRINT_BYTES = 1 << 16  # read from each end of each model file for its fingerprint
log = logging.getLogger(__name__)


def _source_fingerprint(model_path: str) -> str:
    """Names, sizes and the first and last bytes of the model's files: a changed model gets a fresh export.

    Not their modification times: two installs of the same model package (two clones' environments) share
    one cache, and each would otherwise delete the other's export, under a process still loading it.
    """
    digest = hashlib.sha256()
    root = Path(model_path)
    for file in sorted(p for p in root.rglob("*") if p.is_file() and "onnx" not in p.relative_to(root).parts):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(root)}\0{size}\n".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(FINGERPRINT_BYTES))
            handle.seek(max(0, size - FINGERPRINT_BYTES))
            digest.update(handle.read(FINGERPRINT_BYTES))
    return digest.hexdigest()[:16]


def export_folder(model_path: str, model_name: str, cache_dir: Path, int8: bool) -> Path:
    """The model's ONNX export (fp32, or int8), made once under `cache_dir` and reused after.

    An exclusive lock makes concurrent starters (several gunicorn workers, a build beside a server)
    wait for one export instead of each writing its own over the others. The folder is named by the
    model and the export recipe (SPEC_VERSION), so one cache serves every index folder, and a program
    with another recipe keeps its own export beside it instead of deleting this one.
    """
    target = cache_dir / f"{model_name.replace('/', '--')}.recipe-{SPEC_VERSION}"
    wanted = INT8_FILE if int8 else FP32_FILE
    cache_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = _source_fingerprint(model_path)
    with FileLock(cache_dir / ".export.lock"):  # waits as long as another process exports
        if target.exists() and read_spec(target).get("source") != fingerprint:
            shutil.rmtree(target)  # made from another version of the model (or by older code)
        damage = _export_damage(target) if (target / wanted).exists() else None
        if damage:
            log.warning("the ONNX export in %s is damaged (%s); exporting it again", target, damage)
            shutil.rmtree(target)
        if not (target / wanted).exists():
            # Shown by default (a warning): the first build or server start is otherwise silent for ~15 s.
            log.warning("exporting the model %s to ONNX once (~15 s) into %s", model_name, target)
            _export(model_path, target, fingerprint, int8)
    return target


def _export_damage(folder: Path) -> str | None:
    """Why an export cannot be trusted (a file truncated or changed since it was made), or None.

    A truncated ONNX file stopped every worker from starting, and nothing made it again.
    """
    recorded = read_spec(folder).get("checksums")
    if not isinstance(recorded, dict) or not recorded:
        return "made before its files' checksums were kept"
    return "; ".join(damaged_files(folder, recorded)) or None


def _write_spec(folder: Path, spec: dict) -> None:
    tmp = folder / (SPEC_FILE + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2) + "\n")
    os.replace(tmp, folder / SPEC_FILE)


def read_spec(folder: Path) -> dict:
    try:
        spec = json.loads((folder / SPEC_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return spec if spec.get("version") == SPEC_VERSION else {}


@contextmanager
def quiet():
    """Exporting makes transformers, torch and sentence-transformers warn about things that do not matter here."""
    loggers = [logging.getLogger(name) for name in ("transformers", "sentence_transformers", "optimum", None)]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _export(model_path: str, target: Path, fingerprint: str, int8: bool) -> None:
    """Export in a staging folder, record how to run it, keep only what serving needs, move it into place.

    Serving needs the tokenizer, the configs and one ONNX file: the torch weights are dropped, and
    so is the fp32 ONNX file once the int8 one is made from it (exported again if ever wanted).
    """
    from sentence_transformers import SentenceTransformer

    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(model_path, staging, ignore=shutil.ignore_patterns("onnx", "*.onnx"))
    with quiet():
        exported = SentenceTransformer(str(staging), backend="onnx", device="cpu", local_files_only=True)
        exported.save_pretrained(str(staging))
        spec = _lean_spec(exported, staging, fingerprint)
        if int8:
            quantize(fused_graph(staging, spec), staging / INT8_FILE)
    for name in TORCH_WEIGHTS:
        (staging / name).unlink(missing_ok=True)
    if int8:
        (staging / FP32_FILE).unlink()
        (staging / FUSED_FILE).unlink(missing_ok=True)
    wanted = INT8_FILE if int8 else FP32_FILE
    spec["checksums"] = file_checksums(staging)  # checked at every start (_export_damage)
    if target.exists():  # holds the other variant of the same export: add this one beside it
        (target / wanted).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / wanted, target / wanted)
        shutil.rmtree(staging)
        kept = read_spec(target)
        kept.setdefault("checksums", {})[wanted] = spec["checksums"][wanted]
        _write_spec(target, kept)
    else:
        _write_spec(staging, spec)
        os.replace(staging, target)


def _lean_spec(model, folder: Path, fingerprint: str) -> dict:
    """What the lean path needs, and whether it reproduces sentence-transformers on this model."""
    modules = list(model)
    pooling = getattr(modules[1], "pooling_mode", None) if len(modules) > 1 else None
    spec = {
        "version": SPEC_VERSION,
        "source": fingerprint,
        "max_seq_length": int(model.max_seq_length),
        "dimension": int(model.get_embedding_dimension()),
        "pooling": pooling,
        "lean": False,
    }
    if pooling in ("mean", "cls") and len(modules) <= 3 and (folder / "tokenizer.json").exists():
        probe = ["A short question?", "A longer sentence about the weather in Seoul and Washington. " * 40, "x"]
        reference = model.encode(probe, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        lean = LeanOnnx(folder, FP32_FILE, spec, threads=1)
        spec["lean"] = bool(np.abs(lean.encode_batch(lean.tokenize(probe)) - reference).max() < 1e-4)
    return spec


def fused_graph(folder: Path, spec: dict) -> Path:
    """The fp32 graph with each layer's attention, GELU and layer norms fused into ONNX Runtime's BERT kernels.

    Quantized afterwards, the fused graph runs one QAttention kernel per layer instead of a dozen small
    operators, which is what a short question's time is made of: one question faster, batches as
    fast, the same cosine to PyTorch fp32 (measured side by side in BENCHMARKS.md). The fusion is kept
    only if the fused fp32 graph gives the plain graph's vectors;
    a model it does not fit is quantized unfused.
    """
    plain = folder / FP32_FILE
    if not spec.get("lean"):
        return plain
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        config = json.loads((folder / "config.json").read_text())
        fused = optimize_model(str(plain), model_type="bert", num_heads=int(config["num_attention_heads"]),
                               hidden_size=int(config["hidden_size"]), opt_level=0)
        fused.save_model_to_file(str(folder / FUSED_FILE))
        probe = ["A short question?", "A longer sentence about the weather in Seoul and Washington. " * 40, "x"]
        vectors = []
        for file_name in (FP32_FILE, FUSED_FILE):
            lean = LeanOnnx(folder, file_name, spec, threads=1)
            vectors.append(lean.encode_batch(lean.tokenize(probe)))
        if np.abs(vectors[0] - vectors[1]).max() < 1e-4:
            return folder / FUSED_FILE
        log.info("fused graph of %s changes its vectors; quantizing the plain graph", folder.name)
    except Exception as exc:  # any model the BERT fusion cannot read is still served, unfused
        log.info("cannot fuse the graph of %s (%s); quantizing the plain graph", folder.name, exc)
    (folder / FUSED_FILE).unlink(missing_ok=True)
    return plain


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 with per-channel weight scales, from the fp32 export (fused where it could be).

    Per-tensor int8 loses too much cosine to keep rankings. Signed int8 weights (u8 activations x s8
    weights) take AVX2's fast VPMADDUBSW path that optimum's avx2 preset (u8 x u8) does not;
    `reduce_range` keeps weights to 7 bits so that path cannot saturate on CPUs without VNNI. Only
    products with a constant weight are quantized (QAttention's projections are, per channel too),
    and the embedding tables (kept in int8, as the unfused graph's Gather is): attention's
    activation x activation products stay fp32. Measured side by side (BENCHMARKS.md,
    issue 4): faster than the optimum preset, the same cosine to fp32.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source), str(target),
        op_types_to_quantize=["MatMul", "Gather", "Attention", "EmbedLayerNormalization"],
        per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
        # The fused kernels' outputs have no inferred type; they are all float.
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
    )
