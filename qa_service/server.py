"""Running the Flask app under gunicorn, configured from Python rather than a config file.

Each worker process loads the encoder and the index once, before it accepts a connection, and
serves requests from a few threads. The cores are divided between the workers: an encoder (and
FAISS) in each worker uses cores // workers threads, so two workers on two cores never fight
over a core. $QA_ENCODER_THREADS overrides that.
"""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from .config import Config
from .embedder import THREADS_ENV


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class _Gunicorn(BaseApplication):
    def __init__(self, config: Config, options: dict, compute_threads: int):
        self.qa_config = config
        self.options = options
        self.compute_threads = compute_threads
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Runs in each worker after the fork: the model is loaded here, once per worker."""
        import faiss

        from .web import create_app

        faiss.omp_set_num_threads(self.compute_threads)
        app = create_app(self.qa_config)
        app.extensions["qa_service"].warm_up()
        return app


def run_gunicorn(config: Config, host: str, port: int, workers: int = 2, threads: int = 4,
                 access_log: bool = True) -> None:
    """Each worker loads the model once at start (never per request) and then serves threads."""
    os.environ.setdefault(THREADS_ENV, str(threads_per_worker(workers)))
    compute_threads = int(os.environ[THREADS_ENV])
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 30,
        "keepalive": 5,
    }
    if access_log:
        options.update({"accesslog": "-", "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'})
    _Gunicorn(config, options, compute_threads).run()
