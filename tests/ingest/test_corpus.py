from pathlib import Path

import pytest

from qa_service.ingest.corpus import (
    CorpusError,
    article_id_for,
    corpus_fingerprint,
    load_corpus,
    parse_file,
    parse_text,
)

from ..fixtures import (
    FISHERY_ID,
    MEASLES_ID,
    SEED_CORPUS,
    SHARED_DATA,
    TEST_ARTICLES,
    TRAM_ID,
    WATER_ID,
    needs_shared_data,
)

SEED = next(SEED_CORPUS.glob("*.txt"))


def test_seed_editorial_has_title_once_date_and_five_paragraphs():
    article = parse_file(SEED)
    assert article.title == "U.S. warning against Seoul’s speeding in improving inter-Korean relations"
    assert article.date == "2018-11-22"
    assert len(article.paragraphs) == 5
    assert article.paragraphs[0].startswith("U.S. Secretary of State Mike Pompeo said Wednesday")
    assert not any("Go to contents" in p or p.startswith(("Posted", "Updated")) for p in article.paragraphs)
    assert article.title not in article.paragraphs
    assert article.id == SEED.stem


def test_donga_layout_reads_posted_date_with_non_breaking_spaces():
    text = ("Go to contents\n\nTitle here\n\nTitle here\n\nPosted March. 5, 2019 10:00,\xa0\xa0\n\n"
            "Updated March. 5, 2019\n\n\nFirst.\n\nSecond.")
    article = parse_text(text, "x.txt")
    assert (article.title, article.date, article.paragraphs) == ("Title here", "2019-03-05", ("First.", "Second."))


def test_plain_layout_title_then_paragraphs_joined_across_lines():
    article = parse_text("A title\n\nFirst paragraph\ncontinues here.\n\nSecond one.\n", "plain-one.txt")
    assert article.title == "A title"
    assert article.paragraphs == ("First paragraph continues here.", "Second one.")
    assert article.date is None and article.url is None


def test_markdown_with_front_matter():
    text = ("---\ntitle: \"Water for all\"\ndate: 2020-02-29\nurl: https://example.org/w\nauthor: Ed Board\n---\n\n"
            "# Ignored heading when front matter has a title\n\nOne *paragraph*.\n\n> Quoted two.\n")
    article = parse_text(text, "water.md")
    assert article.title == "Water for all"
    assert article.date == "2020-02-29"
    assert article.url == "https://example.org/w"
    assert article.author == "Ed Board"
    assert article.paragraphs == ("One *paragraph*.", "Quoted two.")


def test_markdown_without_front_matter_takes_heading_as_title_and_bad_date_as_none():
    assert parse_text("# Heading title\n\nBody.", "h.md").title == "Heading title"
    assert parse_text("---\ndate: 2020-13-45\n---\n# T\n\nBody.", "d.md").date is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n  ", "empty"),
        (b"\x00\x01binary\x00", "binary"),
        (b"Title\n\n\xff\xfe caf\xe9", "not UTF-8"),
        (b"Only a title line", "no paragraphs"),
    ],
)
def test_unreadable_files_are_reported_by_name_and_skipped(tmp_path: Path, content: bytes, reason: str):
    (tmp_path / "good.txt").write_text("Good title\n\nA paragraph.")
    (tmp_path / "bad.txt").write_bytes(content)
    articles, problems = load_corpus(tmp_path)
    assert [a.id for a in articles] == ["good"]
    assert len(problems) == 1 and problems[0].path == "bad.txt"
    assert reason in problems[0].reason
    with pytest.raises(CorpusError):
        parse_file(tmp_path / "bad.txt")


def test_hidden_and_other_files_are_ignored(tmp_path: Path):
    (tmp_path / ".draft.txt").write_text("T\n\nP")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "real.txt").write_text("T\n\nP")
    assert [a.id for a in load_corpus(tmp_path)[0]] == ["real"]


def test_ids_are_stable_and_safe():
    assert article_id_for("Some File (1).txt") == "some-file-1"
    assert article_id_for("../../etc/passwd") == "etc-passwd"
    assert article_id_for("  ").startswith("article-")


def test_fingerprint_changes_with_content(tmp_path: Path):
    (tmp_path / "a.txt").write_text("T\n\nP")
    before = corpus_fingerprint(tmp_path)
    assert corpus_fingerprint(tmp_path) == before
    (tmp_path / "a.txt").write_text("T\n\nP changed")
    assert corpus_fingerprint(tmp_path) != before


def test_the_test_articles_parse_in_their_layouts():
    articles, problems = load_corpus(TEST_ARTICLES)
    assert problems == []
    by_id = {a.id: a for a in articles}
    assert set(by_id) == {WATER_ID, TRAM_ID, FISHERY_ID, MEASLES_ID}
    assert [by_id[i].date for i in (WATER_ID, TRAM_ID, FISHERY_ID)] == [None] * 3, "plain text, undated"
    assert by_id[TRAM_ID].title == "After the Kessling derailment, mend the tracks before the timetable"
    measles = by_id[MEASLES_ID]  # Markdown: front matter, a heading repeating the title, a quotation
    assert (measles.title, measles.date, measles.author) == (
        "Measles is back in Dunmore's classrooms", "2016-03-09", "The Editorial Board")
    assert len(measles.paragraphs) == 6 and measles.paragraphs[2].startswith("“I was told")
    assert all(len(a.paragraphs) >= 6 for a in articles)


@needs_shared_data("editorials")
def test_all_shared_editorials_parse_into_the_documented_paragraph_count():
    articles, problems = load_corpus(SHARED_DATA / "editorials")
    assert problems == []
    assert len(articles) == 266
    assert sum(len(a.paragraphs) for a in articles) == 4355


def test_one_date_parser_for_files_exports_and_requests():
    from qa_service.ingest.formats.common import parse_iso_date

    assert parse_iso_date(" '2015-03-02' ") == "2015-03-02", "front matter may quote a date"
    assert parse_iso_date("2015-03-02T10:00:00Z") == "2015-03-02", "an export may give the time too"
    assert parse_iso_date("2015-02-30") is None and parse_iso_date("March 2015") is None
    assert parse_iso_date("2015-03-02", whole=True) == "2015-03-02"
    for value in ("20150302", "2015-03-02T10:00", " 2015-03-02", "2015-3-2"):
        assert parse_iso_date(value, whole=True) is None, f"{value!r}: API fields take the date alone"
