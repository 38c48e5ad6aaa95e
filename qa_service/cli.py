"""The `qa-service` command: index, publish, serve, ask (and eval). A thin layer over the core."""

from __future__ import annotations

import contextlib
import errno
import json
import sys
import textwrap
import time
from pathlib import Path

import click

from .config import BACKENDS, DEFAULT_OVERVIEW_LIMIT, DEFAULT_TOP_K, MAX_OVERVIEW_LIMIT, MAX_TOP_K, MODES, Config

PATH = click.Path(path_type=Path)


def _config(ctx: click.Context, **overrides) -> Config:
    return Config.from_env(**{**ctx.obj, **overrides})


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _os_error(exc: OSError, doing: str, index_unchanged: bool = True) -> str:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", envvar="QA_MODEL", show_envvar=True,
              help="Local sentence-transformers model folder [default: bundled MiniLM].")
@click.option("--backend", type=click.Choice(BACKENDS), envvar="QA_BACKEND", show_envvar=True,
              help="Encoder runtime.")
@click.pass_context
def main(ctx: click.Context, model: str | None, backend: str | None) -> None:
    """Question answering over a newspaper's editorials."""
    ctx.obj = {"model": model, "backend": backend}


@main.command()
@click.option("--corpus", "corpus_dir", type=PATH, envvar="QA_CORPUS_DIR", show_envvar=True,
              help="Folder of article files [default corpus/].")
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True,
              help="Index folder [default embeddings/].")
@click.option("--force", is_flag=True,
              help="Read every file again and write a new generation even when the index is up to date.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.option("--ray", "ray_address", envvar="QA_RAY", show_envvar=True, metavar="auto|ADDRESS",
              help="Embed on Ray: auto starts a local Ray for this build; HOST:6379 or ray://HOST:10001 joins "
                   "a running cluster (pip install 'qa_service[ray]').")
@click.pass_context
def index(ctx: click.Context, corpus_dir, index_dir, force: bool, quiet: bool, as_json: bool,
          ray_address: str | None) -> None:
    """Build or update the index from the corpus folder (only new text is embedded)."""
    from .corpus import CorpusError, unread_files
    from .corpus_change import ChangeBusy, recover_pending
    from .embedder import ModelError, encoder_id, load_embedder, model_name_for
    from .generation.build import EmptyCorpus, IndexBusy, build_index, is_up_to_date
    from .ray_encoder import RayUnavailable, check_address, ray_encoder

    config = _config(ctx, corpus_dir=corpus_dir, index_dir=index_dir, ray_address=ray_address)
    if not config.corpus_dir.is_dir():
        _fail(f"corpus folder not found: {config.corpus_dir}")
    try:
        if config.ray_address:
            check_address(config.ray_address)
        recovered = recover_pending(config, wait_seconds=600.0)  # files a dead change moved aside come back first
        if recovered:
            click.echo(f"An interrupted article change was {recovered} before indexing.", err=True)
        if not force and is_up_to_date(config.index_dir, config.corpus_dir, model_name_for(config.model),
                                       encoder_id(config.backend), config.corpus_limits):
            for problem in unread_files(config.corpus_dir):  # not in the fingerprint, so never in a report
                click.echo(f"Skipped {problem}", err=True)
            click.echo(f"Index in {config.index_dir} is up to date with {config.corpus_dir}.")
            return
        embedder = load_embedder(config)
        with contextlib.ExitStack() as stack:
            encoder = stack.enter_context(ray_encoder(config, embedder)) if config.ray_address else embedder
            report = build_index(
                config.corpus_dir, config.index_dir, encoder, batch_size=config.batch_size,
                progress=None if quiet or as_json else _progress_bar, limits=config.corpus_limits, reparse=force,
            )
    except (CorpusError, EmptyCorpus, IndexBusy, ChangeBusy, ModelError, RayUnavailable) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc, f"write the index in {config.index_dir}"))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for problem in report.skipped:
        click.echo(f"Skipped {problem}", err=True)
    click.echo(
        f"Index {report.version}: articles {report.articles_added} added, {report.articles_updated} updated, "
        f"{report.articles_removed} removed, {report.articles_unchanged} unchanged, {len(report.skipped)} skipped; "
        f"passages {report.passages_added} added, {report.passages_removed} removed, {report.passages_total} in all; "
        f"{report.texts_embedded} texts embedded in {report.seconds:.1f} s."
    )


@main.command()
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True,
              help="Index folder to publish from [default embeddings/].")
@click.option("--to", "target_dir", type=PATH, required=True,
              help="Folder to publish into (e.g. another machine's volume), which replicas serve with --index.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def publish(ctx: click.Context, index_dir, target_dir: Path, as_json: bool) -> None:
    """Copy the served index generation into another folder and switch it in there last.

    \b
    The files are copied under a .partial name, checked against the manifest's checksums, fsynced and
    renamed before the target's CURRENT names them, so servers on the target never see half a copy.
    Nothing is copied when the target serves that version already. Older generations there are pruned
    as a build prunes them.
    """
    from .generation.build import IndexBusy
    from .generation.publish import CopyDamaged, PublishRefused, publish_index

    config = _config(ctx, index_dir=index_dir)
    try:
        report = publish_index(config.index_dir, target_dir)
    except (PublishRefused, CopyDamaged, IndexBusy) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc, f"publish {config.index_dir} into {target_dir}", index_unchanged=False)
              + " The target's index is unchanged.")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif report.up_to_date:
        click.echo(f"{target_dir} serves index {report.version} already ({report.generation}); nothing copied.")
    else:
        click.echo(f"Published index {report.version} into {target_dir} as {report.generation}: "
                   f"{report.files_copied} files, {report.bytes_copied / 1e6:.1f} MB in {report.seconds:.1f} s.")


PROGRESS_EVERY_SECONDS = 5.0


def _progress_bar(total: int, label: str):
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


@main.command("import")
@click.argument("export_file", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--corpus", "corpus_dir", type=PATH, envvar="QA_CORPUS_DIR", show_envvar=True,
              help="Folder of article files [default corpus/].")
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True,
              help="Index folder [default embeddings/].")
@click.option("--replace", is_flag=True, help="Replace articles whose id is in the corpus already (else refused).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def import_command(ctx: click.Context, export_file: Path, corpus_dir, index_dir, replace: bool, as_json: bool) -> None:
    """Import a JSON Lines or CSV export (one article per row) into the corpus, then update the index.

    \b
    Columns / keys: title, text (required), date (YYYY-MM-DD), url, author, id (default: from the title).
    Each row becomes one Markdown file in the corpus. Rows that are wrong, or whose id is in the
    corpus already (without --replace), are refused and listed with their row number; the exit
    status is then 1, after the good rows are imported.
    """
    from .corpus import CorpusError
    from .embedder import ModelError, load_embedder
    from .generation.build import EmptyCorpus, IndexBusy
    from .importer import ExportUnreadable, import_export

    config = _config(ctx, corpus_dir=corpus_dir, index_dir=index_dir)
    try:
        report = import_export(
            export_file, config.corpus_dir, config.index_dir,
            lambda: load_embedder(config),
            replace=replace, batch_size=config.batch_size, progress=None if as_json else _progress_bar,
            limits=config.corpus_limits,
        )
    except (ExportUnreadable, CorpusError, EmptyCorpus, IndexBusy, ModelError) as exc:
        _fail(f"{exc}; nothing was imported")
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or export_file}; nothing was imported")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for item in report.imported:
            click.echo(f"Imported row {item.row} as {item.id} ({config.corpus_dir / item.file})"
                       + (", replacing the article with that id" if item.replaced else ""))
        for refused in report.refused:
            click.echo(f"Refused {refused}", err=True)
        summary = f"{len(report.imported)} imported, {len(report.refused)} refused"
        if report.build:
            summary += (f"; index {report.build.version}: {report.build.passages_total} passages, "
                        f"{report.build.texts_embedded} texts embedded")
        click.echo(summary + ".")
    if report.refused:
        sys.exit(1)


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


@main.command()
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
    from .server import CannotListen, run_gunicorn

    config = _config(ctx, index_dir=index_dir, corpus_dir=corpus_dir)
    try:
        run_gunicorn(config, host=host, port=port, workers=workers, threads=threads)
    except CannotListen as exc:
        _fail(str(exc))


def _filter_options(command):
    """--date-from, --date-to and --article, shared by `ask` and `chat`."""
    day = click.DateTime(formats=["%Y-%m-%d"])
    command = click.option("--article", "articles", multiple=True, metavar="ID",
                           help="Search only this article (repeat for several; ids as in /api/articles).")(command)
    command = click.option("--date-to", type=day, help="Only articles dated on or before this day (YYYY-MM-DD).")(
        command)
    command = click.option("--date-from", type=day, help="Only articles dated on or after this day (YYYY-MM-DD).")(
        command)
    return command


def _filters(date_from, date_to, articles):
    from .search import Filters

    if date_from and date_to and date_from > date_to:
        _fail(f"--date-from {date_from:%Y-%m-%d} is after --date-to {date_to:%Y-%m-%d}")
    return Filters(
        date_from=f"{date_from:%Y-%m-%d}" if date_from else None,
        date_to=f"{date_to:%Y-%m-%d}" if date_to else None,
        articles=tuple(articles) or None,
    )


def _unknown_article_warnings(service, filters) -> list[str]:
    known = service.snapshot().articles
    return [f"no article with id {a!r}; it was left out of the search"
            for a in dict.fromkeys(filters.articles or ()) if a not in known]


@main.command()
@click.argument("question")
@click.option("--top-k", default=DEFAULT_TOP_K, show_default=True, type=click.IntRange(1, MAX_TOP_K))
@click.option("--mode", default=MODES[0], show_default=True, type=click.Choice(MODES))
@_filter_options
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True, help="Index folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def ask(ctx: click.Context, question: str, top_k: int, mode: str, date_from, date_to, articles, index_dir,
        as_json: bool) -> None:
    """Ask one question and print the answer with its cited passages."""
    from .generation.read import IndexUnavailable
    from .service import QAService, Question, limit_math_threads

    limit_math_threads()
    config = _config(ctx, index_dir=index_dir)
    filters = _filters(date_from, date_to, articles)
    question = question.strip()
    if not question:
        _fail("the question is empty")
    if len(question) > config.max_question_chars:
        _fail(f"the question is longer than {config.max_question_chars} characters")
    service = QAService(config)
    try:
        result = service.ask(Question(text=question, top_k=top_k, mode=mode, filters=filters))
        warnings = _unknown_article_warnings(service, filters)
    except IndexUnavailable as exc:
        _fail(str(exc))
    except OSError as exc:  # e.g. the model's first ONNX export into an index folder it may not write
        _fail(_os_error(exc, f"use the index folder {config.index_dir}", index_unchanged=False))
    if as_json:
        if warnings:
            result["warnings"] = [f"articles: {w}" for w in warnings]
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(format_result(result))


@main.command()
@click.argument("topic")
@click.option("--limit", default=DEFAULT_OVERVIEW_LIMIT, show_default=True, type=click.IntRange(1, MAX_OVERVIEW_LIMIT),
              help="Editorials to list at most.")
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True, help="Index folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (as POST /api/overview).")
@click.pass_context
def overview(ctx: click.Context, topic: str, limit: int, index_dir, as_json: bool) -> None:
    """What the editorials have said about TOPIC: each one that discusses it, by date, with its key sentence.

    TOPIC is a topic ("the Charlie Hebdo killings") or a question about one ("What has the paper
    said about the NHS?").
    """
    from .generation.read import IndexUnavailable
    from .service import QAService, limit_math_threads

    limit_math_threads()
    config = _config(ctx, index_dir=index_dir)
    topic = topic.strip()
    if not topic:
        _fail("the topic is empty")
    if len(topic) > config.max_question_chars:
        _fail(f"the topic is longer than {config.max_question_chars} characters")
    try:
        result = QAService(config).overview(topic, limit)
    except IndexUnavailable as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc, f"use the index folder {config.index_dir}", index_unchanged=False))
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(format_overview(result))


def format_overview(result: dict) -> str:
    editorials = result["editorials"]
    if not editorials:
        return f"No editorial discusses {result['topic']!r}."
    shown = f"{len(editorials)} of {result['total']}" if result["total"] > len(editorials) else str(result["total"])
    lines = [f"{shown} editorial{'s' if result['total'] != 1 else ''} on {result['topic']!r}, by date:"]
    for e in editorials:
        paragraphs = ", ".join(f"¶{n}" for n in e["paragraphs"])
        lines += ["", f"{e['date'] or 'undated'}  {e['title']}  ({paragraphs})",
                  textwrap.fill(f"“{e['sentence']['text']}” (¶{e['sentence']['paragraph']})", width=100,
                                initial_indent="    ", subsequent_indent="    ")]
    return "\n".join(lines)


CHAT_HISTORY_TURNS = 10  # as many earlier turns as the API takes (web/validation.py)
CHAT_HELP = ("Ask about the editorials; follow-up questions refer to the earlier ones. "
             "/new starts a new conversation; /quit (or Ctrl-D) ends.")


@main.command()
@click.option("--top-k", default=DEFAULT_TOP_K, show_default=True, type=click.IntRange(1, MAX_TOP_K))
@click.option("--mode", default=MODES[0], show_default=True, type=click.Choice(MODES))
@_filter_options
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True, help="Index folder.")
@click.pass_context
def chat(ctx: click.Context, top_k: int, mode: str, date_from, date_to, articles, index_dir) -> None:
    """A conversation in the terminal: one question per line, answers with their citations.

    \b
    Earlier questions and answers (the last 10) go with each question, as in the chat page, so
    "Who did he call?" is read in the light of what was asked before. Questions can also be
    piped in, one per line: each is echoed before its answer.
    """
    from .followup import Turn
    from .generation.read import IndexUnavailable
    from .service import QAService, Question, history_turn, limit_math_threads

    limit_math_threads()
    config = _config(ctx, index_dir=index_dir)
    filters = _filters(date_from, date_to, articles)
    stdin = sys.stdin
    interactive = stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and arrow-key recall of earlier questions in input())
    service = QAService(config)
    try:
        for warning in _unknown_article_warnings(service, filters):
            click.echo(f"Warning: {warning}", err=True)
    except IndexUnavailable as exc:
        _fail(str(exc))
    history: list[Turn] = []
    click.echo(CHAT_HELP)
    while True:
        try:
            line = input("\nyou> ") if interactive else stdin.readline()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            break
        if not interactive and not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if not interactive:
            click.echo(f"\nyou> {text}")
        if text == "/new":
            history.clear()
            click.echo("(a new conversation: earlier questions are forgotten)")
            continue
        if len(text) > config.max_question_chars:
            click.echo(f"(the question is longer than {config.max_question_chars} characters; ask a shorter one)")
            continue
        question = Question(text=text, top_k=top_k, mode=mode, filters=filters,
                            history=tuple(history[-CHAT_HISTORY_TURNS:]))
        try:
            result = service.ask(question)
        except IndexUnavailable as exc:
            _fail(str(exc))
        reading = format_reading(result)
        if reading:
            click.echo(reading)
        click.echo(format_result(result))
        history.append(history_turn(text, result))


def format_reading(result: dict) -> str:
    """How a follow-up was read, in parentheses: the pronouns read as names, where it was searched."""
    parts = [f"reading “{p['word']}” as {p['as']}" for p in (result.get("context") or {}).get("pronouns", [])]
    if result.get("resolved_question"):
        parts.append(f"searched as: {result['resolved_question']}")
    context = result.get("context")
    if context and context.get("title"):
        parts.append(f"searched in: {context['title']}")
    return f"({'; '.join(parts)})" if parts else ""


def format_result(result: dict) -> str:
    lines = []
    if result["answer"]:
        lines.append(f"Answer: {result['answer']['text']} [{result['answer']['passage']}]")
    elif (result.get("context") or {}).get("article_id"):
        lines.append("I couldn't find this in that editorial. Its nearest passages (weak matches):")
    else:
        lines.append("I couldn't find this in the editorials. Nearest passages (weak matches):")
    for p in result["passages"]:
        c = p["citation"]
        lines.append("")
        cited = f"{c['title']} ({c['date'] or 'undated'}), ¶{c['paragraph']}"
        lines.append(f"[{p['rank']}] {cited}  score {p['score']:.3f}")
        lines.append(textwrap.fill(p["text"], width=100, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)



@main.command("eval")
@click.option("--corpus", "corpus_dir", type=PATH, required=True, help="Folder of articles to index and ask.")
@click.option("--questions", "questions_file", type=PATH,
              help="JSON-lines questions about the corpus (layout: ../shared/data/README.md).")
@click.option("--index", "index_dir", type=PATH,
              help="Index folder for the corpus: built or updated there and kept (default: a temporary one).")
@click.option("--mode", "modes", multiple=True, type=click.Choice(MODES),
              help="Retrieval mode; repeat for a table of several [default: hybrid].")
@click.option("--limit", type=click.IntRange(1), help="Only N questions (of each file), spread evenly over it.")
@click.option("--foreign-questions", "foreign_file", type=PATH,
              help="Questions the foreign corpus does not answer [default: --questions]; gives the declined rate.")
@click.option("--foreign-corpus", "foreign_dir", type=PATH,
              help="Corpus that does not answer the foreign questions [default: --corpus].")
@click.option("--foreign-index", "foreign_index_dir", type=PATH, help="Index folder for --foreign-corpus.")
@click.option("--conversations", "conversations_file", type=PATH,
              help="JSON-lines conversations about the corpus (../shared/data/editorial-conversations/): "
                   "each turn asked with the service's own earlier answers as history; a table per turn type.")
@click.option("--topics", "topics_file", type=PATH,
              help="JSON-lines topics (layout: ../shared/data/editorial-topics/README.md): the overview's "
                   "recall@10, precision and key-sentence hits.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def eval_command(ctx: click.Context, corpus_dir, questions_file, index_dir, modes, limit, foreign_file, foreign_dir,
                 foreign_index_dir, conversations_file, topics_file, as_json: bool, quiet: bool) -> None:
    """Measure retrieval, answers and "not found" over a question set, through the same path as /api/ask.

    \b
    Recall@1/5/20 and MRR@10 of the gold paragraph, the share of answer sentences holding a gold
    answer, the share of questions answered, and time per question. With --foreign-questions or
    --foreign-corpus, also the share of foreign questions declined: the foreign questions
    (default: --questions) asked against the foreign corpus (default: --corpus). With
    --conversations, multi-turn conversations scored per turn type (opener, pronoun, ellipsis, …); with
    --topics, the overview of each topic (as /api/overview) scored: recall@10, precision, key-sentence hits.
    """
    import tempfile

    from .corpus import CorpusError
    from .embedder import ModelError, load_embedder
    from .evaluate import evaluate_mode, format_table, load_questions, machine
    from .evaluate_conversations import evaluate_conversations, format_conversation_table, load_conversations
    from .evaluate_topics import evaluate_topics, format_topics, load_topics
    from .generation.build import EmptyCorpus, IndexBusy, build_index, is_up_to_date
    from .generation.read import IndexUnavailable
    from .service import QAService, limit_math_threads

    limit_math_threads()  # as in a server worker: the times per question are a served question's
    if questions_file is None and foreign_file is None and conversations_file is None and topics_file is None:
        _fail("give --questions, --foreign-questions, --conversations, --topics or several")
    foreign = foreign_file is not None or foreign_dir is not None
    if foreign_dir is None and foreign_index_dir is not None:
        _fail("--foreign-index needs --foreign-corpus")
    modes = modes or (MODES[0],)
    progress = None if quiet else _progress_bar
    config = _config(ctx)
    try:
        questions = load_questions(questions_file, limit) if questions_file else []
        foreign_questions = load_questions(foreign_file or questions_file, limit) if foreign else []
        conversations = load_conversations(conversations_file) if conversations_file else []
    except (OSError, ValueError) as exc:
        _fail(f"cannot read questions: {exc}")
    try:
        topics = load_topics(topics_file) if topics_file else []
    except (OSError, ValueError) as exc:
        _fail(f"cannot read topics: {exc}")
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        try:
            # Every question pays its own encoding, as a new question would: no query cache across modes.
            embedder = load_embedder(config.with_overrides(query_cache=0))

            def service_for(corpus: Path, folder: Path | None, name: str) -> QAService:
                folder = Path(folder) if folder else Path(scratch) / name
                if not corpus.is_dir():
                    _fail(f"corpus folder not found: {corpus}")
                if not is_up_to_date(folder, corpus, embedder.name, embedder.encoder, config.corpus_limits):
                    if not quiet:
                        click.echo(f"Indexing {corpus} into {folder} …", err=True)
                    build_index(corpus, folder, embedder, batch_size=config.batch_size, progress=progress,
                                limits=config.corpus_limits)
                return QAService(config.with_overrides(corpus_dir=corpus, index_dir=folder), embedder=embedder)

            service = service_for(corpus_dir, index_dir, "corpus")
            foreign_service = None
            if foreign:
                foreign_service = service if foreign_dir is None else \
                    service_for(foreign_dir, foreign_index_dir, "foreign")
            service.warm_up()
            results = [
                evaluate_mode(service, questions, mode, foreign_service=foreign_service,
                              foreign_questions=foreign_questions, progress=progress)
                for mode in modes
            ] if questions or foreign_questions else []
            talked = evaluate_conversations(service, conversations) if conversations else None
            topic_result = evaluate_topics(service, topics) if topics else None
            version = service.snapshot().version
        except (CorpusError, EmptyCorpus, IndexBusy, ModelError, IndexUnavailable) as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(_os_error(exc, "write the evaluation's index"))
    if as_json:
        report: dict = {
            "corpus": str(corpus_dir), "questions": str(questions_file) if questions_file else None,
            "foreign_corpus": str(foreign_dir or corpus_dir) if foreign else None,
            "foreign_questions": str(foreign_file or questions_file) if foreign else None,
            "index_version": version, "model": embedder.name, "backend": embedder.backend,
            "machine": machine(), "results": [r.to_dict() for r in results],
            "conversations": talked.to_dict() if talked else None,
        }
        if topic_result is not None:
            report["topics"] = {"file": str(topics_file), **topic_result.to_dict()}
        click.echo(json.dumps(report, indent=2))
        return
    if results:
        click.echo(format_table(results))
    if talked:
        click.echo(("\n" if results else "") + format_conversation_table(talked))
    if topic_result is not None:
        click.echo(("\n" if results or talked else "") + format_topics(topic_result))
    described = f"{len(questions)} questions on {corpus_dir}" if questions else f"index of {corpus_dir}"
    if conversations:
        described += f"; {len(conversations)} conversations ({sum(len(c.turns) for c in conversations)} turns)"
    if topics:
        described += f"; {len(topics)} topics"
    if foreign:
        described += f"; {len(foreign_questions)} foreign questions on {foreign_dir or corpus_dir}"
    click.echo(f"\n{described}; model {embedder.name} ({embedder.backend}); {machine()}")


if __name__ == "__main__":
    main()
