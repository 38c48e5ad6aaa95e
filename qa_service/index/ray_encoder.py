"""An Encoder whose batch calls run on a Ray cluster: the embedding of a build, spread over many machines.

Only the embedding moves. The machine that owns the index still reads the corpus, carries unchanged
articles over, cuts, writes the generation and switches it in (generation/build.py, unchanged): it hands
build_index a RayEncoder instead of the Embedder, and the fault guarantees stay those of a local build.

Each Ray actor holds one Embedder, loaded once, on one intra-op thread (several one-thread encoders use
cores better than one encoder on all of them), and runs any of its batch methods by name
(EncoderActor.run); RayEncoder.map_batches sends batches to the actors, so forwarding another batch method
of the Encoder is a few lines. Plain actors rather than Ray Data's map_batches over an actor pool: Ray Data
was slower on the same work when this was chosen, puts its own executor in front of every build, and
gives the rows back in no fixed order.

The vectors are the local build's: the texts go out in exactly the batches the local Embedder forms
(Embedder.batches), since the int8 model's vector for a text depends a little on its batch. Single texts and
token counts stay on the local Embedder.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from ..config import Config, bundled_model_path
from .embedder import BUNDLED_MODEL_NAME, Embedder, Progress, load_embedder
from .pooling import PassageOutputs, Span

LOCAL = "auto"  # --ray auto: a Ray started for this build, on this machine, ended with it
IN_FLIGHT = 2  # batches queued per actor, so that none waits for the driver between two batches
OBJECT_STORE_BYTES = 256 * 2**20  # a local Ray's shared memory: batches of texts and vectors are small
CONNECT_SECONDS = 10.0


class RayUnavailable(RuntimeError):
    """Ray is not installed, the cluster cannot be reached or runs another encoder, or it failed mid-build."""


def check_address(address: str) -> None:
    """Refuse a malformed address, or Ray missing, before anything is loaded or started."""
    if importlib.util.find_spec("ray") is None:
        raise RayUnavailable("Ray is not installed: pip install 'qa_service[ray]'")
    if address != LOCAL:
        _host_port(address)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"--ray {address!r}: expected auto, HOST:PORT (6379) or ray://HOST:PORT (10001)")
    return host.strip("[]"), int(port)


@contextmanager
def ray_session(address: str, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for one build: `auto` starts a local Ray of `num_cpus` CPUs (default: every core); an address
    joins that cluster. Either way the driver leaves it at the end (a local Ray stops with it)."""
    check_address(address)
    import ray

    if address == LOCAL:
        options: dict[str, Any] = {"address": "local", "num_cpus": num_cpus or os.cpu_count(),
                                   "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False}
    else:
        host, port = _host_port(address)
        try:  # ray.init retries an unreachable address for a long time: one quick look first
            socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
        except OSError as exc:
            raise RayUnavailable(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None
        options = {"address": address}
    try:
        ray.init(**options, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot start or join Ray at {address}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


class EncoderActor:
    """One Ray actor's encoder, loaded once: runs any batch method of the Embedder by name."""

    def __init__(self, config: Config, bundled: bool):
        # The bundled model is found where this node installed it; another model must be at the same path.
        self.embedder = load_embedder(replace(config, model=bundled_model_path()) if bundled else config)

    def describe(self) -> tuple[str, str, int]:
        return self.embedder.name, self.embedder.encoder, self.embedder.dimension

    def run(self, method: str, args: tuple, kwargs: dict) -> Any:
        return getattr(self.embedder, method)(*args, **kwargs)


class RayEncoder:
    """The Encoder interface, with `encode` of many texts on Ray actors; everything else on `local`.

    Needs a Ray session (ray_session). The actors are started at the first batch (a build with nothing
    new to embed starts none), one per CPU of the cluster unless `actors` says how many; close() ends them.
    """

    def __init__(self, config: Config, local: Embedder, actors: int | None = None):
        self.local = local
        self.name, self.backend, self.encoder = local.name, local.backend, local.encoder
        self.dimension, self.max_tokens = local.dimension, local.max_tokens
        self._config = replace(config, encoder_threads=1, encoder_solo_threads=0, query_cache=0)
        self._count = actors
        self._actors: list | None = None

    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    def warm_up(self) -> None:
        self.local.warm_up()

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        texts = list(texts)
        if len(texts) <= 1:
            return self.local.encode(texts, batch_size=batch_size, progress=progress)
        batches = self.local.batches(texts, batch_size)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)

        def done(number: int, vectors: np.ndarray) -> None:
            out[batches[number]] = vectors
            if progress:
                progress(len(batches[number]))

        self.map_batches("encode", [([texts[i] for i in rows],) for rows in batches], done, batch_size=batch_size)
        return out

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Sequence[Span]], batch_size: int = 32,
                        progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Embedder.encode_passages on the actors, in the local batches: each text's vector and its spans'."""
        out = PassageOutputs(len(texts), spans, self.dimension)
        batches = self.local.batches(texts, batch_size) if len(texts) else []

        def done(number: int, result: tuple[np.ndarray, np.ndarray]) -> None:
            out.put(batches[number], *result)
            if progress:
                progress(len(batches[number]))

        if batches:  # else no actor is started
            self.map_batches("encode_passages", [([texts[i] for i in rows], [spans[i] for i in rows])
                                                 for rows in batches], done, batch_size=batch_size)
        return out.result()

    def map_batches(self, method: str, batches: Sequence[tuple], done: Callable[[int, Any], None], **kwargs) -> None:
        """embedder.<method>(*batch, **kwargs) for every batch (a tuple of arguments), on the actors, IN_FLIGHT
        at a time per actor; `done(number, result)` is told of each batch as it comes back
        (in the order they finish)."""
        import ray

        actors = self._pool()
        waiting = iter(enumerate(batches))
        running: dict = {}

        def send(actor) -> None:
            item = next(waiting, None)
            if item is not None:
                running[actor.run.remote(method, item[1], kwargs)] = (item[0], actor)

        try:
            for actor in actors:
                for _ in range(IN_FLIGHT):
                    send(actor)
            while running:
                [ref], _ = ray.wait(list(running), num_returns=1)
                number, actor = running.pop(ref)
                result = ray.get(ref)
                send(actor)
                done(number, result)
        except ray.exceptions.RayError as exc:
            raise RayUnavailable(f"the Ray cluster failed during the build: {_last_line(exc)}") from None

    def _pool(self) -> list:
        if self._actors is None:
            import ray

            count = self._count or max(1, int(ray.cluster_resources().get("CPU", 1)))
            actor_class = ray.remote(num_cpus=1)(EncoderActor)
            self._actors = [actor_class.remote(self._config, self.name == BUNDLED_MODEL_NAME) for _ in range(count)]
            try:
                found = set(ray.get([actor.describe.remote() for actor in self._actors]))
            except ray.exceptions.RayError as exc:
                raise RayUnavailable(f"the Ray workers could not load the encoder: {_last_line(exc)}") from None
            if found != {(self.name, self.encoder, self.dimension)}:
                raise RayUnavailable(f"the Ray workers run {sorted(found)}, not {self.name} {self.encoder}: install "
                                     "the same qa_service and model on every node")
        return self._actors

    def close(self) -> None:
        if self._actors:
            import ray

            for actor in self._actors:
                ray.kill(actor)
        self._actors = None


def _last_line(exc: Exception) -> str:
    """An error raised on an actor comes with its traceback; its last line says what went wrong."""
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__


@contextmanager
def ray_encoder(config: Config, local: Embedder) -> Iterator[RayEncoder]:
    """The build's encoder on the Ray that config.ray_address names, for the length of one build."""
    assert config.ray_address, "a Ray address (or auto)"
    with ray_session(config.ray_address):
        encoder = RayEncoder(config, local)
        try:
            yield encoder
        finally:
            encoder.close()
