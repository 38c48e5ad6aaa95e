"""One encoder object: a batch of texts in, L2-normalised float32 vectors out.

The model is always loaded from a local folder with the Hugging Face hub switched off, so
nothing ever reaches for the network. The ONNX backends export the model once into a model cache
(never into site-packages; by default the user's cache folder, shared by every index folder) and
reuse that export afterwards.

The ONNX backends run without sentence-transformers (or torch) once the export exists: the
fast tokenizer and an ONNX Runtime session are called directly, with the same mean pooling and
normalisation, which gives the same vectors (to ~1e-6) at a fraction of the per-call overhead.
The export is checked against sentence-transformers once, when it is made; a model this lean
path cannot reproduce (another pooling, extra layers) is served through sentence-transformers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .integrity import damaged_files, file_checksums
from .occupancy import Occupancy

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx-int8"
BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
FP32_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8_per_channel.onnx"
FUSED_FILE = "onnx/model_fused.onnx"  # staging only: the fp32 graph the int8 file is quantized from
SPEC_FILE = "qa_encoder.json"
SPEC_VERSION = 4  # bumped whenever an export would give other vectors: exports and index vectors are made again
THREADS_ENV = "QA_ENCODER_THREADS"
SOLO_THREADS_ENV = "QA_ENCODER_SOLO_THREADS"
CACHE_ENV = "QA_QUERY_CACHE"
QUERY_CACHE_SIZE = 1024
TORCH_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot")
Progress = Callable[[int], None]
log = logging.getLogger(__name__)


class ModelError(RuntimeError):
    """The model folder is missing or not a sentence-transformers model."""


def model_name_for(model_path: str) -> str:
    """The name stored with an index: the hub name for the bundled model, else the folder name."""
    from .config import bundled_model_path

    if Path(model_path).resolve() == Path(bundled_model_path()).resolve():
        return BUNDLED_MODEL_NAME
    return Path(model_path).resolve().name


def encoder_id(backend: str) -> str:
    """What made an index's vectors, beyond the model: the runtime and the version of the export recipe.

    Stored in the manifest; vectors are reused, and an index is up to date, only for the same id.
    Known without loading the model, so `qa-service index` can tell it has nothing to do.
    """
    return backend if backend == "torch" else f"{backend}/{SPEC_VERSION}"


def encoder_threads(threads: int | None = None) -> int:
    """Intra-op threads per encoder: the argument, else $QA_ENCODER_THREADS, else every core."""
    if threads is None and os.environ.get(THREADS_ENV, "").strip():
        threads = int(os.environ[THREADS_ENV])
    return max(1, threads or os.cpu_count() or 1)


def solo_encoder_threads() -> int | None:
    """Threads for a question that is the only one being answered: $QA_ENCODER_SOLO_THREADS, else every core.

    0 turns that off (every question on QA_ENCODER_THREADS), e.g. where the tail latency matters more
    than the median: two threads are more exposed to a busy neighbour on a shared machine.
    """
    value = os.environ.get(SOLO_THREADS_ENV, "").strip()
    return (int(value) or None) if value else os.cpu_count()


def _source_fingerprint(model_path: str) -> str:
    """Names, sizes and mtimes of the model's files: a changed model gets a fresh export."""
    digest = hashlib.sha256()
    root = Path(model_path)
    for file in sorted(p for p in root.rglob("*") if p.is_file() and "onnx" not in p.relative_to(root).parts):
        stat = file.stat()
        digest.update(f"{file.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _onnx_model_folder(model_path: str, cache_dir: Path, int8: bool) -> Path:
    """The model's ONNX export (fp32, or int8), made once under `cache_dir` and reused after.

    An exclusive lock makes concurrent starters (several gunicorn workers, a build beside a server)
    wait for one export instead of each writing its own over the others. The folder is named by the
    model and the export recipe (SPEC_VERSION), so one cache serves every index folder, and a program
    with another recipe keeps its own export beside it instead of deleting this one.
    """
    target = cache_dir / f"{model_name_for(model_path).replace('/', '--')}.recipe-{SPEC_VERSION}"
    wanted = INT8_FILE if int8 else FP32_FILE
    cache_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = _source_fingerprint(model_path)
    with open(cache_dir / ".export.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if target.exists() and _read_spec(target).get("source") != fingerprint:
                shutil.rmtree(target)  # made from another version of the model (or by older code)
            damage = _export_damage(target) if (target / wanted).exists() else None
            if damage:
                log.warning("the ONNX export in %s is damaged (%s); exporting it again", target, damage)
                shutil.rmtree(target)
            if not (target / wanted).exists():
                log.info("exporting %s to ONNX (%s) in %s, once", model_path, wanted, target)
                _export(model_path, target, fingerprint, int8)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def _export_damage(folder: Path) -> str | None:
    """Why an export cannot be trusted (a file truncated or changed since it was made), or None.

    A truncated ONNX file stopped every worker from starting, and nothing made it again.
    """
    recorded = _read_spec(folder).get("checksums")
    if not isinstance(recorded, dict) or not recorded:
        return "made before its files' checksums were kept"
    return "; ".join(damaged_files(folder, recorded)) or None


def _write_spec(folder: Path, spec: dict) -> None:
    tmp = folder / (SPEC_FILE + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2) + "\n")
    os.replace(tmp, folder / SPEC_FILE)


def _read_spec(folder: Path) -> dict:
    try:
        spec = json.loads((folder / SPEC_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return spec if spec.get("version") == SPEC_VERSION else {}


@contextmanager
def _quiet():
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
    with _quiet():
        exported = SentenceTransformer(str(staging), backend="onnx", device="cpu", local_files_only=True)
        exported.save_pretrained(str(staging))
        spec = _lean_spec(exported, staging, fingerprint)
        if int8:
            _quantize(_fused_graph(staging, spec), staging / INT8_FILE)
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
        kept = _read_spec(target)
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
        lean = _LeanOnnx(folder, FP32_FILE, spec, threads=1)
        spec["lean"] = bool(np.abs(lean.encode_batch(lean.tokenize(probe)) - reference).max() < 1e-4)
    return spec


def _fused_graph(folder: Path, spec: dict) -> Path:
    """The fp32 graph with each layer's attention, GELU and layer norms fused into ONNX Runtime's BERT kernels.

    Quantized afterwards, the fused graph runs one QAttention kernel per layer instead of a dozen small
    operators, which is what a short question's time is made of: measured on 2 cores, one question
    ~10% faster on two threads (2.48 vs 2.70 ms in BENCHMARKS.md), batches as fast, the same cosine
    to PyTorch fp32. The fusion is kept only if the fused fp32 graph gives the plain graph's vectors;
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
            lean = _LeanOnnx(folder, file_name, spec, threads=1)
            vectors.append(lean.encode_batch(lean.tokenize(probe)))
        if np.abs(vectors[0] - vectors[1]).max() < 1e-4:
            return folder / FUSED_FILE
        log.info("fused graph of %s changes its vectors; quantizing the plain graph", folder.name)
    except Exception as exc:  # any model the BERT fusion cannot read is still served, unfused
        log.info("cannot fuse the graph of %s (%s); quantizing the plain graph", folder.name, exc)
    (folder / FUSED_FILE).unlink(missing_ok=True)
    return plain


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 with per-channel weight scales, from the fp32 export (fused where it could be).

    Per-tensor int8 loses too much cosine to keep rankings. Signed int8 weights (u8 activations x s8
    weights) take AVX2's fast VPMADDUBSW path that optimum's avx2 preset (u8 x u8) does not;
    `reduce_range` keeps weights to 7 bits so that path cannot saturate on CPUs without VNNI. Only
    products with a constant weight are quantized (QAttention's projections are, per channel too),
    and the embedding tables (kept in int8, as the unfused graph's Gather is): attention's
    activation x activation products stay fp32. Measured side by side (BENCHMARKS.md,
    issue 4): faster than the optimum preset, same cosine to fp32 (0.992 on average).
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


class _LeanOnnx:
    """Fast tokenizer + ONNX Runtime session + pooling + normalisation, without sentence-transformers."""

    def __init__(self, folder: Path, file_name: str, spec: dict, threads: int, solo_threads: int | None = None):
        from tokenizers import Tokenizer

        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        padding = self._tokenizer.padding or {}
        self._pad_id = int(padding.get("pad_id", self._tokenizer.token_to_id("[PAD]") or 0))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=spec["max_seq_length"])
        self.pooling = spec["pooling"]
        self.session = self._session(folder / file_name, threads)
        # A second session on more threads, for a question encoded while no other encode runs (see occupancy.py).
        self.solo_session = self._session(folder / file_name, solo_threads) \
            if solo_threads and solo_threads > threads else None
        self._inputs = {i.name for i in self.session.get_inputs()}
        names = [o.name for o in self.session.get_outputs()]
        self._output = next((n for n in ("last_hidden_state", "token_embeddings") if n in names), names[0])

    @staticmethod
    def _session(path: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's intra-op threads spin briefly between operators (its default). Measured with 2 threads:
        # one question 35% faster than with spinning off, batches 8% faster, the same CPU time per text.
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        if len(texts) == 1:
            return [self._tokenizer.encode(texts[0]).ids]
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def encode_batch(self, ids: list[list[int]], solo: bool = False) -> np.ndarray:
        """Pooled, normalised vectors for token-id lists of any lengths (padded here); `solo` may use more threads."""
        width = max(len(row) for row in ids)
        input_ids = np.full((len(ids), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, :len(row)] = row
            mask[i, :len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        session = self.solo_session if solo and self.solo_session is not None else self.session
        tokens = session.run([self._output], feeds)[0]
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        elif len(ids) == 1:
            pooled = tokens.mean(axis=1)
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)


class Embedder:
    """Texts in, normalised float32 rows out; the same interface whichever runtime runs the model.

    `encode` sorts its texts by length so that each batch pads little (order is restored), and
    keeps the vectors of the last few single texts it encoded (questions asked again cost nothing);
    set $QA_QUERY_CACHE to 0 to switch that off.
    """

    def __init__(self, model_path: str, backend: str = DEFAULT_BACKEND, cache_dir: Path | None = None,
                 threads: int | None = None, occupancy: Occupancy | None = None):
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if not (Path(model_path) / "modules.json").exists() and not (Path(model_path) / "config.json").exists():
            raise ModelError(f"no sentence-transformers model in {model_path}")
        self.name = model_name_for(model_path)
        self.backend = backend
        self.encoder = encoder_id(backend)
        self.threads = encoder_threads(threads)
        # Counts the questions being answered (in this process, or in every worker of a server: see occupancy.py);
        # a question encoded while it is the only one gets every core.
        self.occupancy = occupancy or Occupancy()
        self._lean: _LeanOnnx | None = None
        self._model = None
        self.model_file: Path | None = None  # the ONNX file in use (None for torch)
        if backend == "torch":
            self._load_torch(model_path)
        else:
            cache = Path(cache_dir) if cache_dir else Path(model_path).parent
            folder = _onnx_model_folder(model_path, cache, int8=backend == "onnx-int8")
            spec = _read_spec(folder)
            file_name = INT8_FILE if backend == "onnx-int8" else FP32_FILE
            self.model_file = (folder / file_name).resolve()
            if spec.get("lean"):
                self._lean = _LeanOnnx(folder, file_name, spec, self.threads, solo_encoder_threads())
                self.dimension = int(spec["dimension"])
                self.max_tokens = int(spec["max_seq_length"]) - 2  # room for [CLS] and [SEP]
            else:
                self._load_sentence_transformers(str(folder), backend="onnx", model_kwargs={"file_name": file_name})
        self._cache_size = int(os.environ.get(CACHE_ENV) or QUERY_CACHE_SIZE)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _load_torch(self, model_path: str) -> None:
        import torch

        if os.environ.get(THREADS_ENV, "").strip():
            torch.set_num_threads(self.threads)
        self._load_sentence_transformers(model_path, backend="torch")

    def _load_sentence_transformers(self, folder: str, **kwargs) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(folder, device="cpu", local_files_only=True, **kwargs)
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length) - 2  # room for [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        if self._lean is not None:
            return self._lean.count_tokens(text)
        return len(self._model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Encode in batches of similar length; `progress` is told how many texts each batch finished."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            vector = self._cached(texts[0]) if self._cache_size > 0 else self._encode_question(texts[0])
            if progress:
                progress(1)
            return vector
        return self._encode_sorted(texts, batch_size, progress)

    def _encode_question(self, text: str) -> np.ndarray:
        if self._lean is None:
            return self._encode_sorted([text], 1, None)
        alone = self.occupancy.running() <= 1  # this question (when counted) and no other
        return self._lean.encode_batch(self._lean.tokenize([text]), solo=alone)

    def _cached(self, text: str) -> np.ndarray:
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit.copy()
        vector = self._encode_question(text)
        with self._cache_lock:
            self._cache[text] = vector.copy()
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def _encode_sorted(self, texts: list[str], batch_size: int, progress: Progress | None) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if self._lean is not None:
            ids = self._lean.tokenize(texts)
            lengths = [len(row) for row in ids]
        else:
            lengths = [len(text) for text in texts]
        order = np.argsort(np.negative(lengths), kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            if self._lean is not None:
                out[rows] = self._lean.encode_batch([ids[i] for i in rows])
            else:
                out[rows] = self._model.encode(
                    [texts[i] for i in rows], batch_size=batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                )
            if progress:
                progress(len(rows))
        return out
