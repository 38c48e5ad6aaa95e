"""When the bytes received hold a whole request (request_buffer.py): what the event loop hands to a thread."""

import pytest
from gunicorn.config import Config

from qa_service.serving import request_buffer
from qa_service.serving.request_buffer import RequestBuffer

LIMIT = 1000
CHUNKED = b"POST /api/ask HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


def fed(*pieces: bytes, limit: int = LIMIT) -> RequestBuffer:
    buffer = RequestBuffer(Config(), ("127.0.0.1", 5000), limit)
    for piece in pieces:
        assert not buffer.ready, piece  # nothing is fed after the request is ready
        buffer.feed(piece)
    return buffer


def trickled(raw: bytes, limit: int = LIMIT) -> list[bool]:
    """`ready` after each byte of `raw`, fed one at a time."""
    buffer = RequestBuffer(Config(), ("127.0.0.1", 5000), limit)
    states = []
    for i in range(len(raw)):
        buffer.feed(raw[i:i + 1])
        states.append(buffer.ready)
        if buffer.ready:
            break
    return states


@pytest.mark.parametrize("raw", [
    b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /api/ask HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n{\"a\"}",
    CHUNKED + b"2\r\n{}\r\n0\r\n\r\n",
    CHUNKED + b"1;name=value\r\n{\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n",
])
def test_a_request_is_ready_at_its_last_byte_not_before(raw):
    states = trickled(raw)
    assert states == [False] * (len(raw) - 1) + [True]
    buffer = fed(raw)
    assert buffer.ready and buffer.whole


def test_what_follows_a_request_is_not_part_of_it():
    buffer = fed(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HT")
    assert buffer.ready and buffer.whole and buffer.body_start == len(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")


@pytest.mark.parametrize("raw", [
    b"get /healthz HTTP/1.1\r\n",  # a lower-case method: refused at its first line, the head need not end
    b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n",
    b"POST /api/ask HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    b"GET /healthz HTTP/1.1\nHost: t\n\n",  # bare line feeds
    CHUNKED + b"zz\r\n{}\r\n0\r\n\r\n",
    CHUNKED + b"-10\r\n{}\r\n0\r\n\r\n",
    CHUNKED + b"2\r\n{}XX0\r\n\r\n",  # a chunk without its CRLF
    CHUNKED + b"2\r\n{}\r\n0\r\nbad trailer line\r\n\r\n",  # framed whole: gunicorn refuses the trailer on the thread
])
def test_a_request_gunicorn_refuses_is_handed_over_with_the_bytes_that_show_it(raw):
    buffer = fed(raw)
    assert buffer.ready and buffer.whole  # the thread parses them again and answers as gunicorn does


def test_a_body_over_the_limit_is_not_waited_for():
    buffer = fed(b"POST /api/articles HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
    assert buffer.ready and not buffer.whole  # refused from its Content-Length (or an admin's upload, read later)
    buffer = fed(CHUNKED + b"800\r\n" + b"x" * 1001)
    assert buffer.ready and not buffer.whole  # the application reads one byte over the limit from here: 413
    assert not fed(CHUNKED + b"800\r\n" + b"x" * 1000).ready


def test_expect_100_continue_is_seen_once_the_head_is_here():
    head = b"POST /api/ask HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    buffer = fed(head)
    assert buffer.expects_continue and not buffer.ready
    buffer.feed(b"{}")
    assert buffer.ready and buffer.whole


def test_a_trickled_request_is_parsed_a_few_times_not_at_every_byte(monkeypatch):
    """The head is parsed at its first line and at its end (and at each doubling of its size without an end), so a
    client that sends a byte at a time costs the event loop no more than one that sends it whole."""
    parses = []
    real = request_buffer.Request

    def counted(*args, **kwargs):
        parses.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(request_buffer, "Request", counted)
    head = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-Header-%d: value\r\n" % i for i in range(60)) + b"\r\n"
    assert trickled(head)[-1]
    assert len(parses) == 2
    parses.clear()
    assert trickled(CHUNKED + b"".join(b"1\r\nx\r\n" for _ in range(200)) + b"0\r\n\r\n")[-1]
    assert len(parses) == 2  # the chunks are followed without parsing the head again
