"""The `qa-service` command: index, publish, import, serve, ask, chat, overview, eval, fit.

A thin layer over the core.

Each module holds a few commands (building, serving, asking, evaluating); common.py what they share.
"""

from __future__ import annotations

import click

from ..config import BACKENDS
from .asking import ask, chat, overview
from .building import import_command, index, publish
from .evaluating import eval_command, fit_command
from .serving import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", envvar="QA_MODEL", show_envvar=True,
              help="Local sentence-transformers model folder [default: bundled MiniLM].")
@click.option("--backend", type=click.Choice(BACKENDS), envvar="QA_BACKEND", show_envvar=True,
              help="Encoder runtime.")
@click.pass_context
def main(ctx: click.Context, model: str | None, backend: str | None) -> None:
    """Question answering over a newspaper's editorials."""
    ctx.obj = {"model": model, "backend": backend}


for command in (index, publish, import_command, serve, ask, overview, chat, eval_command, fit_command):
    main.add_command(command)
