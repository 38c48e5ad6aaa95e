"""An article given as fields: the checks and the file that the admin API and `qa-service import` share."""

import pytest

from qa_service.changes.importer import article_markdown
from qa_service.ingest.article_fields import (
    FieldError,
    article_file,
    check_date,
    check_text,
    check_title,
    check_url,
    one_line,
)
from qa_service.ingest.corpus import parse_text


def test_the_file_reads_back_as_the_same_article():
    _, text = article_file('"Zebra" crossings save "lives"', "First paragraph.\r\n\r\nSecond one.\n",
                        date="2024-03-01", url="https://example.org/zebra", author='The "Streets" desk')
    article = parse_text(text, "zebra.md")
    assert article.title == '"Zebra" crossings save "lives"'
    assert (article.date, article.url, article.author) == ("2024-03-01", "https://example.org/zebra",
                                                           'The "Streets" desk')
    assert article.paragraphs == ("First paragraph.", "Second one.")


def test_optional_fields_left_out_are_not_written():
    _, text = article_file("Ferries", "Hourly.")
    assert text == "---\ntitle: Ferries\n---\n\nHourly.\n"


def test_titles_and_authors_are_one_line_of_bounded_length():
    assert check_title("  Night \n trains\treturn ") == "Night trains return"
    assert one_line("author", "Ruth  Mackay,\n deputy editor") == "Ruth Mackay, deputy editor"
    for bad in ("bell \x07", "T" * 301):
        with pytest.raises(FieldError) as refused:
            one_line("author", bad)
        assert refused.value.field == "author" and str(refused.value).startswith("author must be one line")
    for missing in (None, "", "   ", "\"''\""):
        with pytest.raises(FieldError, match="^title is missing$"):
            check_title(missing)


def test_text_must_hold_something_and_no_nul():
    assert check_text("A paragraph.") == "A paragraph."
    for bad, reason in ((None, "is missing"), (" \n\t", "is missing"), ("nul \x00", "holds NUL characters")):
        with pytest.raises(FieldError) as refused:
            check_text(bad)
        assert (refused.value.field, refused.value.reason) == ("text", reason)


def test_dates_are_iso_days_and_only_exports_may_add_a_time():
    assert check_date("2024-03-01") == "2024-03-01"
    assert check_date("2024-03-01T10:00:00Z", whole=False) == "2024-03-01"
    for bad in ("2024-03-01T10:00:00Z", "20240301", "2024-02-30", "yesterday"):
        with pytest.raises(FieldError, match="^date .* is not an ISO date"):
            check_date(bad)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.org/a", "https://", "https://e.org/a b",
                                 "https://e.org/\x01x", "http://[::1", "https://e.org/" + "a" * 2000])
def test_urls_must_be_http_without_spaces_or_control_characters(url):
    with pytest.raises(FieldError, match="^url must be an http"):
        check_url(url)


def test_an_export_row_gets_the_same_rules_as_an_admin_article():
    """Before the two shared these checks, an export could carry a control character in its url and an author of
    any length; the admin API refused both."""
    row = {"title": "Ferries", "text": "Hourly.", "url": "https://e.org/\x01x"}
    with pytest.raises(ValueError, match="^url must be an http"):
        article_markdown(row)
    with pytest.raises(ValueError, match="^author must be one line"):
        article_markdown({"title": "Ferries", "text": "Hourly.", "author": "A" * 301})
    article_id, text = article_markdown({"title": "Ferries", "text": "Hourly.\nEvery day.", "date": "2024-03-01 09:00"})
    article = parse_text(text, "ferries.md")
    assert article_id == "ferries" and article.paragraphs == ("Hourly.", "Every day.") and article.date == "2024-03-01"
