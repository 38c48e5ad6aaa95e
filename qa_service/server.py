"""Running the Flask app under gunicorn, configured from Python rather than a config file."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from .config import Config


class _Gunicorn(BaseApplication):
    def __init__(self, config: Config, options: dict):
        self.qa_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from .web import create_app

        app = create_app(self.qa_config)
        app.extensions["qa_service"].warm_up()
        return app


def run_gunicorn(config: Config, host: str, port: int, workers: int = 2, threads: int = 4) -> None:
    """Each worker loads the model once at start (never per request) and then serves threads."""
    _Gunicorn(config, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "accesslog": "-",
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
    }).run()
