"""`qa-service serve`: the chat page and the JSON API under gunicorn."""

from __future__ import annotations

import click

from .common import PATH, config_of, fail


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True, help="Index folder.")
@click.option("--corpus", "corpus_dir", type=PATH, envvar="QA_CORPUS_DIR", show_envvar=True,
              help="Corpus folder, for articles added over HTTP.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Threads per worker.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, index_dir, corpus_dir, workers: int, threads: int) -> None:
    """Serve the chat page and the JSON API under gunicorn."""
    from ..serving.server import CannotListen, run_gunicorn

    config = config_of(ctx, index_dir=index_dir, corpus_dir=corpus_dir)
    try:
        run_gunicorn(config, host=host, port=port, workers=workers, threads=threads)
    except CannotListen as exc:
        fail(str(exc))
