"""`qa-service index`, `publish` and `import`: the corpus into an index, an index into another folder."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from .common import PATH, config_of, fail, os_error, progress_bar


@click.command()
@click.option("--corpus", "corpus_dir", type=PATH, envvar="QA_CORPUS_DIR", show_envvar=True,
              help="Folder of article files [default corpus/].")
@click.option("--index", "index_dir", type=PATH, envvar="QA_INDEX_DIR", show_envvar=True,
              help="Index folder [default embeddings/].")
@click.option("--force", is_flag=True,
              help="Read every file again and write a new generation even when the index is up to date.")
@click.option("--switch-corpus", is_flag=True,
              help="Index this corpus folder although the index was built from another one, whose articles it "
                   "then replaces (the vectors of the generations the index folder keeps are reused).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.option("--ray", "ray_address", envvar="QA_RAY", show_envvar=True, metavar="auto|ADDRESS",
              help="Embed on Ray: auto starts a local Ray for this build; HOST:6379 or ray://HOST:10001 joins "
                   "a running cluster (pip install 'qa_service[ray]').")
@click.pass_context
def index(ctx: click.Context, corpus_dir, index_dir, force: bool, switch_corpus: bool, quiet: bool, as_json: bool,
          ray_address: str | None) -> None:
    """Build or update the index from the corpus folder (only new text is embedded)."""
    from ..changes.corpus_change import ChangeBusy, recover_pending
    from ..index.embedder import ModelError, encoder_id, load_embedder, model_name_for
    from ..index.generation.build import BuildReport, EmptyCorpus, IndexBusy, build_index, is_up_to_date
    from ..index.generation.corpus_folder import OtherCorpus, check_corpus_folder
    from ..index.generation.layout import older_format
    from ..index.ray_encoder import RayUnavailable, check_address, ray_encoder
    from ..ingest.corpus import CorpusError, unread_files

    config = config_of(ctx, corpus_dir=corpus_dir, index_dir=index_dir, ray_address=ray_address)
    if not config.corpus_dir.is_dir():
        fail(f"corpus folder not found: {config.corpus_dir}")
    try:
        if not switch_corpus:  # before anything is touched (build_index checks again under the lock)
            check_corpus_folder(config.index_dir, config.corpus_dir)
        if config.ray_address:
            check_address(config.ray_address)
        recovered = recover_pending(config, wait_seconds=600.0)  # files a dead change moved aside come back first
        if recovered:
            click.echo(f"An interrupted article change was {recovered} before indexing.", err=True)
        if not force and is_up_to_date(config.index_dir, config.corpus_dir, model_name_for(config.model),
                                       encoder_id(config.backend), config.corpus_limits):
            # no model loaded; unread files are not in the fingerprint, so never in a report
            report = BuildReport(up_to_date=True, skipped=unread_files(config.corpus_dir))
        else:
            reason = older_format(config.index_dir)
            if reason:  # a rebuild of minutes deserves its one line, --quiet or not
                click.echo(reason[:1].upper() + reason[1:] + ".", err=True)
            embedder = load_embedder(config)
            with contextlib.ExitStack() as stack:
                encoder = stack.enter_context(ray_encoder(config, embedder)) if config.ray_address else embedder
                report = build_index(
                    config.corpus_dir, config.index_dir, encoder, batch_size=config.batch_size,
                    progress=None if quiet or as_json else progress_bar, limits=config.corpus_limits,
                    reparse=force, switch_corpus=switch_corpus, unless_up_to_date=not force,
                )
    except OtherCorpus as exc:
        fail(f"{exc}; nothing was changed. Add --switch-corpus (make: SWITCH_CORPUS=1) to replace its articles with "
             f"this folder's, reusing the vectors it keeps; or give --corpus {exc.built_from} (make: CORPUS="
             f"{exc.built_from}) to keep them.")
    except (CorpusError, EmptyCorpus, IndexBusy, ChangeBusy, ModelError, RayUnavailable) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(os_error(exc, f"write the index in {config.index_dir}"))
    if as_json and not report.up_to_date:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for problem in report.skipped:
        click.echo(f"Skipped {problem}", err=True)
    if report.up_to_date:
        click.echo(f"Index in {config.index_dir} is up to date with {config.corpus_dir}.")
        return
    click.echo(
        f"Index {report.version}: articles {report.articles_added} added, {report.articles_updated} updated, "
        f"{report.articles_removed} removed, {report.articles_unchanged} unchanged, {len(report.skipped)} skipped; "
        f"passages {report.passages_added} added, {report.passages_removed} removed, {report.passages_total} in all; "
        f"{report.texts_embedded} texts embedded in {report.seconds:.1f} s."
    )


@click.command()
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
    from ..index.generation.build import IndexBusy
    from ..index.generation.publish import CopyDamaged, PublishRefused, publish_index

    config = config_of(ctx, index_dir=index_dir)
    try:
        report = publish_index(config.index_dir, target_dir)
    except (PublishRefused, CopyDamaged, IndexBusy) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(os_error(exc, f"publish {config.index_dir} into {target_dir}", index_unchanged=False)
              + " The target's index is unchanged.")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif report.up_to_date:
        click.echo(f"{target_dir} serves index {report.version} already ({report.generation}); nothing copied.")
    else:
        click.echo(f"Published index {report.version} into {target_dir} as {report.generation}: "
                   f"{report.files_copied} files, {report.bytes_copied / 1e6:.1f} MB in {report.seconds:.1f} s.")



@click.command("import")
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
    from ..changes.importer import ExportUnreadable, import_export
    from ..index.embedder import ModelError, load_embedder
    from ..index.generation.build import EmptyCorpus, IndexBusy
    from ..index.generation.corpus_folder import OtherCorpus
    from ..ingest.corpus import CorpusError

    config = config_of(ctx, corpus_dir=corpus_dir, index_dir=index_dir)
    try:
        report = import_export(
            export_file, config.corpus_dir, config.index_dir,
            lambda: load_embedder(config),
            replace=replace, batch_size=config.batch_size, progress=None if as_json else progress_bar,
            limits=config.corpus_limits,
        )
    except OtherCorpus as exc:
        fail(f"{exc}; nothing was imported. Import into --corpus {exc.built_from}, or first switch the index to this "
             f"folder: `qa-service index --corpus {config.corpus_dir} --index {config.index_dir} --switch-corpus`.")
    except (ExportUnreadable, CorpusError, EmptyCorpus, IndexBusy, ModelError) as exc:
        fail(f"{exc}; nothing was imported")
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or export_file}; nothing was imported")
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
