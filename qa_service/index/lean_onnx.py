"""The lean ONNX runtime: fast tokenizer + ONNX Runtime session + pooling + normalisation.

It gives sentence-transformers' vectors (to ~1e-6) without sentence-transformers or torch, at a
fraction of the per-call overhead; onnx_export.py checks that once per export.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .pooling import normalise


class LeanOnnx:
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
        # ONNX Runtime's intra-op threads spin briefly between operators (its default): with spinning off, one
        # question and batches were both slower for the same CPU time per text, when this was chosen (the
        # encoder's figures: BENCHMARKS.md, "Encoder").
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        if len(texts) == 1:
            return [self._tokenizer.encode(texts[0]).ids]
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def tokenize_with_offsets(self, texts: Sequence[str]) -> list[tuple[list[int], np.ndarray]]:
        """Token ids and each token's character span in its text (empty for [CLS] and [SEP])."""
        return [(e.ids, np.array(e.offsets, dtype=np.int64).reshape(-1, 2))
                for e in self._tokenizer.encode_batch(list(texts))]

    def encode_batch(self, ids: list[list[int]], solo: bool = False) -> np.ndarray:
        """Pooled, normalised vectors for token-id lists of any lengths (padded here); `solo` may use more threads."""
        tokens, mask = self.token_outputs(ids, solo)
        return self.pool(tokens, mask)

    def token_outputs(self, ids: list[list[int]], solo: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The model's token outputs for a batch (padded here to its longest row) and the attention mask."""
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
        return session.run([self._output], feeds)[0], mask

    def pool(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The model's own pooling (mean or [CLS], as its export says), normalised."""
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        elif len(tokens) == 1:
            pooled = tokens.mean(axis=1)
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalise(pooled)
