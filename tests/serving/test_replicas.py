"""Replicas: two real servers on one index folder through a rebuild and an admin change under load, and a
server on a folder that `qa-service publish` feeds.

Every answer is checked against the generation of the version it reports: each of its passages (article,
paragraph number, text) and titles must be in that generation. The changes remove an article, add one and
then rewrite it, so each version holds passages the others lack: an answer searched in one generation and
labelled with another, or put together from two, fails the check. All traffic is to 127.0.0.1, one worker
per server; every loop is bounded in count and time.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qa_service.config import PROJECT_ROOT
from qa_service.index.generation.build import build_index
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot

from ..fixtures import TRAM_ID, Server, http, slow, write_article

TOKEN = "replica-test-token"
GLACIERS_ID = "melting-glaciers"
QUESTIONS = ["What did Pompeo warn about?", "What did the mayor say after the tram derailment?",
             "How fast are the glaciers melting?", "Who is the president of the water board?"]


@dataclass(frozen=True)
class Version:
    """What one index version serves: its passages as (article id, paragraph, text), and its titles."""

    passages: frozenset
    titles: dict


def served_version(index: Path) -> tuple[str, Version]:
    snapshot = Snapshot(index / str(read_current_name(index)))
    passages = zip(snapshot.passage_article, snapshot.passage_paragraph.tolist(), snapshot.passage_text)
    return snapshot.version, Version(frozenset(passages), {a.id: a.title for a in snapshot.articles.values()})


def mismatches(answer: dict, versions: dict[str, Version]) -> list[str]:
    """What in one /api/ask answer is not in the version it reports (empty: it comes from that version alone)."""
    version = versions.get(answer["index_version"])
    if version is None:
        return [f"unknown version {answer['index_version']}"]
    wrong = []
    for passage in answer["passages"]:
        cited = passage["citation"]
        if (cited["article_id"], cited["paragraph"], passage["text"]) not in version.passages:
            wrong.append(f"{cited['article_id']} ¶{cited['paragraph']} {passage['text'][:40]!r} not in this version")
        elif version.titles[cited["article_id"]] != cited["title"]:
            wrong.append(f"{cited['article_id']}: title {cited['title']!r} is not this version's")
    if answer["answer"]:
        source = answer["passages"][answer["answer"]["passage"] - 1]["text"]
        if source[answer["answer"]["start"]:answer["answer"]["end"]] != answer["answer"]["text"]:
            wrong.append(f"answer {answer['answer']['text'][:40]!r} is not in its passage")
    return wrong


@dataclass
class Load:
    """A few client threads asking questions of the servers in turn, until stopped (bounded in count and time)."""

    servers: list[Server]
    threads: int = 3
    results: list[tuple[Server, float, int, dict]] = field(default_factory=list)  # server, sent at, status, body
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self._ask, args=(seed,)) for seed in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(90)

    def _ask(self, seed: int) -> None:
        rng = random.Random(seed)
        deadline = time.monotonic() + 90
        for turn in range(2000):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            server = self.servers[(seed + turn) % len(self.servers)]
            sent = time.monotonic()
            try:
                status, body = http(server.base + "/api/ask", {"question": rng.choice(QUESTIONS), "top_k": 8})
            except OSError as exc:  # a refused or reset connection is a failed request too
                self.errors.append(f"{server.base}: {exc!r}")
                continue
            self.results.append((server, sent, status, body))

    def answered_after(self, moment: float) -> dict[Server, list[dict]]:
        """The answers to requests sent after `moment`, by server."""
        answers: dict[Server, list[dict]] = {server: [] for server in self.servers}
        for server, sent, _, body in list(self.results):
            if sent > moment:
                answers[server].append(body)
        return answers

    def wait_for_answers(self, moment: float, each: int = 3, timeout: float = 60) -> None:
        """Until every server answered `each` requests sent after `moment`."""
        deadline = time.monotonic() + timeout
        while min(map(len, self.answered_after(moment).values())) < each:
            assert time.monotonic() < deadline, f"the load stalled: {len(self.results)} answers, {self.errors[:3]}"
            time.sleep(0.05)


def start_servers(tmp_path: Path, corpus: Path, *indexes_and_tokens: tuple[Path, str | None]) -> list[Server]:
    """Servers started side by side (each loads the model), answering before this returns."""
    servers = []
    for number, (index, token) in enumerate(indexes_and_tokens):
        logs = tmp_path / f"server-{number}"
        logs.mkdir()
        servers.append(Server(corpus, index, logs, token))
    for server in servers:
        assert server.wait_until_answering()[0] == 200, server.log()[-2000:]
    return servers


@pytest.fixture
def stop_afterwards():
    servers: list[Server] = []
    yield servers
    for server in servers:
        server.stop()


def versions_of(servers: list[Server]) -> list[str]:
    return [http(server.base + "/healthz")[1]["index_version"] for server in servers]


def check_load(load: Load, versions: dict[str, Version]) -> None:
    print(f"\n{len(load.results)} answers under load from {len(load.servers)} server(s), "
          f"{len(load.errors)} connection errors, versions {sorted({b['index_version'] for *_, b in load.results})}")
    assert not load.errors, load.errors[:5]
    assert [(s.base, status, body) for s, _, status, body in load.results if status != 200] == []
    for server, _, _, body in load.results:
        assert mismatches(body, versions) == [], (server.base, body["index_version"])
    for server in load.servers:
        assert server.process.poll() is None and "Traceback" not in server.log()


@slow
def test_two_servers_on_one_index_switch_together_through_a_rebuild_and_an_admin_change_under_load(
        fresh_index, embedder, tmp_path, stop_afterwards):
    corpus, index = fresh_index
    writer, follower = start_servers(tmp_path, corpus, (index, TOKEN), (index, None))
    stop_afterwards.extend([writer, follower])
    first, contents = served_version(index)
    versions = {first: contents}

    with Load([writer, follower]) as load:
        load.wait_for_answers(0.0)
        # (a) a rebuild beside the servers: an article removed, one added
        (corpus / f"{TRAM_ID}.txt").unlink()
        write_article(corpus, f"{GLACIERS_ID}.txt", "Melting glaciers",
                      ["The Greenland glaciers are melting faster than scientists predicted.",
                       "Meltwater lakes form on the ice sheet every summer."])
        rebuilt = build_index(corpus, index, embedder).version
        switched = time.monotonic()
        versions.update([served_version(index)])
        assert versions_of([writer, follower]) == [rebuilt, rebuilt]
        load.wait_for_answers(switched)

        # (b) an admin change on the writer: the added article rewritten
        rewritten = {"title": "Melting glaciers", "text": "Alpine glaciers lost a tenth of their ice in two summers."
                     "\n\nValleys below the shrinking glaciers run dry in August."}
        status, body = http(writer.base + "/api/articles?replace=1", rewritten,
                            headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and body["replaced"], body
        changed = time.monotonic()
        versions.update([served_version(index)])
        assert body["index_version"] in versions and len(versions) == 3
        assert versions_of([writer, follower]) == [body["index_version"]] * 2
        load.wait_for_answers(changed)

    check_load(load, versions)
    for moment, version in ((switched, rebuilt), (changed, body["index_version"])):
        for server, answers in load.answered_after(moment).items():  # sent after a switch: never the older version
            assert answers and all(a["index_version"] in (version, body["index_version"]) for a in answers), server.base
    for server, answers in load.answered_after(0.0).items():
        assert {a["index_version"] for a in answers} == set(versions), server.base  # each server served all three
    question = {"question": "Which valleys run dry in August?"}
    answers = [http(server.base + "/api/ask", question)[1] for server in (writer, follower)]
    assert [a["passages"][0]["citation"]["article_id"] for a in answers] == [GLACIERS_ID] * 2


def publish(index: Path, target: Path) -> dict:
    """`qa-service publish --json` in a subprocess, as an operator runs it."""
    done = subprocess.run([sys.executable, "-m", "qa_service.cli", "publish", "--index", str(index),
                           "--to", str(target), "--json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@slow
def test_a_server_on_a_published_folder_switches_when_a_new_version_is_published(fresh_index, embedder, tmp_path,
                                                                                 stop_afterwards):
    corpus, index = fresh_index
    replica = tmp_path / "replica"
    first = publish(index, replica)["version"]
    (follower,) = start_servers(tmp_path, corpus, (replica, None))
    stop_afterwards.append(follower)
    versions = dict([served_version(index)])
    assert versions_of([follower]) == [first]

    write_article(corpus, f"{GLACIERS_ID}.txt", "Melting glaciers",
                  ["The Greenland glaciers are melting faster than scientists predicted."])
    build_index(corpus, index, embedder)
    versions.update([served_version(index)])
    assert versions_of([follower]) == [first], "a replica follows the published folder, not the source"

    with Load([follower], threads=2) as load:
        load.wait_for_answers(0.0)
        report = publish(index, replica)
        published = time.monotonic()
        assert not report["up_to_date"] and report["version"] in versions and report["version"] != first
        assert versions_of([follower]) == [report["version"]]
        load.wait_for_answers(published)

    check_load(load, versions)
    after = load.answered_after(published)[follower]
    assert after and {a["index_version"] for a in after} == {report["version"]}
    status, body = http(follower.base + "/api/ask", {"question": "How fast are the Greenland glaciers melting?"})
    assert status == 200 and body["passages"][0]["citation"]["article_id"] == GLACIERS_ID
