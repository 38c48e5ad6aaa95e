"""Adding and removing articles over HTTP: the token, validation, safe file names, incremental indexing, rollback."""

from __future__ import annotations

import importlib
import io
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_lock
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder
from ..fixtures import SAMPLES, SEED_CORPUS, admin_env

admin_module = importlib.import_module("qa_service.serving.web.admin")  # the package attribute `admin` is the blueprint

TOKEN = "test-admin-token-7f3a9c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ARTICLE = {
    "title": "Night trains return to Europe",
    "text": "Sleeper trains are coming back across Europe.\n\n"
            "Travellers choose them to avoid short flights. Operators add new routes every year.",
    "date": "2024-03-01",
    "url": "https://example.org/night-trains",
}


def tree(root: Path) -> set[str]:
    """Every path under `root`, lock files aside (they are created on first use and are empty)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.name.endswith(".lock")}


def make_env(tmp_path: Path, embedder=None, token: str | None = TOKEN) -> SimpleNamespace:
    return admin_env(tmp_path, token, embedder)


@pytest.fixture
def env(tmp_path):
    return make_env(tmp_path)


def version(env) -> str:
    return env.client.get("/healthz").get_json()["index_version"]


# --- the token ---------------------------------------------------------------------------------------------------

def test_without_a_configured_token_changes_are_403_and_reading_still_works(tmp_path):
    env = make_env(tmp_path, token=None)
    for response in (env.client.post("/api/articles", json=ARTICLE, headers=AUTH),
                     env.client.delete("/api/articles/harbour", headers=AUTH),
                     env.client.post("/api/articles", json=ARTICLE)):
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "admin_disabled"
    assert env.client.get("/api/articles").status_code == 200
    assert (env.corpus / "harbour.txt").exists() and not (env.corpus / "night-trains-return-to-europe.md").exists()


@pytest.mark.parametrize("header", [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wrong",
    f"Basic {TOKEN}",
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}",
    "Bearer \u00ff\u00fe non-ascii",
    "Bearer " + "x" * 5000,
])
def test_a_missing_or_wrong_token_is_401_json(env, header):
    headers = {} if header is None else {"Authorization": header}
    before = version(env)
    for response in (env.client.post("/api/articles", json=ARTICLE, headers=headers),
                     env.client.delete("/api/articles/harbour", headers=headers)):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert version(env) == before and (env.corpus / "harbour.txt").exists()


def test_the_token_is_checked_before_the_body_is_read(env):
    response = env.client.post("/api/articles", data="x" * (200 * 1024), content_type="application/json",
                               headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


def test_the_token_is_compared_in_constant_time(monkeypatch, env):
    calls = []
    real = admin_module.hmac.compare_digest
    monkeypatch.setattr(admin_module.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    env.client.post("/api/articles", json={}, headers={"Authorization": "Bearer nope"})
    assert calls and len(calls[0][0]) == len(calls[0][1]) == 32, "digests of equal length are compared"


# --- adding ------------------------------------------------------------------------------------------------------

def test_adding_an_article_stores_it_and_indexes_only_its_text(env):
    before = version(env)
    embedder = env.service.embedder
    response = env.client.post("/api/articles", json=ARTICLE, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["id"] == "night-trains-return-to-europe"
    assert (data["title"], data["date"], data["url"]) == (ARTICLE["title"], "2024-03-01", ARTICLE["url"])
    assert data["paragraphs"] == 2 and data["replaced"] is False
    assert data["index_version"] != before and data["build"]["articles_added"] == 1
    assert data["build"]["articles_unchanged"] == 2
    stored = env.corpus / data["file"]
    assert stored.parent == env.corpus and stored.name == "night-trains-return-to-europe.md"
    paragraphs = [p.strip() for p in ARTICLE["text"].split("\n\n")]
    assert set(embedder.encoded) <= set(paragraphs) | {
        "Travellers choose them to avoid short flights.", "Operators add new routes every year."}
    article = env.client.get(f"/api/articles/{data['id']}").get_json()
    assert [p["text"] for p in article["paragraphs"]] == paragraphs
    assert article["date"] == "2024-03-01" and article["url"] == ARTICLE["url"]
    assert version(env) == data["index_version"]
    ask = env.client.post("/api/ask", json={"question": "sleeper trains Europe", "top_k": 1}).get_json()
    assert ask["passages"][0]["citation"]["article_id"] == data["id"]
    assert not [p for p in env.corpus.iterdir() if p.name.startswith(".")], "no temporary files left behind"


def test_date_and_url_are_optional(env):
    response = env.client.post("/api/articles", json={"title": "Short one", "text": "Only one paragraph."},
                               headers=AUTH)
    assert response.status_code == 201
    data = response.get_json()
    assert data["date"] is None and data["url"] is None and data["paragraphs"] == 1


def test_the_author_is_kept_with_the_article(env):
    body = {"title": "Ferries", "text": "Ferries cross the strait hourly.", "author": '  The "Harbour" desk\n'}
    assert env.client.post("/api/articles", json=body, headers=AUTH).status_code == 201
    assert env.client.get("/api/articles/ferries").get_json()["author"] == 'The "Harbour" desk'


def test_a_misspelt_article_field_is_400_naming_it(env):
    before, files = version(env), tree(env.root)
    response = env.client.post("/api/articles", json={**ARTICLE, "athor": "A. Writer"}, headers=AUTH)
    assert response.status_code == 400
    assert "did you mean 'author'" in response.get_json()["error"]["message"]
    assert version(env) == before and tree(env.root) == files


def test_an_existing_id_is_409_unless_replace_is_asked(env):
    assert env.client.post("/api/articles", json=ARTICLE, headers=AUTH).status_code == 201
    stored = env.corpus / "night-trains-return-to-europe.md"
    original = stored.read_bytes()
    again = env.client.post("/api/articles", json={**ARTICLE, "text": "Different text."}, headers=AUTH)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "article_exists"
    assert stored.read_bytes() == original
    replaced = env.client.post("/api/articles?replace=1", json={**ARTICLE, "text": "Different text."}, headers=AUTH)
    assert replaced.status_code == 200 and replaced.get_json()["replaced"] is True
    article = env.client.get("/api/articles/night-trains-return-to-europe").get_json()
    assert [p["text"] for p in article["paragraphs"]] == ["Different text."]
    assert replaced.get_json()["build"]["articles_updated"] == 1


def test_a_file_of_another_layout_with_the_same_id_also_counts_as_existing(env):
    upload = {"file": (io.BytesIO(b"Harbour again\n\nA different harbour text.\n"), "harbour.md")}
    response = env.client.post("/api/articles", data=upload, headers=AUTH, content_type="multipart/form-data")
    assert response.status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({}, "title"),
    ({"text": "x"}, "title"),
    ({"title": "T"}, "text"),
    ({"title": "", "text": "x"}, "title"),
    ({"title": "   ", "text": "x"}, "title"),
    ({"title": "\"''\"", "text": "x"}, "title"),
    ({"title": "T" * 301, "text": "x"}, "title"),
    ({"title": 5, "text": "x"}, "title"),
    ({"title": ["T"], "text": "x"}, "title"),
    ({"title": "bell \x07", "text": "x"}, "title"),
    ({"title": "T", "text": ""}, "text"),
    ({"title": "T", "text": " \n\n \t"}, "text"),
    ({"title": "T", "text": {"a": 1}}, "text"),
    ({"title": "T", "text": "nul \x00 byte"}, "text"),
    ({"title": "T", "text": "# Only a heading"}, "article"),
    ({"title": "T", "text": "x", "date": "yesterday"}, "date"),
    ({"title": "T", "text": "x", "date": "2024-02-30"}, "date"),
    ({"title": "T", "text": "x", "date": "20240201"}, "date"),
    ({"title": "T", "text": "x", "date": 20240201}, "date"),
    ({"title": "T", "text": "x", "url": "javascript:alert(1)"}, "url"),
    ({"title": "T", "text": "x", "url": "ftp://example.org/a"}, "url"),
    ({"title": "T", "text": "x", "url": "https://"}, "url"),
    ({"title": "T", "text": "x", "url": "https://example.org/a b"}, "url"),
    ({"title": "T", "text": "x", "url": "https://example.org/\nx: y"}, "url"),
    ({"title": "T", "text": "x", "url": "http://[::1"}, "url"),
    ({"title": "T", "text": "x", "url": "https://e.org/" + "a" * 2000}, "url"),
    ({"title": "T", "text": "x", "author": 5}, "author"),
    ({"title": "T", "text": "x", "author": "bell \x07"}, "author"),
    ({"title": "T", "text": "x", "author": "A" * 301}, "author"),
    ({"title": "T", "text": "x", "id": "chosen-id"}, "id"),
])
def test_invalid_articles_are_400_json_and_change_nothing(env, body, field):
    before, files = version(env), tree(env.root)
    response = env.client.post("/api/articles", json=body, headers=AUTH)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["message"].startswith(field) or field in error["code"]
    assert version(env) == before and tree(env.root) == files


def test_lone_surrogates_are_400(env):
    body = b'{"title": "T \\ud800", "text": "x"}'
    response = env.client.post("/api/articles", data=body, content_type="application/json", headers=AUTH)
    assert response.status_code == 400


@pytest.mark.parametrize(("data", "content_type", "status"), [
    ('{"title": "T", "text": "x"}', "text/plain", 415),
    ("title=T&text=x", "application/x-www-form-urlencoded", 415),
    ("{not json", "application/json", 400),
    (b"\xff\xfe\x00", "application/json", 400),
    ("[1, 2]", "application/json", 400),
    ('{"title": "T", "text": "' + "y" * 70000 + '"}', "application/json", 413),
])
def test_malformed_requests_are_json_errors(env, data, content_type, status):
    response = env.client.post("/api/articles", data=data, content_type=content_type, headers=AUTH)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]["code"]


def test_a_title_in_quotes_keeps_its_quotes(env):
    body = {"title": '"Zebra" crossings save "lives"', "text": "Body text."}
    response = env.client.post("/api/articles", json=body, headers=AUTH)
    assert response.status_code == 201
    assert response.get_json()["title"] == '"Zebra" crossings save "lives"'


def test_a_header_looking_title_cannot_inject_front_matter(env):
    body = {"title": "Harmless\n---\ntitle: Injected\nurl: javascript:alert(1)", "text": "Body text."}
    response = env.client.post("/api/articles", json=body, headers=AUTH)
    assert response.status_code == 201
    data = response.get_json()
    assert data["title"] == "Harmless --- title: Injected url: javascript:alert(1)" and data["url"] is None


# --- uploads -----------------------------------------------------------------------------------------------------

def upload(env, content: bytes, filename: str, query: str = ""):
    return env.client.post(f"/api/articles{query}", data={"file": (io.BytesIO(content), filename)}, headers=AUTH,
                           content_type="multipart/form-data")


def test_uploading_a_plain_text_file(env):
    response = upload(env, b"Tides and moons\n\nThe moon pulls the tides twice a day.\n\nSpring tides are big.\n",
                      "Tides and Moons.txt")
    assert response.status_code == 201
    data = response.get_json()
    assert (data["id"], data["title"], data["paragraphs"], data["file"]) == (
        "tides-and-moons", "Tides and moons", 2, "tides-and-moons.txt")
    assert (env.corpus / "tides-and-moons.txt").read_bytes().startswith(b"Tides and moons")


def test_the_same_bytes_uploaded_under_another_suffix_are_read_again(env):
    """fishing.txt holds a saved page as raw markup; fishing.html?replace=1 with the same bytes is its article."""
    page = (SAMPLES / "fishing-quotas.html").read_bytes()
    assert upload(env, page, "fishing.txt").status_code == 201
    replaced = upload(env, page, "fishing.html", "?replace=1")
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["build"]["texts_embedded"] > 0
    snap = Snapshot(env.index / str(read_current_name(env.index)))
    passages = [t for a, t in zip(snap.passage_article, snap.passage_text) if a == "fishing"]
    paragraphs = [p["text"] for p in env.client.get("/api/articles/fishing").get_json()["paragraphs"]]
    assert passages == paragraphs and not any("<" in t for t in passages)


def test_uploading_a_markdown_file_with_front_matter(env):
    content = b"---\ntitle: Glass bridges\ndate: 2020-05-04\nurl: https://example.org/g\n---\n\nGlass bridges sway.\n"
    data = upload(env, content, "glass.md").get_json()
    assert (data["id"], data["title"], data["date"], data["url"]) == (
        "glass", "Glass bridges", "2020-05-04", "https://example.org/g")


def test_uploading_the_donga_layout(env):
    seed = SEED_CORPUS
    path = next(seed.glob("donga-*.txt"))
    data = upload(env, path.read_bytes(), path.name).get_json()
    assert data["date"] == "2018-11-22" and data["paragraphs"] == 5 and data["id"] == path.stem


@pytest.mark.parametrize(("filename", "stored"), [
    ("../../escape.txt", "escape.txt"),
    ("/etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows.md", "windows.md"),
    ("sub/dir/../../x.txt", "x.txt"),
    (".hidden.txt", "hidden.txt"),
    ("..txt", "article-cdb4ee2aea.txt"),  # nothing to transliterate: a hash of the name
    ("CON.TXT", "con.txt"),
    ("a\x00b.txt", "a-b.txt"),
    ("caf\u00e9 \u00fcber.md", "cafe-uber.md"),  # transliterated
    ("x" * 300 + ".txt", "x" * 120 + ".txt"),
])
def test_uploaded_file_names_are_sanitised_and_nothing_is_written_outside_the_corpus(env, filename, stored):
    outside = {p for p in tree(env.root) if not p.startswith("corpus")}
    response = upload(env, b"Safe title\n\nSafe paragraph.\n", filename)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["file"] == stored
    assert (env.corpus / stored).is_file()
    new_outside = {p for p in tree(env.root) if not p.startswith("corpus")} - outside
    assert all(p.startswith("index") for p in new_outside), new_outside
    assert not (env.root / "escape.txt").exists() and not (env.root.parent / "escape.txt").exists()


@pytest.mark.parametrize(("content", "filename", "code"), [
    (b"T\n\nP.\n", "virus.exe", "invalid_request"),
    (b"T\n\nP.\n", "noext", "invalid_request"),
    (b"T\n\nP.\n", "", "invalid_request"),
    (b"\xff\xfe\xfa not utf-8", "bad.txt", "invalid_request"),
    (b"", "empty.txt", "invalid_article"),
    (b"T\n\nP\x00.\n", "nul.txt", "invalid_article"),
    (b"Only a title\n", "title.txt", "invalid_article"),
    (b"---\ntitle: never closed\n", "open.md", "invalid_article"),
])
def test_unreadable_uploads_are_400_and_change_nothing(env, content, filename, code):
    before, files = version(env), tree(env.root)
    response = upload(env, content, filename)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert version(env) == before and tree(env.root) == files


PAGE = "<html><head><title>{}</title></head><body><article><p>" + "The ferry fare rose again this spring. " * 8 + \
    "</p></article></body></html>"


@pytest.mark.parametrize(("content", "filename"), [
    (b"---\ntitle: " + b"x" * 5000 + b"\n---\n\nText.\n", "long.md"),
    (b"x" * 301 + b"\n\nText.\n", "long.txt"),
    (PAGE.format("y" * 400).encode(), "long.html"),
    (b"---\ntitle: Fine\nauthor: " + b"z" * 301 + b"\n---\n\nText.\n", "author.md"),
])
def test_an_uploaded_files_title_and_author_are_held_to_the_limit_of_json_ones(env, content, filename):
    before, files = version(env), tree(env.root)
    response = upload(env, content, filename)
    assert response.status_code == 400, response.get_json()
    assert "at most 300 characters" in response.get_json()["error"]["message"]
    assert version(env) == before and tree(env.root) == files
    assert upload(env, PAGE.format("y" * 300).encode(), "fits.html").status_code == 201


def test_an_upload_without_the_file_field_is_400(env):
    response = env.client.post("/api/articles", data={"other": (io.BytesIO(b"T\n\nP.\n"), "a.txt")}, headers=AUTH,
                               content_type="multipart/form-data")
    assert response.status_code == 400
    response = env.client.post("/api/articles", data="garbage", headers=AUTH,
                               content_type="multipart/form-data; boundary=xyz")
    assert response.status_code == 400 and response.is_json


def test_an_upload_over_the_upload_limit_is_413(env):
    app = env.client.application
    app.config["QA"] = replace(app.config["QA"], max_upload_bytes=64 * 1024)  # uploads have their own limit
    response = upload(env, b"T\n\n" + b"word " * 20000, "big.txt")
    assert response.status_code == 413 and response.is_json


# --- deleting ----------------------------------------------------------------------------------------------------

def test_deleting_an_article_removes_its_file_and_its_passages(env):
    before = version(env)
    response = env.client.delete("/api/articles/bridges", headers=AUTH)
    assert response.status_code == 200
    data = response.get_json()
    assert data["removed_files"] == ["bridges.txt"] and data["build"]["articles_removed"] == 1
    assert data["index_version"] != before
    assert not (env.corpus / "bridges.txt").exists()
    assert env.client.get("/api/articles/bridges").status_code == 404
    snapshot = Snapshot(env.index / read_current_name(env.index))
    assert set(snapshot.passage_article) == {"harbour"}
    assert not [p for p in env.corpus.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("article_id", ["nope", "..", "...", "%2e%2e", "..%2F..%2Fetc", "HARBOUR", "harbour.txt",
                                        "-harbour", "a" * 200])
def test_deleting_an_unknown_or_unsafe_id_is_404(env, article_id):
    files = tree(env.root)
    response = env.client.delete(f"/api/articles/{article_id}", headers=AUTH)
    assert response.status_code == 404 and response.is_json
    assert tree(env.root) == files


def test_the_last_article_cannot_be_deleted(env):
    assert env.client.delete("/api/articles/bridges", headers=AUTH).status_code == 200
    response = env.client.delete("/api/articles/harbour", headers=AUTH)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "last_article"
    assert (env.corpus / "harbour.txt").exists()
    assert env.client.get("/api/articles/harbour").status_code == 200


# --- failures roll the corpus back -------------------------------------------------------------------------------

def test_when_indexing_fails_the_new_file_is_removed_and_the_index_unchanged(tmp_path):
    env = make_env(tmp_path, embedder=HashingEmbedder(fail_after=0))
    before, files = version(env), tree(env.corpus)
    response = env.client.post("/api/articles", json=ARTICLE, headers=AUTH)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "index_build_failed" and "unchanged" in error["message"]
    assert tree(env.corpus) == files and version(env) == before


def test_when_indexing_a_replacement_fails_the_old_file_is_restored(tmp_path):
    env = make_env(tmp_path, embedder=HashingEmbedder(fail_after=0))
    original = (env.corpus / "harbour.txt").read_bytes()
    response = upload(env, b"Harbour\n\nA brand new text that must be embedded.\n", "harbour.txt", "?replace=1")
    assert response.status_code == 503
    assert (env.corpus / "harbour.txt").read_bytes() == original
    assert sorted(p.name for p in env.corpus.iterdir()) == ["bridges.txt", "harbour.txt"]


def test_when_the_index_is_busy_the_change_is_refused_with_503_and_nothing_changes(env, monkeypatch):
    monkeypatch.setattr(admin_module, "LOCK_WAIT_SECONDS", 0.3)
    files, before = tree(env.corpus), version(env)
    with build_lock(env.index):
        response = env.client.post("/api/articles", json=ARTICLE, headers=AUTH)
        deleted = env.client.delete("/api/articles/bridges", headers=AUTH)
    for r in (response, deleted):
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "index_busy"
    assert tree(env.corpus) == files and version(env) == before
    assert env.client.post("/api/articles", json=ARTICLE, headers=AUTH).status_code == 201


def test_concurrent_additions_are_serialised_and_all_indexed(env):
    results = {}

    def add(i: int) -> None:
        body = {"title": f"Concurrent article {i}", "text": f"Paragraph number {i} about topic {i}."}
        results[i] = env.client.application.test_client().post("/api/articles", json=body, headers=AUTH)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status_code for r in results.values()) == [201] * 6
    snapshot = Snapshot(env.index / read_current_name(env.index))
    assert {f"concurrent-article-{i}" for i in range(6)} <= set(snapshot.articles)
    assert len(snapshot.passage_article) == 2 + 6


# --- with the real model -----------------------------------------------------------------------------------------

def test_an_article_added_over_http_answers_questions_with_the_real_model(fresh_index, embedder):
    corpus, index = fresh_index
    config = Config(corpus_dir=corpus, index_dir=index, admin_token=TOKEN)
    client = create_app(config, service=QAService(config, embedder)).test_client()
    body = {"title": "Bees and orchards", "date": "2023-06-01",
            "text": "Honeybees pollinate apple orchards in spring.\n\nWithout bees the apple harvest would fail."}
    response = client.post("/api/articles", json=body, headers=AUTH)
    assert response.status_code == 201
    assert response.get_json()["build"]["texts_embedded"] <= 4
    data = client.post("/api/ask", json={"question": "Who pollinates apple orchards?"}).get_json()
    assert data["passages"][0]["citation"]["article_id"] == "bees-and-orchards"
    assert data["passages"][0]["citation"]["date"] == "2023-06-01"
    assert data["index_version"] == response.get_json()["index_version"]
    assert client.delete("/api/articles/bees-and-orchards", headers=AUTH).status_code == 200
    data = client.post("/api/ask", json={"question": "Who pollinates apple orchards?"}).get_json()
    assert all(p["citation"]["article_id"] != "bees-and-orchards" for p in data["passages"])
