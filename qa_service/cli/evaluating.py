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
@click.option("--conversations", "conversations_files", type=PATH, multiple=True,
              help="JSON-lines conversations about the corpus (../shared/data/editorial-conversations/): "
                   "each turn asked with the service's own earlier answers as history; a table per turn type. "
                   "Repeat for several files: a table each.")
@click.option("--fitted", "fitted_dir", type=PATH, envvar="QA_FITTED_DIR", show_envvar=True,
              help="Folder of fitted scorers (qa-service fit --out) to use instead of the shipped ones.")
@click.option("--topics", "topics_file", type=PATH,
              help="JSON-lines topics (layout: ../shared/data/editorial-topics/README.md): the overview's "
                   "recall@10, precision, position hits (with positions.jsonl beside them) and key-sentence hits.")
@click.option("--leave-one-topic-out", "leave_one_topic_out", is_flag=True,
              help="Answer each topic with a position scorer fitted on the others' positions (qa-service fit "
                   "--topics), not the shipped one: the figure for topics the shipped scorer was fitted on.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def eval_command(ctx: click.Context, corpus_dir, questions_file, index_dir, modes, limit, foreign_file, foreign_dir,
                 foreign_index_dir, conversations_files, fitted_dir, topics_file, leave_one_topic_out: bool,
                 as_json: bool, quiet: bool) -> None:
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

    from ..evaluation.conversations import evaluate_conversations, format_conversation_table, load_conversations
    from ..evaluation.questions import evaluate_mode, format_table, load_questions, machine
    from ..evaluation.topics import evaluate_topics, format_topics, load_topics
    from ..index.embedder import ModelError, load_embedder
    from ..index.generation.build import EmptyCorpus, IndexBusy
    from ..index.generation.corpus_folder import OtherCorpus
    from ..index.generation.read import IndexUnavailable
    from ..ingest.corpus import CorpusError
    from ..reading.fitted import FittedError
    from ..service import QAService, limit_math_threads

    limit_math_threads()  # as in a server worker: the times per question are a served question's
    if questions_file is None and foreign_file is None and not conversations_files and topics_file is None:
        fail("give --questions, --foreign-questions, --conversations, --topics or several")
    foreign = foreign_file is not None or foreign_dir is not None
    if foreign_dir is None and foreign_index_dir is not None:
        fail("--foreign-index needs --foreign-corpus")
    if leave_one_topic_out and topics_file is None:
        fail("--leave-one-topic-out needs --topics")
    modes = modes or (MODES[0],)
    progress = None if quiet else progress_bar
    config = config_of(ctx, fitted_dir=fitted_dir)
    try:
        questions = load_questions(questions_file, limit) if questions_file else []
        foreign_questions = load_questions(foreign_file or questions_file, limit) if foreign else []
        conversation_sets = [(path, load_conversations(path)) for path in conversations_files]
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
                folder = indexed(corpus, Path(folder) if folder else Path(scratch) / name, embedder, config, quiet)
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
            talked = [(path, evaluate_conversations(service, conversations))
                      for path, conversations in conversation_sets]
            scorer_for = None
            if topics and leave_one_topic_out:
                from ..evaluation.fit_positions import left_out_scorers, position_groups

                scorers = left_out_scorers(position_groups(service.snapshot(), topics, embedder.encode),
                                           [Path(topics_file).name])
                scorer_for = lambda topic: scorers.get(topic.id, service.position_scorer)  # noqa: E731
            topic_result = evaluate_topics(service, topics, scorer_for) if topics else None
            version = service.snapshot().version
        except OtherCorpus as exc:  # an --index of another corpus (the served one, say) is not eval's to replace
            fail(f"{exc}; nothing was changed. Give eval an index folder of its own for that corpus "
                 "(--index, --foreign-index), or none (a temporary one).")
        except (CorpusError, EmptyCorpus, IndexBusy, ModelError, IndexUnavailable, FittedError) as exc:
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
            "conversations": [{"file": str(path), "fitted_on": list(service.follow_up_scorer.fitted_on),
                               **outcome.to_dict()} for path, outcome in talked],
        }
        if topic_result is not None:
            report["topics"] = {"file": str(topics_file), "leave_one_topic_out": leave_one_topic_out,
                                **topic_result.to_dict()}
        click.echo(json.dumps(report, indent=2))
        return
    if results:
        click.echo(format_table(results))
    for number, (path, outcome) in enumerate(talked):
        fitted_on = ", ".join(service.follow_up_scorer.fitted_on)
        click.echo(("\n" if results or number else "") + f"{path} (follow-up scorer fitted on {fitted_on}):\n"
                   + format_conversation_table(outcome))
    if topic_result is not None:
        scorer = "fitted on the other topics (leave-one-topic-out)" if leave_one_topic_out else \
            "fitted on " + ", ".join(service.position_scorer.fitted_on)
        click.echo(("\n" if results or talked else "") + f"{topics_file} (position scorer {scorer}):\n"
                   + format_topics(topic_result))
    described = f"{len(questions)} questions on {corpus_dir}" if questions else f"index of {corpus_dir}"
    for _, conversations in conversation_sets:
        described += f"; {len(conversations)} conversations ({sum(len(c.turns) for c in conversations)} turns)"
    if topics:
        described += f"; {len(topics)} topics"
    if foreign:
        described += f"; {len(foreign_questions)} foreign questions on {foreign_dir or corpus_dir}"
    click.echo(f"\n{described}; model {embedder.name} ({embedder.backend}); {machine()}")


def indexed(corpus: Path, folder: Path, embedder, config, quiet: bool) -> Path:
    """`folder`, holding an up-to-date index of `corpus` (built or updated there first when it is not)."""
    from ..index.generation.build import build_index, is_up_to_date

    if not corpus.is_dir():
        fail(f"corpus folder not found: {corpus}")
    if not is_up_to_date(folder, corpus, embedder.name, embedder.encoder, config.corpus_limits):
        if not quiet:
            click.echo(f"Indexing {corpus} into {folder} …", err=True)
        build_index(corpus, folder, embedder, batch_size=config.batch_size, progress=None if quiet else progress_bar,
                    limits=config.corpus_limits)
    return folder


@click.command("fit")
@click.option("--corpus", "corpus_dir", type=PATH, required=True,
              help="Folder of the articles the conversations and topics are on.")
@click.option("--index", "index_dir", type=PATH, required=True,
              help="Index folder for the corpus: built or updated there and kept.")
@click.option("--conversations", "conversations_files", type=PATH, multiple=True,
              help="JSON-lines conversations to fit the follow-up scorer on (../shared/data/editorial-conversations/); "
                   "repeat for several.")
@click.option("--topics", "topics_file", type=PATH,
              help="JSON-lines topics to fit the position scorer on (../shared/data/editorial-topics/), with the "
                   "positions.jsonl beside them.")
@click.option("--out", "out_dir", type=PATH, required=True, help="Folder to write the fitted scorers into.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def fit_command(ctx: click.Context, corpus_dir: Path, index_dir: Path, conversations_files, topics_file,
                out_dir: Path, quiet: bool) -> None:
    """Fit the follow-up scorer on conversations (follow_up.json) and the position scorer on topics (position.json).

    \b
    Follow-ups are asked in their previous turn's editorial, first with the gold answers before them as
    history, then with the service's own; the weights, the "not in this editorial" threshold, the
    alternatives margin and the switch margin are all chosen on these conversations (evaluation/fit_follow_ups.py). Each
    relevant editorial of a topic ranks its sentences, those stating its position first
    (evaluation/fit_positions.py). `make fit` writes the shipped scorers; `make eval` reports each conversation fold
    with a scorer fitted on the other, and the topics leaving one out.
    """
    from ..evaluation.conversations import load_conversations
    from ..evaluation.fit_follow_ups import fit_on_conversations
    from ..evaluation.fit_positions import fit_positions, position_groups
    from ..evaluation.topics import load_topics
    from ..index.embedder import ModelError, load_embedder
    from ..index.generation.build import EmptyCorpus, IndexBusy
    from ..index.generation.corpus_folder import OtherCorpus
    from ..index.generation.read import IndexReader, IndexUnavailable
    from ..ingest.corpus import CorpusError
    from ..reading.fitted import FOLLOW_UP, POSITION

    if not conversations_files and topics_file is None:
        fail("give --conversations, --topics or both")
    config = config_of(ctx)
    try:
        conversations = [c for path in conversations_files for c in load_conversations(path)]
        topics = load_topics(topics_file) if topics_file else []
    except (OSError, ValueError) as exc:
        fail(f"cannot read the data to fit on: {exc}")
    if conversations_files and not any(len(c.turns) > 1 for c in conversations):
        fail(f"cannot fit: no conversation of more than one turn in {', '.join(map(str, conversations_files))}")
    if topics_file and not any(t.positions for t in topics):
        fail(f"cannot fit: no position sentences for the topics of {topics_file} (positions.jsonl beside it)")
    written = []
    try:
        embedder = load_embedder(config)
        folder = indexed(corpus_dir, index_dir, embedder, config, quiet)
        out_dir.mkdir(parents=True, exist_ok=True)
        if conversations:
            fit = fit_on_conversations(config.with_overrides(corpus_dir=corpus_dir, index_dir=folder), embedder,
                                       conversations, [Path(p).name for p in conversations_files])
            _write_json(out_dir / FOLLOW_UP, fit.scorer.to_json())
            written.append(
                f"Wrote {out_dir / FOLLOW_UP}: {fit.follow_ups} follow-ups of {len(conversations)} conversations; "
                f"regularisation C={fit.regularisation}; leave-one-conversation-out top-one "
                f"{fit.left_out_top_one:.2f}; declines below {fit.scorer.decline_below:.3f}; alternatives within "
                f"{fit.scorer.alternatives_within:.3f}; switch margin {fit.scorer.switch_margin}.")
        if topics:
            snapshot = IndexReader(folder, model_name=embedder.name).snapshot()
            positions = fit_positions(position_groups(snapshot, topics, embedder.encode), [Path(topics_file).name])
            _write_json(out_dir / POSITION, positions.scorer.to_json())
            written.append(
                f"Wrote {out_dir / POSITION}: {positions.editorials} editorials of {len(topics)} topics; "
                f"regularisation C={positions.regularisation}; leave-one-topic-out first sentence a position "
                f"{positions.left_out_top_one:.2f}; a second sentence within {positions.scorer.second_within:.3f}.")
    except OtherCorpus as exc:
        fail(f"{exc}; nothing was changed. Give fit an index folder of its own for that corpus.")
    except (CorpusError, EmptyCorpus, IndexBusy, ModelError, IndexUnavailable, KeyError) as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"cannot fit: {exc}")
    except OSError as exc:
        fail(os_error(exc, f"write the fitted scorers into {out_dir}"))
    click.echo("\n".join(written))


def _write_json(target: Path, data: dict) -> None:
    """Written beside, then renamed over: a loading service never reads half a file."""
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    temporary.replace(target)
