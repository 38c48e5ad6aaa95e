"""One encoder object: a batch of texts in, L2-normalised float32 vectors out.

The model is always loaded from a local folder with the Hugging Face hub switched off, so
nothing ever reaches for the network. The ONNX backends export the model once into the index
folder's model cache (never into site-packages) and reuse that export afterwards.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BACKENDS = ("torch", "onnx", "onnx-int8")
BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
INT8_FILE = "onnx/model_qint8_avx2.onnx"
Progress = Callable[[int], None]


class ModelError(RuntimeError):
    """The model folder is missing or not a sentence-transformers model."""


def model_name_for(model_path: str) -> str:
    """The name stored with an index: the hub name for the bundled model, else the folder name."""
    from .config import bundled_model_path

    if Path(model_path).resolve() == Path(bundled_model_path()).resolve():
        return BUNDLED_MODEL_NAME
    return Path(model_path).resolve().name


def _onnx_model_folder(model_path: str, cache_dir: Path, int8: bool) -> tuple[str, dict]:
    """A copy of the model with its ONNX export, made once under `cache_dir`."""
    from sentence_transformers import SentenceTransformer

    target = cache_dir / model_name_for(model_path).replace("/", "--")
    fp32 = target / "onnx" / "model.onnx"
    if not fp32.exists():
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(model_path, staging, ignore=shutil.ignore_patterns("onnx", "*.onnx"))
        exported = SentenceTransformer(str(staging), backend="onnx", device="cpu")
        exported.save_pretrained(str(staging))
        if int8:
            _quantize(exported, staging)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    if int8 and not (target / INT8_FILE).exists():
        _quantize(SentenceTransformer(str(target), backend="onnx", device="cpu"), target)
    return str(target), {"file_name": INT8_FILE if int8 else "onnx/model.onnx"}


def _quantize(model, folder: Path) -> None:
    """Dynamic int8, per-channel: per-tensor int8 loses too much cosine to keep rankings."""
    from optimum.onnxruntime.configuration import AutoQuantizationConfig
    from sentence_transformers import export_dynamic_quantized_onnx_model

    config = AutoQuantizationConfig.avx2(is_static=False, per_channel=True)
    export_dynamic_quantized_onnx_model(model, config, str(folder), push_to_hub=False, file_suffix="qint8_avx2")


class Embedder:
    """Wraps a SentenceTransformer; `encode` always returns normalised float32 rows."""

    def __init__(self, model_path: str, backend: str = "torch", cache_dir: Path | None = None):
        from sentence_transformers import SentenceTransformer

        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if not (Path(model_path) / "modules.json").exists() and not (Path(model_path) / "config.json").exists():
            raise ModelError(f"no sentence-transformers model in {model_path}")
        self.name = model_name_for(model_path)
        self.backend = backend
        if backend == "torch":
            self._model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        else:
            cache = Path(cache_dir) if cache_dir else Path(model_path).parent
            cache.mkdir(parents=True, exist_ok=True)
            folder, kwargs = _onnx_model_folder(model_path, cache, int8=backend == "onnx-int8")
            self._model = SentenceTransformer(
                folder, backend="onnx", device="cpu", model_kwargs=kwargs, local_files_only=True
            )
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length) - 2  # room for [CLS] and [SEP]
        self._tokenizer = self._model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Encode in batches; `progress` is told how many texts each batch finished."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        chunks = []
        for i in range(0, len(texts), batch_size):
            batch = list(texts[i:i + batch_size])
            chunks.append(self._model.encode(
                batch, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            ))
            if progress:
                progress(len(batch))
        return np.ascontiguousarray(np.vstack(chunks), dtype=np.float32)
