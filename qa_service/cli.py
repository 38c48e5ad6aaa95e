"""The `qa-service` command: index, serve, ask (and eval). A thin layer over the core."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click

from .config import Config

PATH = click.Path(path_type=Path)


def _config(ctx: click.Context, **overrides) -> Config:
    return Config.from_env(**{**ctx.obj, **overrides})


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", help="Local sentence-transformers model folder [env QA_MODEL; default: bundled MiniLM].")
@click.option("--backend", type=click.Choice(["torch", "onnx", "onnx-int8"]),
              help="Encoder runtime [env QA_BACKEND].")
@click.pass_context
def main(ctx: click.Context, model: str | None, backend: str | None) -> None:
    """Question answering over a newspaper's editorials."""
    ctx.obj = {"model": model, "backend": backend}


@main.command()
@click.option("--corpus", "corpus_dir", type=PATH, help="Folder of article files [env QA_CORPUS_DIR; default corpus/].")
@click.option("--index", "index_dir", type=PATH, help="Index folder [env QA_INDEX_DIR; default embeddings/].")
@click.option("--force", is_flag=True, help="Write a new generation even when the index is up to date.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.pass_context
def index(ctx: click.Context, corpus_dir, index_dir, force: bool, quiet: bool, as_json: bool) -> None:
    """Build or update the index from the corpus folder (only new text is embedded)."""
    from .corpus import CorpusError
    from .embedder import Embedder, ModelError, model_name_for
    from .store import EmptyCorpus, IndexBusy, build_index, is_up_to_date

    config = _config(ctx, corpus_dir=corpus_dir, index_dir=index_dir)
    if not config.corpus_dir.is_dir():
        _fail(f"corpus folder not found: {config.corpus_dir}")
    try:
        if not force and is_up_to_date(config.index_dir, config.corpus_dir, model_name_for(config.model)):
            click.echo(f"Index in {config.index_dir} is up to date with {config.corpus_dir}.")
            return
        embedder = Embedder(config.model, config.backend, config.index_dir / "models")
        report = build_index(
            config.corpus_dir, config.index_dir, embedder, batch_size=config.batch_size,
            progress=None if quiet or as_json else _progress_bar,
        )
    except (CorpusError, EmptyCorpus, IndexBusy, ModelError) as exc:
        _fail(str(exc))
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


def _progress_bar(total: int, label: str):
    bar = click.progressbar(length=total, label=f"{label} {total} texts", file=sys.stderr)
    bar.__enter__()
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        bar.update(n)
        if done[0] >= total:
            bar.__exit__(None, None, None)

    return tick


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--index", "index_dir", type=PATH, help="Index folder [env QA_INDEX_DIR].")
@click.option("--corpus", "corpus_dir", type=PATH, help="Corpus folder, for articles added over HTTP.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Threads per worker.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, index_dir, corpus_dir, workers: int, threads: int) -> None:
    """Serve the chat page and the JSON API under gunicorn."""
    from .server import run_gunicorn

    config = _config(ctx, index_dir=index_dir, corpus_dir=corpus_dir)
    run_gunicorn(config, host=host, port=port, workers=workers, threads=threads)


@main.command()
@click.argument("question")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(["hybrid", "dense", "lexical"]))
@click.option("--index", "index_dir", type=PATH, help="Index folder [env QA_INDEX_DIR].")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def ask(ctx: click.Context, question: str, top_k: int, mode: str, index_dir, as_json: bool) -> None:
    """Ask one question and print the answer with its cited passages."""
    from .index import IndexUnavailable
    from .service import QAService, Question

    config = _config(ctx, index_dir=index_dir)
    question = question.strip()
    if not question:
        _fail("the question is empty")
    if len(question) > config.max_question_chars:
        _fail(f"the question is longer than {config.max_question_chars} characters")
    service = QAService(config)
    try:
        result = service.ask(Question(text=question, top_k=top_k, mode=mode))
    except IndexUnavailable as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(format_result(result))


def format_result(result: dict) -> str:
    lines = []
    if result["answer"]:
        lines.append(f"Answer: {result['answer']['text']} [{result['answer']['passage']}]")
    else:
        lines.append("I couldn't find this in the editorials. Nearest passages (weak matches):")
    for p in result["passages"]:
        c = p["citation"]
        lines.append("")
        cited = f"{c['title']} ({c['date'] or 'undated'}), ¶{c['paragraph']}"
        lines.append(f"[{p['rank']}] {cited}  score {p['score']:.3f}")
        lines.append(textwrap.fill(p["text"], width=100, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
