"""Running the Flask app under gunicorn, configured from Python rather than a config file.

Each worker process loads the encoder and the index once, before it accepts a connection, and
serves requests from a few threads. The cores are divided between the workers: an encoder (and
FAISS's OpenMP and numpy's BLAS) in each worker uses cores // workers threads, so two workers on
two cores never fight over a core ($QA_ENCODER_THREADS overrides that). A threaded BLAS or OpenMP
pool left at every core would spin against the other worker and stall a request for milliseconds.
A question encoded while no other encode runs in any worker uses every core instead (occupancy.py).
"""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from .config import Config
from .embedder import THREADS_ENV
from .metrics import configure_event_log, enable_multiprocess, log_event, remove_multiprocess_folder, worker_exited
from .occupancy import SharedOccupancy


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class _Gunicorn(BaseApplication):
    def __init__(self, config: Config, options: dict, compute_threads: int):
        self.qa_config = config
        self.options = options
        self.compute_threads = compute_threads
        self.occupancy = SharedOccupancy(slots=int(options["workers"]))  # made here, in the master, before any fork
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("pre_fork", self._pre_fork)
        self.cfg.set("post_fork", self._post_fork)
        self.cfg.set("child_exit", self._child_exit)

    def _pre_fork(self, server, worker) -> None:
        worker.qa_slot = self.occupancy.assign()

    def _post_fork(self, server, worker) -> None:
        self.occupancy.slot = worker.qa_slot

    def _child_exit(self, server, worker) -> None:
        self.occupancy.release(worker.qa_slot)
        worker_exited(worker.pid)

    def load(self):
        """Runs in each worker after the fork: the model is loaded here, once per worker."""
        from .service import limit_math_threads
        from .web import create_app

        limit_math_threads(self.compute_threads)
        configure_event_log()
        app = create_app(self.qa_config)
        service = app.extensions["qa_service"]
        service.occupancy = self.occupancy  # before the encoder is loaded (by warm_up), which shares it
        service.warm_up()
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
    metrics_folder = enable_multiprocess()  # before any worker: /metrics adds up every worker's counts
    configure_event_log()
    admin = "enabled" if config.admin_token else "disabled"
    log_event("start", bind=options["bind"], workers=workers, threads=threads, admin_api=admin,
              log_questions=config.log_questions, index_dir=str(config.index_dir),
              message=f"admin API {admin}: POST/DELETE /api/articles "
                      + ("need the token" if config.admin_token else "answer 403 (set QA_ADMIN_TOKEN to enable)"))
    try:
        _Gunicorn(config, options, compute_threads).run()
    finally:
        remove_multiprocess_folder(metrics_folder)
