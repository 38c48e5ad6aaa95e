"""`qa-service eval`: the quality figures of README "Quality", through the same paths as the API."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import MODES
from .common import PATH, config_of, fail, os_error, progress_bar


@click.command("eval")
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

    from ..corpus import CorpusError
    from ..embedder import ModelError, load_embedder
    from ..evaluate import evaluate_mode, format_table, load_questions, machine
    from ..evaluate_conversations import evaluate_conversations, format_conversation_table, load_conversations
    from ..evaluate_topics import evaluate_topics, format_topics, load_topics
    from ..generation.build import EmptyCorpus, IndexBusy, build_index, is_up_to_date
    from ..generation.corpus_folder import OtherCorpus
    from ..generation.read import IndexUnavailable
    from ..service import QAService, limit_math_threads

    limit_math_threads()  # as in a server worker: the times per question are a served question's
    if questions_file is None and foreign_file is None and conversations_file is None and topics_file is None:
        fail("give --questions, --foreign-questions, --conversations, --topics or several")
    foreign = foreign_file is not None or foreign_dir is not None
    if foreign_dir is None and foreign_index_dir is not None:
        fail("--foreign-index needs --foreign-corpus")
    modes = modes or (MODES[0],)
    progress = None if quiet else progress_bar
    config = config_of(ctx)
    try:
        questions = load_questions(questions_file, limit) if questions_file else []
        foreign_questions = load_questions(foreign_file or questions_file, limit) if foreign else []
        conversations = load_conversations(conversations_file) if conversations_file else []
    except (OSError, ValueError) as exc:
        fail(f"cannot read questions: {exc}")
    try:
        topics = load_topics(topics_file) if topics_file else []
    except (OSError, ValueError) as exc:
        fail(f"cannot read topics: {exc}")
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        try:
            # Every question pays its own encoding, as a new question would: no query cache across modes.
            embedder = load_embedder(config.with_overrides(query_cache=0))

            def service_for(corpus: Path, folder: Path | None, name: str) -> QAService:
                folder = Path(folder) if folder else Path(scratch) / name
                if not corpus.is_dir():
                    fail(f"corpus folder not found: {corpus}")
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
        except OtherCorpus as exc:  # an --index of another corpus (the served one, say) is not eval's to replace
            fail(f"{exc}; nothing was changed. Give eval an index folder of its own for that corpus "
                 "(--index, --foreign-index), or none (a temporary one).")
        except (CorpusError, EmptyCorpus, IndexBusy, ModelError, IndexUnavailable) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(os_error(exc, "write the evaluation's index"))
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
