"""One encoder object: a batch of texts in, L2-normalised float32 vectors out (the `Encoder` interface).

The model is always loaded from a local folder with the Hugging Face hub switched off, so
nothing ever reaches for the network. The ONNX backends run on the model's one-time export
(onnx_export.py), through the lean runtime (lean_onnx.py) when the export checked that it gives
sentence-transformers' vectors, else through sentence-transformers; the runtime is chosen once, when
the encoder is made.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import BACKENDS, DEFAULT_BACKEND, QUERY_CACHE_SIZE, Config, bundled_model_path
from .lean_onnx import LeanOnnx
from .occupancy import Occupancy
from .onnx_export import FP32_FILE, INT8_FILE, SPEC_VERSION, export_folder, read_spec
from .pooling import PassageOutputs, Span, normalise, pool_spans

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Question lengths (word pieces) a server encodes once before its first request: ONNX Runtime's first run
# at a new sequence length pays for allocations that later runs at that length reuse (BENCHMARKS.md).
WARM_UP_LENGTHS = (4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64)
Progress = Callable[[int], None]


class Encoder(Protocol):
    """What the index build and the service need of an encoder: the real one (Embedder) or a test double."""

    name: str  # the model's name, stored with an index
    backend: str  # the runtime ("onnx-int8", ...)
    encoder: str  # what made the vectors beyond the model (encoder_id): vectors are reused only for the same
    dimension: int
    max_tokens: int  # the longest text the model reads whole (passages are cut to fit)

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[Span]], batch_size: int = 32,
                        progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One pass per text: its vector, and a vector per span (its sentences) pooled from the same pass.

        Returns (one row per text, one row per span of every text in order); see pooling.py.
        """
        ...

    def warm_up(self) -> None:
        """Make the first questions as fast as later ones (a server calls this before it accepts requests)."""
        ...


class ModelError(RuntimeError):
    """The model folder is missing or not a sentence-transformers model."""


def model_name_for(model_path: str) -> str:
    """The name stored with an index: the hub name for the bundled model, else the folder name."""
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
    """Intra-op threads per encoder: the setting (Config.encoder_threads), else every core."""
    return max(1, threads or os.cpu_count() or 1)


def load_embedder(config: Config, occupancy: Occupancy | None = None) -> Embedder:
    """The encoder a configuration names, with its runtime settings."""
    return Embedder(config.model, config.backend, config.model_cache_dir, threads=config.encoder_threads,
                    occupancy=occupancy, solo_threads=config.encoder_solo_threads, query_cache=config.query_cache)


class SentenceTransformersRuntime:
    """A model served through sentence-transformers (torch, or an ONNX export the lean runtime cannot reproduce)."""

    def __init__(self, folder: str, **kwargs):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(folder, device="cpu", local_files_only=True, **kwargs)
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length) - 2  # room for [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def prepare(self, texts: list[str]) -> tuple[list, list[int]]:
        """(what encode_rows takes, a length per text to sort batches by)."""
        return list(texts), [len(text) for text in texts]

    def encode_rows(self, rows: list, solo: bool = False) -> np.ndarray:
        return self.model.encode(rows, batch_size=len(rows), normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)

    def prepare_offsets(self, texts: list[str]) -> tuple[list, list[np.ndarray]]:
        """(what token_outputs takes, each text's token character spans, empty for special tokens)."""
        found = self.model.tokenizer(texts, return_offsets_mapping=True, truncation=True,
                                     max_length=self.max_tokens + 2)["offset_mapping"]
        return list(texts), [np.array(row, dtype=np.int64).reshape(-1, 2) for row in found]

    def token_outputs(self, rows: list) -> tuple[list[np.ndarray], np.ndarray]:
        """(each text's token outputs, each text's normalised vector) from one forward pass."""
        outputs = self.model.encode(rows, batch_size=len(rows), output_value=None, show_progress_bar=False)
        tokens = [o["token_embeddings"][:int(o["attention_mask"].sum())].float().numpy() for o in outputs]
        return tokens, normalise(np.stack([o["sentence_embedding"].float().numpy() for o in outputs]))


class LeanRuntime:
    """The lean ONNX path (lean_onnx.py): texts are tokenised once, and batches are padded here."""

    def __init__(self, lean: LeanOnnx, spec: dict):
        self.lean = lean
        self.dimension = int(spec["dimension"])
        self.max_tokens = int(spec["max_seq_length"]) - 2  # room for [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        return self.lean.count_tokens(text)

    def prepare(self, texts: list[str]) -> tuple[list, list[int]]:
        ids = self.lean.tokenize(texts)
        return ids, [len(row) for row in ids]

    def encode_rows(self, rows: list, solo: bool = False) -> np.ndarray:
        return self.lean.encode_batch(rows, solo=solo)

    def prepare_offsets(self, texts: list[str]) -> tuple[list, list[np.ndarray]]:
        ids, offsets = zip(*self.lean.tokenize_with_offsets(texts), strict=True)
        return list(ids), list(offsets)

    def token_outputs(self, rows: list) -> tuple[list[np.ndarray], np.ndarray]:
        tokens, mask = self.lean.token_outputs(rows)
        return [tokens[i, :len(row)] for i, row in enumerate(rows)], self.lean.pool(tokens, mask)


class Embedder:
    """Texts in, normalised float32 rows out; the same interface whichever runtime runs the model.

    `encode` sorts its texts by length so that each batch pads little (order is restored), and
    keeps the vectors of the last `query_cache` single texts it encoded (questions asked again cost
    nothing; 0 switches that off). `threads` and `solo_threads` are Config.encoder_threads and
    Config.encoder_solo_threads.
    """

    def __init__(self, model_path: str, backend: str = DEFAULT_BACKEND, cache_dir: Path | None = None,
                 threads: int | None = None, occupancy: Occupancy | None = None, solo_threads: int | None = None,
                 query_cache: int = QUERY_CACHE_SIZE):
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
        self.model_file: Path | None = None  # the ONNX file in use (None for torch)
        self.runtime: LeanRuntime | SentenceTransformersRuntime
        if backend == "torch":
            if threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            self.runtime = SentenceTransformersRuntime(model_path, backend="torch")
        else:
            cache = Path(cache_dir) if cache_dir else Path(model_path).parent
            folder = export_folder(model_path, self.name, cache, int8=backend == "onnx-int8")
            spec = read_spec(folder)
            file_name = INT8_FILE if backend == "onnx-int8" else FP32_FILE
            self.model_file = (folder / file_name).resolve()
            if spec.get("lean"):
                solo = os.cpu_count() if solo_threads is None else (solo_threads or None)
                self.runtime = LeanRuntime(LeanOnnx(folder, file_name, spec, self.threads, solo), spec)
            else:
                self.runtime = SentenceTransformersRuntime(str(folder), backend="onnx",
                                                           model_kwargs={"file_name": file_name})
        self.dimension = self.runtime.dimension
        self.max_tokens = self.runtime.max_tokens
        self._cache_size = query_cache
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return self.runtime.count_tokens(text)

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

    def warm_up(self, lengths: Sequence[int] = WARM_UP_LENGTHS) -> None:
        """Encode a question of each of these lengths on each session (alone, and beside other questions)."""
        for length in lengths:
            rows, _ = self.runtime.prepare([" ".join(["word"] * length)])
            self.runtime.encode_rows(rows, solo=True)
            self.runtime.encode_rows(rows, solo=False)

    def _encode_question(self, text: str) -> np.ndarray:
        alone = self.occupancy.running() <= 1  # this question (when counted) and no other
        rows, _ = self.runtime.prepare([text])
        return self.runtime.encode_rows(rows, solo=alone)

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

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[Span]], batch_size: int = 32,
                        progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One encoder pass per text gives its vector and its spans' vectors (the Encoder interface; pooling.py)."""
        texts = list(texts)
        out = PassageOutputs(len(texts), spans, self.dimension)
        prepared, offsets = self.runtime.prepare_offsets(texts) if texts else ([], [])
        for rows in length_batches([len(o) for o in offsets], batch_size):  # the batches of batches()
            tokens, pooled = self.runtime.token_outputs([prepared[i] for i in rows])
            out.put(rows, pooled, np.concatenate([pool_spans(row_tokens, offsets[i], spans[i])
                                                  for i, row_tokens in zip(rows, tokens, strict=True)]))
            if progress:
                progress(len(rows))
        return out.result()

    def batches(self, texts: Sequence[str], batch_size: int = 32) -> list[np.ndarray]:
        """The positions of `texts` that `encode` runs together, one array per batch, longest texts first.

        The int8 model quantises each batch's activations with one scale, so a text's vector depends a
        little on the texts batched with it: an encoder that spreads a build over several processes
        (ray_encoder.py) sends them these batches, and gets the vectors a local build gets.
        """
        _, lengths = self.runtime.prepare(list(texts))
        return length_batches(lengths, batch_size)

    def _encode_sorted(self, texts: list[str], batch_size: int, progress: Progress | None) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        prepared, lengths = self.runtime.prepare(texts)
        for rows in length_batches(lengths, batch_size):
            out[rows] = self.runtime.encode_rows([prepared[i] for i in rows])
            if progress:
                progress(len(rows))
        return out


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Positions in batches of `batch_size`, by decreasing length (ties in input order): each batch pads little."""
    order = np.argsort(np.negative(np.asarray(lengths)), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
