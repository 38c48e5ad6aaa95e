"""What the commands share: settings from the group's options, one-line errors, progress, search filters."""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path

import click

from ..config import Config

PATH = click.Path(path_type=Path)


def config_of(ctx: click.Context, **overrides) -> Config:
    """The settings: defaults, QA_* variables, the group's --model/--backend, then the command's own flags."""
    return Config.from_env(**{**ctx.obj, **overrides})


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def os_error(exc: OSError, doing: str, index_unchanged: bool = True) -> str:
    """One line for a disk or permission error, saying what to do (a traceback says neither)."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some disk space and run the command again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "run it as a user who may write there, or choose another folder"
    else:
        hint = "check the disk and the folder's permissions"
    unchanged = " The served index is unchanged." if index_unchanged else ""
    return f"cannot {doing}: {exc.strerror or exc}{where}; {hint}.{unchanged}"


PROGRESS_EVERY_SECONDS = 5.0


def progress_bar(total: int, label: str):
    """A bar on a terminal; elsewhere (a log file, CI, a pipe) a line every few seconds, which a bar cannot give."""
    if not sys.stderr.isatty():
        return progress_lines(total, label)
    bar = click.progressbar(length=total, label=f"{label} {total} texts", file=sys.stderr)
    bar.__enter__()
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        bar.update(n)
        if done[0] >= total:
            bar.__exit__(None, None, None)

    return tick



def progress_lines(total: int, label: str, every: float = PROGRESS_EVERY_SECONDS, clock=time.monotonic,
                   echo=None):
    """tick(n) for a build: prints `label: done/total (pct), rate/s` at most every `every` seconds, and at the end."""
    echo = echo or (lambda line: click.echo(line, err=True))
    started = clock()
    state = {"done": 0, "printed": started}

    def tick(n: int) -> None:
        state["done"] += n
        now = clock()
        if now - state["printed"] < every and state["done"] < total:
            return
        state["printed"] = now
        elapsed = max(now - started, 1e-9)
        echo(f"{label}: {state['done']}/{total} texts ({100 * state['done'] // max(total, 1)}%), "
             f"{state['done'] / elapsed:.1f} texts/s, {elapsed:.0f} s")

    return tick


def filter_options(command):
    """--date-from, --date-to and --article, shared by `ask` and `chat`."""
    day = click.DateTime(formats=["%Y-%m-%d"])
    command = click.option("--article", "articles", multiple=True, metavar="ID",
                           help="Search only this article (repeat for several; ids as in /api/articles).")(command)
    command = click.option("--date-to", type=day, help="Only articles dated on or before this day (YYYY-MM-DD).")(
        command)
    command = click.option("--date-from", type=day, help="Only articles dated on or after this day (YYYY-MM-DD).")(
        command)
    return command


def filters_of(date_from, date_to, articles):
    from ..reading.search import Filters

    if date_from and date_to and date_from > date_to:
        fail(f"--date-from {date_from:%Y-%m-%d} is after --date-to {date_to:%Y-%m-%d}")
    return Filters(
        date_from=f"{date_from:%Y-%m-%d}" if date_from else None,
        date_to=f"{date_to:%Y-%m-%d}" if date_to else None,
        articles=tuple(articles) or None,
    )


def unknown_article_warnings(service, filters) -> list[str]:
    known = service.snapshot().articles
    return [f"no article with id {a!r}; it was left out of the search"
            for a in dict.fromkeys(filters.articles or ()) if a not in known]
