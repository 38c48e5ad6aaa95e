"""`qa-service ask`, `chat` and `overview`: the API's answers in a terminal."""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap

import click

from ..config import DEFAULT_OVERVIEW_LIMIT, DEFAULT_TOP_K, MAX_OVERVIEW_LIMIT, MAX_TOP_K, MODES
from .common import PATH, config_of, fail, filter_options, filters_of, os_error, unknown_article_warnings


@click.command()
@click.argument("question")
@click.option("--top-k", default=DEFAULT_TOP_K, show_default=True, type=click.IntRange(1, MAX_TOP_K))
@click.option("--mode", default=MODES[0], show_default=True, type=click.Choice(MODES))
@filter_options
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True, help="Index folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def ask(ctx: click.Context, question: str, top_k: int, mode: str, date_from, date_to, articles, index_dir,
        as_json: bool) -> None:
    """Ask one question and print the answer with its cited passages."""
    from ..index.generation.read import IndexUnavailable
    from ..service import QAService, Question, limit_math_threads

    limit_math_threads()
    config = config_of(ctx, index_dir=index_dir)
    filters = filters_of(date_from, date_to, articles)
    question = question.strip()
    if not question:
        fail("the question is empty")
    if len(question) > config.max_question_chars:
        fail(f"the question is longer than {config.max_question_chars} characters")
    service = QAService(config)
    try:
        result = service.ask(Question(text=question, top_k=top_k, mode=mode, filters=filters))
        warnings = unknown_article_warnings(service, filters)
    except IndexUnavailable as exc:
        fail(str(exc))
    except OSError as exc:  # e.g. the model's first ONNX export into an index folder it may not write
        fail(os_error(exc, f"use the index folder {config.index_dir}", index_unchanged=False))
    if as_json:
        if warnings:
            result["warnings"] = [f"articles: {w}" for w in warnings]
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(format_result(result))


@click.command()
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
    from ..index.generation.read import IndexUnavailable
    from ..service import QAService, limit_math_threads

    limit_math_threads()
    config = config_of(ctx, index_dir=index_dir)
    topic = topic.strip()
    if not topic:
        fail("the topic is empty")
    if len(topic) > config.max_question_chars:
        fail(f"the topic is longer than {config.max_question_chars} characters")
    try:
        result = QAService(config).overview(topic, limit)
    except IndexUnavailable as exc:
        fail(str(exc))
    except OSError as exc:
        fail(os_error(exc, f"use the index folder {config.index_dir}", index_unchanged=False))
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(format_overview(result))


def format_overview(result: dict) -> str:
    editorials = result["editorials"]
    if not editorials:
        return f"No editorial discusses {result['topic']!r}."
    shown = f"{len(editorials)} of {result['total']}" if result["total"] > len(editorials) else str(result["total"])
    order = ORDER_WORDS.get(result.get("order", ""), ORDER_WORDS["relevance"])
    lines = [f"{shown} editorial{'s' if result['total'] != 1 else ''} on {result['topic']!r}, {order}:"]
    for e in editorials:
        paragraphs = ", ".join(f"¶{n}" for n in e["paragraphs"])
        lines += ["", f"{e['date'] or 'undated'}  {e['title']}  ({paragraphs})",
                  textwrap.fill(f"“{e['sentence']['text']}” (¶{e['sentence']['paragraph']})", width=100,
                                initial_indent="    ", subsequent_indent="    ")]
        if e.get("second_sentence"):
            second = e["second_sentence"]
            lines.append(textwrap.fill(f"also: “{second['text']}” (¶{second['paragraph']})", width=100,
                                       initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


# How an overview's rows are ordered (overview.ORDERS), as the page says it too
ORDER_WORDS = {"date": "by date", "relevance": "most relevant first",
               "date, then relevance": "dated ones by date, then the undated most relevant first"}


CHAT_HISTORY_TURNS = 10  # as many earlier turns as the API takes (web/validation.py)
CHAT_HELP = ("Ask about the editorials; follow-up questions refer to the earlier ones. "
             "/new starts a new conversation; /quit (or Ctrl-D) ends.")


@click.command()
@click.option("--top-k", default=DEFAULT_TOP_K, show_default=True, type=click.IntRange(1, MAX_TOP_K))
@click.option("--mode", default=MODES[0], show_default=True, type=click.Choice(MODES))
@filter_options
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True, help="Index folder.")
@click.pass_context
def chat(ctx: click.Context, top_k: int, mode: str, date_from, date_to, articles, index_dir) -> None:
    """A conversation in the terminal: one question per line, answers with their citations.

    \b
    Earlier questions and answers (the last 10) go with each question, as in the chat page, so
    "Who did he call?" is read in the light of what was asked before. Questions can also be
    piped in, one per line: each is echoed before its answer.
    """
    from ..index.generation.read import IndexUnavailable
    from ..reading.followup import Turn
    from ..service import QAService, Question, history_turn, limit_math_threads

    limit_math_threads()
    config = config_of(ctx, index_dir=index_dir)
    filters = filters_of(date_from, date_to, articles)
    stdin = sys.stdin
    interactive = stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and arrow-key recall of earlier questions in input())
    service = QAService(config)
    try:
        for warning in unknown_article_warnings(service, filters):
            click.echo(f"Warning: {warning}", err=True)
    except IndexUnavailable as exc:
        fail(str(exc))
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
            fail(str(exc))
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
        if result.get("alternatives"):
            lines.append("Also in this editorial:")
            for alternative in result["alternatives"]:
                paragraph = result["passages"][alternative["passage"] - 1]["citation"]["paragraph"]
                lines.append(textwrap.fill(f"- {alternative['text']} [{alternative['passage']}, ¶{paragraph}]",
                                           width=100, subsequent_indent="  "))
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
