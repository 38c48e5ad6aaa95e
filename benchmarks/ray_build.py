"""The Ray build (`qa-service index --ray auto`) against the local build on this machine, and what the measured
rate projects for archives of 10^6 and 10^7 paragraphs on N workers.

    python -m benchmarks.ray_build --data ../shared/data --out /tmp/ray.md

Both builds run in this one process on the same editorials, from scratch, alternating which goes first; Ray
is started once (its start and the actors' model loading are measured apart: a build pays them once, whatever
its size). render() gives the "Ray build" subsection of BENCHMARKS.md's "Scale" section.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

from qa_service.config import Config
from qa_service.index.embedder import load_embedder
from qa_service.index.ray_encoder import LOCAL, RayEncoder, ray_session

from .building import build_once
from .system import load_average, log, machine, median

ARCHIVES = (10**6, 10**7)  # paragraphs
WORKERS = (2, 16, 64, 256)  # one-CPU actors


def _summary(runs: list[dict]) -> dict:
    seconds = median([r["seconds"] for r in runs])
    embed = median([r["embed_seconds"] for r in runs])
    first = runs[0]
    return {"runs": [round(r["seconds"], 1) for r in runs], "seconds": seconds, "embed_seconds": embed,
            "texts": first["texts"], "paragraphs": first["paragraphs"], "passages": first["passages"],
            "texts_per_s": first["texts"] / seconds, "paragraphs_per_s": first["paragraphs"] / seconds,
            "ms_per_paragraph": 1000 * seconds / first["paragraphs"]}


def bench_ray_build(editorials: Path, work: Path, every: int = 9, rounds: int = 3,
                    config: Config | None = None) -> dict:
    """Local and Ray builds of every `every`-th editorial, `rounds` each, alternating; figures and projection."""
    config = config or Config.from_env()
    corpus = work / "ray-corpus"
    corpus.mkdir(parents=True)
    files = sorted(editorials.glob("*.txt"))[::every]
    for file in files:
        shutil.copy(file, corpus / file.name)
    local = load_embedder(config)
    cpus = os.cpu_count() or 1
    results: dict[str, list[dict]] = {"local": [], "ray": []}
    started = time.perf_counter()
    with ray_session(LOCAL, num_cpus=cpus):
        ray_start = time.perf_counter() - started
        encoder = RayEncoder(config, local)
        try:
            started = time.perf_counter()
            encoder.encode(["The actors start.", "Each loads the model once."])
            actors_start = time.perf_counter() - started
            for n in range(rounds):
                for name in ("local", "ray") if n % 2 == 0 else ("ray", "local"):
                    index = work / f"ray-build-{name}-{n}"
                    results[name].append(build_once(corpus, index, local if name == "local" else encoder))
                    shutil.rmtree(index)
                    log(f"{name} build of {len(files)} editorials: {results[name][-1]['seconds']:.1f} s")
        finally:
            encoder.close()
    summary = {name: _summary(runs) for name, runs in results.items()}
    ray = summary["ray"]
    per_actor = ray["paragraphs"] / ray["embed_seconds"] / cpus  # paragraphs/s that one one-CPU actor embeds
    driver = (ray["seconds"] - ray["embed_seconds"]) / ray["paragraphs"]  # s/paragraph spent outside the actors
    projection = [{"paragraphs": p, "workers": w, "hours": p * (driver + 1 / (w * per_actor)) / 3600}
                  for p in ARCHIVES for w in WORKERS]
    return {"articles": len(files), "every": every, "rounds": rounds, "actors": cpus, "threads_local": local.threads,
            "ray_start_s": ray_start, "actors_start_s": actors_start, **summary,
            "per_actor_paragraphs_per_s": per_actor, "driver_s_per_paragraph": driver, "projection": projection}


def _f(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def render(info: dict, machine_info: dict | None = None) -> str:
    """The "Ray build" subsection (### level, for the "Scale" section of BENCHMARKS.md)."""
    local, ray = info["local"], info["ray"]
    m = machine_info or info.get("machine")
    lines = ["### Ray build", ""]
    if m:
        lines += [f"Measured on {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['date']}"
                  + (f", Ray {info['ray_version']}" if info.get("ray_version") else "") + "."
            + (f" Load average (1/5/15 min) {info['load'][0]} at the start and {info['load'][1]} at the end: the "
               "machine is shared, so compare the two builds with each other, not with other runs." if info.get("load")
               else ""), ""]
    lines += [
        f"The same {info['articles']} editorials (every {info['every']}th file of `editorials/`: "
        f"{local['paragraphs']:,} paragraphs, {local['passages']:,} passages, {local['texts']:,} texts embedded: "
        f"the passages, each pass giving its sentences' vectors too) built from scratch, {info['rounds']} times each "
        "(alternating): locally (one encoder, "
        f"{info['threads_local']} intra-op threads) and with `--ray auto` ({info['actors']} actors of one thread "
        "each, on a local Ray started once for all the Ray builds). Wall seconds, median; the build's steps "
        "other than the embedding are the same code in both.",
        "",
        "| build | wall s (runs) | embedding s | texts/s | paragraphs/s | ms per paragraph |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in (("local", local), ("Ray, local cluster", ray)):
        lines.append(f"| {name} | {_f(row['seconds'])} ({', '.join(_f(r) for r in row['runs'])}) "
                     f"| {_f(row['embed_seconds'])} | {_f(row['texts_per_s'])} | {_f(row['paragraphs_per_s'])} "
                     f"| {_f(row['ms_per_paragraph'])} |")
    lines += [
        "",
        f"Paid once per Ray build, not counted above: starting Ray {_f(info['ray_start_s'])} s, starting the actors "
        f"and loading the model in each {_f(info['actors_start_s'])} s. With {info['actors']} cores there is little to "
        f"gain from a cluster: the Ray build runs at {_f(local['seconds'] / ray['seconds'], 2)} × the local build's "
        "speed on the same cores.",
        "",
        "**Projection** for a whole archive: each one-CPU actor embeds "
        f"{_f(info['per_actor_paragraphs_per_s'])} paragraphs/s (this run's Ray embedding rate divided by its "
        f"{info['actors']} actors), and the driver spends {_f(1000 * info['driver_s_per_paragraph'], 2)} ms per "
        "paragraph outside the actors (reading, cutting, writing the generation; it does not shrink with workers). "
        "Assumed: the embedding scales linearly with the workers at the measured per-actor rate (cores like "
        "these, the network keeping the actors fed), and the driver's share grows linearly with the paragraphs; "
        "Ray's start, the actors' model loading and the larger dense index an archive gets are left out.",
        "",
        "| paragraphs | " + " | ".join(f"{w} workers" for w in WORKERS) + " |",
        "| ---: | " + " | ".join("---:" for _ in WORKERS) + " |",
    ]
    for paragraphs in ARCHIVES:
        hours = [row["hours"] for row in info["projection"] if row["paragraphs"] == paragraphs]
        lines.append(f"| {paragraphs:,} | " + " | ".join(f"{_f(h)} h" for h in hours) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ray.md"))
    parser.add_argument("--every", type=int, default=9, help="every n-th editorial (1: all 266; slower)")
    parser.add_argument("--rounds", type=int, default=3, help="builds of each kind, alternating")
    args = parser.parse_args(argv)
    editorials = args.data / "editorials"
    if not editorials.is_dir():
        raise SystemExit(f"no editorials in {editorials}")
    work = Path(tempfile.mkdtemp(prefix="qa-bench-ray-"))
    load_start = load_average()
    log(f"scratch folder {work}; load average {load_start}")
    try:
        info = bench_ray_build(editorials, work, args.every, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info.update(ray_version=metadata.version("ray"), load=(load_start, load_average()))
    args.out.write_text(render(info, machine()))
    log(f"wrote {args.out}; load average {info['load'][1]}")


if __name__ == "__main__":
    main()
