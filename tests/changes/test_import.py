"""Articles in the formats newsrooms have: saved web pages, CSV and JSON Lines exports, dated plain text.

The samples under tests/samples/ were written for the project: an article page wrapped in a site's
navigation, share buttons, related links, comments and footer; a CSV whose quoted text spans lines;
a JSON Lines export with broken and incomplete rows. Indexing runs on the real model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.changes.importer import ExportUnreadable, import_export
from qa_service.cli import main
from qa_service.config import PROJECT_ROOT, Config
from qa_service.index.generation.build import build_index
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot
from qa_service.ingest.corpus import CorpusError, load_corpus, parse_file, parse_text
from qa_service.service import QAService, Question
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder
from ..fixtures import SAMPLES

PAGE = SAMPLES / "harbour-gazette-ferry-fares.html"
CSV = SAMPLES / "newsroom-export.csv"
JSONL = SAMPLES / "wire-archive.jsonl"


def snapshot_of(index: Path) -> Snapshot:
    return Snapshot(index / str(read_current_name(index)))


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# --- saved web pages -------------------------------------------------------------------------------------------

def test_a_saved_article_page_gives_the_article_without_the_site_around_it():
    article = parse_file(PAGE)
    assert article.id == "harbour-gazette-ferry-fares"
    assert article.title == "The ferry fare rise punishes the islands"
    assert article.date == "2021-04-09"
    assert article.author == "Editorial Board"
    # The canonical address, not og:url with its tracking parameter.
    assert article.url == "https://www.harbourgazette.example/opinion/editorials/2021/04/ferry-fare-rise-punishes-islands"
    assert len(article.paragraphs) == 5
    assert article.paragraphs[0].startswith("The Maritime Transport Board announced on Tuesday")
    assert article.paragraphs[-1].endswith("forgets whom it was set up to serve.")
    text = " ".join(article.paragraphs)
    for chrome in ("Subscribe", "Share on", "Tweet", "Most read", "Read more", "Comments", "All rights reserved",
                   "Cookie", "Skip to content", "Advertisement"):
        assert chrome not in text, chrome


def test_a_page_in_the_dong_a_layout_gives_its_paragraphs_and_posted_date():
    """The seed's site: paragraphs separated by <br><br> in one block, the date as a 'Posted …' line."""
    article = parse_file(SAMPLES / "donga-layout-subway-fares.html")
    assert article.title == "Seoul must keep its subway fares within reach"  # without the site name of <title>
    assert article.date == "2019-03-04"
    assert article.url == "https://www.dailynews.example/Opinion/article/all/20190304/0000001/1"
    assert len(article.paragraphs) == 4 and article.paragraphs[2].startswith("The free ride program")
    text = " ".join(article.paragraphs)
    for chrome in ("Go to contents", "Posted", "facebook", "font size", "Copyright", "Most Viewed", "#subway"):
        assert chrome not in text, chrome
    # Without the date in the address, the 'Posted' line dates the page.
    page = (SAMPLES / "donga-layout-subway-fares.html").read_text().replace("20190304/", "").replace(
        "March. 04, 2019", "Nov. 22, 2018")
    assert parse_text(page, "subway.html").date == "2018-11-22"


def test_a_page_that_states_no_date_is_undated_not_guessed():
    page = PAGE.read_text()
    for dated in ('<meta property="article:published_time" content="2021-04-09T06:30:00+01:00">',
                  '"datePublished": "2021-04-09T06:30:00+01:00",', '<time datetime="2021-04-09T06:30:00+01:00">',
                  "9 April 2021", "/2021/04"):
        assert dated in page
        page = page.replace(dated, "")
    article = parse_text(page, "ferry.html")
    assert article.date is None and "2017" in " ".join(article.paragraphs)  # a year in the text is no date


def test_an_html_page_in_the_corpus_is_indexed_and_answers_questions(fresh_index, embedder):
    corpus, index = fresh_index
    shutil.copy(PAGE, corpus / PAGE.name)
    report = build_index(corpus, index, embedder)
    assert report.articles_added == 1 and not report.skipped
    service = QAService(Config(corpus_dir=corpus, index_dir=index), embedder=embedder)
    result = service.ask(Question("How much did the ferry crossing earn last year?"))
    top = result["passages"][0]["citation"]
    assert top["article_id"] == "harbour-gazette-ferry-fares" and top["date"] == "2021-04-09"
    assert "1.3 million" in result["passages"][0]["text"]


def test_an_html_page_without_article_text_is_reported_not_indexed(tmp_path):
    (tmp_path / "empty-page.html").write_text("<html><head><title>x</title></head><body></body></html>")
    (tmp_path / "ok.txt").write_text("A title\n\nA paragraph.\n")
    articles, problems = load_corpus(tmp_path)
    assert [a.id for a in articles] == ["ok"]
    assert [(p.path, p.reason) for p in problems] == [("empty-page.html", "no article text found in the HTML page")]


NO_ARTICLE = {  # saved pages with no article on them (issue 21, 9), and why each is not one
    "navigation-only.html": "12 characters of text, fewer than the 250 of a page's article, and no og:type article",
    "section-front.html":
        "its text is only the words of its links and title (navigation, or a section's list of articles)",
}


def test_a_page_with_no_article_on_it_is_skipped_by_index_with_the_reason(tmp_path, fake_cli):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in [*NO_ARTICLE, PAGE.name]:
        shutil.copy(SAMPLES / name, corpus / name)
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    for name, reason in NO_ARTICLE.items():
        assert f"Skipped {name}: no article text in the HTML page: {reason}" in result.output
    assert list(snapshot_of(index).articles) == ["harbour-gazette-ferry-fares"]


@pytest.mark.parametrize("name", NO_ARTICLE)
def test_uploading_a_page_with_no_article_on_it_is_refused_with_the_reason(tmp_path, name):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text("The old harbour\n\nFishing boats leave the old harbour at dawn.\n")
    build_index(corpus, index, HashingEmbedder())
    config = Config(corpus_dir=corpus, index_dir=index, admin_token="t0ken")
    client = create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client()
    with (SAMPLES / name).open("rb") as page:
        response = client.post("/api/articles", data={"file": (page, name)},
                               headers={"Authorization": "Bearer t0ken"}, content_type="multipart/form-data")
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_article" and error["message"].endswith(NO_ARTICLE[name])
    assert sorted(listing(corpus)) == ["harbour.txt"] and list(snapshot_of(index).articles) == ["harbour"]


def test_html_upload_over_http_is_added_and_indexed(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text("The old harbour\n\nFishing boats leave the old harbour at dawn.\n")
    build_index(corpus, index, HashingEmbedder())
    config = Config(corpus_dir=corpus, index_dir=index, admin_token="t0ken", max_body_bytes=2048)
    client = create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client()
    assert PAGE.stat().st_size > config.max_body_bytes  # a page is larger than a question's limit
    with PAGE.open("rb") as page:
        response = client.post("/api/articles", data={"file": (page, "ferry fares.HTML")},
                               headers={"Authorization": "Bearer t0ken"}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] == "ferry-fares" and body["date"] == "2021-04-09" and body["paragraphs"] == 5
    assert (corpus / "ferry-fares.html").exists()
    article = client.get("/api/articles/ferry-fares").get_json()
    assert article["author"] == "Editorial Board" and article["title"] == "The ferry fare rise punishes the islands"
    # Without the token, a large body is still refused by the small limit.
    response = client.post("/api/ask", data=b"{" + b" " * 4096 + b"}", content_type="application/json")
    assert response.status_code == 413


# --- plain text dates and files not read -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Night trains\nDate: 2015-03-02\n\nSleepers are back.\n", "2015-03-02"),
    ("Night trains\n\ndate:  2015-03-02\n\nSleepers are back.\n", "2015-03-02"),
    ("Night trains\nPosted November. 22, 2018 07:29\n\nSleepers are back.\n", "2018-11-22"),
    ("Night trains\n\nSleepers are back.\n", None),
])
def test_plain_text_may_carry_a_date_line_after_the_title(text, expected):
    article = parse_text(text, "night-trains.txt")
    assert (article.title, article.date, article.paragraphs) == ("Night trains", expected, ("Sleepers are back.",))


def test_a_date_line_without_a_real_date_is_reported():
    with pytest.raises(CorpusError, match="the date line 'Date: 2015-02-30' holds no date"):
        parse_text("Night trains\nDate: 2015-02-30\n\nSleepers are back.\n", "n.txt")


def test_every_corpus_file_not_read_is_reported_with_the_reason(tmp_path):
    (tmp_path / "ok.md").write_text("# A title\n\nA paragraph.\n")
    (tmp_path / "export.csv").write_text("title,text\n")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "README").write_text("notes")
    (tmp_path / "drafts").mkdir()
    (tmp_path / ".ok.md.swp").write_text("editor scratch")
    articles, problems = load_corpus(tmp_path)
    assert [a.id for a in articles] == ["ok"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == {"export.csv", "photo.jpg", "README", "drafts"}
    assert "qa-service import" in reasons["export.csv"]
    assert ".jpg" in reasons["photo.jpg"] and "no extension" in reasons["README"]
    assert "folder" in reasons["drafts"]


# --- CSV and JSON Lines exports ----------------------------------------------------------------------------------

def test_csv_export_with_quoted_multi_line_text_is_imported_and_indexed(fresh_index, embedder):
    corpus, index = fresh_index
    before = snapshot_of(index)
    report = import_export(CSV, corpus, index, lambda: embedder)
    assert [(i.row, i.id) for i in report.imported] == [
        (1, "2019-lighthouse-keepers"), (2, "why-the-harbour-wall-cannot-wait-another-winter")]
    assert [r.row for r in report.refused] == [3] and "2014-02-30" in report.refused[0].reason
    keepers = parse_file(corpus / "2019-lighthouse-keepers.md")
    assert keepers.date == "2019-06-14" and keepers.author == "Editorial Board"
    assert keepers.url.endswith("/2019/06/lighthouse-keepers") and len(keepers.paragraphs) == 3
    assert '"a place in the service for life"' in keepers.paragraphs[0]  # CSV's doubled quotes undone
    wall = parse_file(corpus / "why-the-harbour-wall-cannot-wait-another-winter.md")
    assert wall.author == "Ruth Mackay, deputy editor" and len(wall.paragraphs) == 3  # a paragraph per line
    after = snapshot_of(index)
    assert len(after.articles) == len(before.articles) + 2 and report.build.articles_added == 2
    assert report.build.articles_unchanged == len(before.articles)  # incremental: nothing else re-read
    service = QAService(Config(corpus_dir=corpus, index_dir=index), embedder=embedder)
    result = service.ask(Question("How much would a plaque for the lighthouse keepers cost?"))
    assert result["passages"][0]["citation"]["article_id"] == "2019-lighthouse-keepers"


def test_jsonl_export_with_a_bad_row_imports_the_good_rows_and_says_why_the_others_were_refused(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    report = import_export(JSONL, corpus, index, HashingEmbedder)
    assert [i.id for i in report.imported] == ["wire-2016-0412", "wire-2016-0519", "wire-2016-0815"]
    refused = {r.row: r.reason for r in report.refused}
    assert set(refused) == {3, 4, 5}
    assert refused[3].startswith("not valid JSON (") and "column" in refused[3]
    assert refused[4] == "text is missing"
    assert "also on row 2" in refused[5]
    assert sorted(listing(corpus)) == ["wire-2016-0412.md", "wire-2016-0519.md", "wire-2016-0815.md"]
    assert sorted(snapshot_of(index).articles) == sorted(i.id for i in report.imported)
    assert parse_file(corpus / "wire-2016-0519.md").title == "A library is not a luxury"


def test_an_existing_id_is_refused_unless_replace(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    import_export(JSONL, corpus, index, HashingEmbedder)
    files = listing(corpus)
    again = import_export(JSONL, corpus, index, HashingEmbedder)
    assert again.imported == [] and again.build is None and listing(corpus) == files
    assert all("in the corpus already" in r.reason for r in again.refused if r.row in (1, 2, 6))
    edited = tmp_path / "edited.jsonl"
    edited.write_text('{"id": "wire-2016-0412", "title": "Parking charges, again", "text": "Now 4.10 an hour."}\n')
    replaced = import_export(edited, corpus, index, HashingEmbedder, replace=True)
    assert [(i.id, i.replaced) for i in replaced.imported] == [("wire-2016-0412", True)]
    assert snapshot_of(index).articles["wire-2016-0412"].title == "Parking charges, again"
    assert len(snapshot_of(index).articles) == 3


def test_a_failed_index_update_leaves_corpus_and_index_as_they_were(fresh_index):
    corpus, index = fresh_index
    files, version = listing(corpus), snapshot_of(index).version

    def broken_model():
        raise RuntimeError("model folder vanished")

    with pytest.raises(RuntimeError):
        import_export(CSV, corpus, index, broken_model)
    assert listing(corpus) == files and snapshot_of(index).version == version


@pytest.mark.parametrize("name, content, message", [
    ("articles.xml", "<rss/>", "give a .jsonl"),
    ("articles.csv", "headline,body\nA,B\n", "no title or text column"),
    ("articles.csv", "title,text,section\nA,B,C\n", "unknown CSV column(s) section"),
    ("articles.jsonl", b"\xff\xfe{}", "not UTF-8"),
])
def test_an_unreadable_export_is_one_clear_error(tmp_path, name, content, message):
    export = tmp_path / name
    export.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ExportUnreadable, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_export(export, tmp_path / "corpus", tmp_path / "index", HashingEmbedder)
    assert not (tmp_path / "corpus").exists() or not list((tmp_path / "corpus").iterdir())


def test_import_command_reports_rows_and_exits_1_when_some_were_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus"
    runner = CliRunner()
    missing = runner.invoke(main, ["import", str(tmp_path / "nope.csv"), "--corpus", str(corpus)])
    assert missing.exit_code == 1 and missing.output.startswith("Error:") and "Traceback" not in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_text("title,text,date\nA title,Some text,yesterday\n")
    result = runner.invoke(main, ["import", str(bad), "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    assert result.exit_code == 1
    assert "Refused row 1: date 'yesterday' is not an ISO date" in result.output
    assert "0 imported, 1 refused." in result.output
    assert not (tmp_path / "cache").exists()  # nothing to index: no model loaded, nothing exported

    monkeypatch.setenv("QA_CACHE_DIR", str(PROJECT_ROOT / "embeddings"))  # the session's export (conftest.py)
    result = runner.invoke(main, ["import", str(JSONL), "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    assert result.exit_code == 1, result.output
    assert "Imported row 1 as wire-2016-0412" in result.output and "Refused row 3: not valid JSON" in result.output
    assert "3 imported, 3 refused; index " in result.output


def test_index_command_names_unread_files_even_when_the_index_is_up_to_date(fresh_index, monkeypatch):
    corpus, index = fresh_index
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    (corpus / "archive.csv").write_text("title,text\n")
    result = CliRunner().invoke(main, ["index", "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "Skipped archive.csv: a CSV export: bring its rows in with `qa-service import`" in result.output
    assert "is up to date" in result.output


@pytest.mark.parametrize("title", ["'Budget' day", '"Zebra" crossings save "lives"', "It's 'fine'", 'A "quote'])
def test_titles_with_quote_marks_are_imported_unchanged(tmp_path, title):
    export = tmp_path / "quotes.jsonl"
    export.write_text(json.dumps({"title": title, "author": title, "text": "Some text."}) + "\n")
    report = import_export(export, tmp_path / "corpus", None)
    article = parse_file(tmp_path / "corpus" / report.imported[0].file)
    assert (article.title, article.author) == (title, title)


# --- issue 21, item 3: the importer keeps to the corpus limits every build uses -------------------------------

def test_a_row_over_the_file_size_limit_is_refused_and_the_others_imported(tmp_path, fake_cli, monkeypatch):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    export = tmp_path / "rows.jsonl"
    export.write_text(json.dumps({"id": "small", "title": "Small", "text": "A short article."}) + "\n"
                      + json.dumps({"id": "large", "title": "Large", "text": "Many words here. " * 200}) + "\n")
    monkeypatch.setenv("QA_MAX_FILE_BYTES", "2000")
    result = fake_cli("import", str(export), "--corpus", str(corpus), "--index", str(index))
    assert result.exit_code == 1, result.output
    assert "Refused row 2: the article file would be 3," in result.output
    assert "over the limit of 2,000 per file (QA_MAX_FILE_BYTES)" in result.output
    assert "1 imported, 1 refused" in result.output
    assert sorted(listing(corpus)) == ["small.md"] and sorted(snapshot_of(index).articles) == ["small"]
    monkeypatch.delenv("QA_MAX_FILE_BYTES")  # the default limit (256 KiB) is the same check
    report = import_export(export, tmp_path / "other", None, limits=Config().corpus_limits)
    assert [i.id for i in report.imported] == ["small", "large"]


def test_an_import_builds_with_the_configured_limits_as_index_does(tmp_path, fake_cli, monkeypatch):
    """QA_MAX_FILE_BYTES and QA_CORPUS_ALLOW_OUTSIDE_LINKS hold for the import's build too: it neither adds
    a file `index` skipped nor drops one `index` read."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "big.txt").write_text("Big\n\n" + "A long paragraph of words. " * 100 + "\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("Outside\n\nAn article kept outside the corpus folder.\n")
    (corpus / "outside.txt").symlink_to(outside)
    export = tmp_path / "one.jsonl"
    export.write_text(json.dumps({"id": "new", "title": "New", "text": "A new article."}) + "\n")
    monkeypatch.setenv("QA_MAX_FILE_BYTES", "2000")
    monkeypatch.setenv("QA_CORPUS_ALLOW_OUTSIDE_LINKS", "1")
    assert fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet").exit_code == 0
    assert sorted(snapshot_of(index).articles) == ["outside"]
    result = fake_cli("import", str(export), "--corpus", str(corpus), "--index", str(index))
    assert result.exit_code == 0, result.output
    assert sorted(snapshot_of(index).articles) == ["new", "outside"]
    assert "up to date" in fake_cli("index", "--corpus", str(corpus), "--index", str(index)).output
