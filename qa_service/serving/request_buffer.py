"""Whether the bytes a client has sent so far hold a whole HTTP/1.1 request.

A worker's event loop reads each request into a RequestBuffer as its bytes arrive, and hands the connection to a
thread only once the buffer is `ready` (worker.py): no thread waits for a client's bytes. The head is parsed by
gunicorn's own parser, over the bytes at hand: the parser that the thread then runs over the same bytes, so what
counts as a whole head, and what is refused (and answered by the thread as gunicorn answers it), is the same in
both places. The body ends where its Content-Length says, or, chunked, where its chunks say, followed as they arrive.

Each byte is looked at about once however slowly a request trickles in: the head is parsed when its end arrives
(or its first line, or every doubling of its size), a chunked body is followed from where it was left.
"""

from __future__ import annotations

from gunicorn.http.body import ChunkedReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import Unreader

FIRST_PARSE_BYTES = 8192  # a head still without its end is parsed at this size, then at every doubling


class _Incomplete(Exception):
    """The parser asked for bytes past those received."""


class _Received(Unreader):
    """What gunicorn's parser reads from: the bytes received, then _Incomplete (not NoMoreData, the end of a closed
    connection, which the parser turns into errors of its own in a chunked body)."""

    def __init__(self, data: bytes):
        super().__init__()
        self._data: bytes | None = data

    def chunk(self, size_hint=None) -> bytes:
        if self._data is None:
            raise _Incomplete
        data, self._data = self._data, None
        return data


class RequestBuffer:
    """One request's bytes as they arrive. `ready`: hand it to a thread, whole (`whole`) or never to be whole here:
    a head gunicorn refuses (whole too: the thread finds the same fault in the same bytes), or a body over
    `body_limit`, which is not read here (the application refuses it, or reads it on its thread)."""

    def __init__(self, cfg, peer, body_limit: int):
        self.cfg, self.peer, self.body_limit = cfg, peer, body_limit
        self.data = bytearray()
        self.ready = False
        self.whole = False
        self.body_start: int | None = None  # where the body begins, once the head is here
        self.expects_continue = False  # the head asks for `100 Continue` before its body is sent
        self._body_length = 0  # a body of known length: its length, and where it ends
        self._body_end = 0
        self._chunks: _Chunks | None = None
        self._searched = 0  # the head's end was looked for up to here
        self._first_line = False
        self._parse_at = FIRST_PARSE_BYTES

    def feed(self, data: bytes) -> None:
        self.data += data
        if self.body_start is None:
            self._read_head()
        if self.body_start is not None and not self.ready:
            self._read_body()

    def _read_head(self) -> None:
        data = self.data
        start = max(0, self._searched - 3)
        self._searched = len(data)
        ended = data.find(b"\r\n\r\n", start) >= 0
        first_line = not self._first_line and data.find(b"\n", start) >= 0  # a bad request line is refused at once
        if not (ended or first_line or len(data) >= self._parse_at):
            return
        self._first_line = self._first_line or first_line
        self._parse_at = max(self._parse_at, 2 * len(data))
        source = _Received(bytes(data))
        try:
            request = Request(self.cfg, source, self.peer)
        except _Incomplete:
            return
        except Exception:  # any refusal: the thread parses these bytes again, and answers it
            self.ready = self.whole = True
            return
        self.body_start = len(data) - len(source.buf.getvalue())
        self.expects_continue = request._expected_100_continue
        reader = request.body.reader
        if isinstance(reader, ChunkedReader):
            self._chunks = _Chunks(self.body_start, reader.limit_chunk_size_line, reader.limit_trailer_section)
        else:  # a LengthReader: gunicorn reads a request without Content-Length as one of length 0
            self._body_length = reader.length
            self._body_end = self.body_start + reader.length

    def _read_body(self) -> None:
        if self._chunks is None:
            if self._body_length > self.body_limit:
                self.ready = True
            elif len(self.data) >= self._body_end:
                self.ready = self.whole = True
            return
        try:
            ended = self._chunks.end(self.data) is not None
        except ValueError:  # framing gunicorn refuses: the thread finds it in these bytes
            ended = True
        if ended:
            self.ready = self.whole = True
        elif self._chunks.received > self.body_limit:  # the application reads one byte over its limit: 413
            self.ready = True


class _Chunks:
    """Where a chunked body ends, by gunicorn's framing rules (ChunkedReader), followed as its bytes arrive;
    ValueError for framing it refuses."""

    HEX = b"0123456789abcdefABCDEF"

    def __init__(self, start: int, line_limit: int, trailer_limit: int):
        self.pos = start  # the next chunk's size line
        self.received = 0  # bytes of chunk data received so far
        self._complete = 0  # bytes of data in the chunks received whole
        self._line_limit, self._trailer_limit = line_limit, trailer_limit
        self._trailers: int | None = None  # where the trailer section starts, after the last chunk
        self._searched = 0

    def end(self, data: bytearray) -> int | None:
        """Where the body ends in `data`, or None while it has not all arrived."""
        while self._trailers is None:
            line_end = data.find(b"\r\n", self.pos)
            if line_end < 0:
                if len(data) - self.pos > self._line_limit:
                    raise ValueError("chunk size line too long")
                return None
            size = self._size(bytes(data[self.pos:line_end]))
            if size == 0:
                self._trailers = self._searched = line_end + 2
                break
            start, end = line_end + 2, line_end + 2 + size + 2
            if len(data) < end:
                self.received = self._complete + min(size, len(data) - start)
                return None
            if data[end - 2:end] != b"\r\n":
                raise ValueError("chunk without its CRLF")
            self._complete += size
            self.received = self._complete
            self.pos = end
        if data[self._trailers:self._trailers + 2] == b"\r\n":
            return self._trailers + 2
        found = data.find(b"\r\n\r\n", max(self._trailers, self._searched - 3))
        self._searched = len(data)
        if found >= 0:
            return found + 4
        if len(data) - self._trailers > self._trailer_limit:
            raise ValueError("trailer section too long")
        return None

    @classmethod
    def _size(cls, line: bytes) -> int:
        size, *extension = line.split(b";", 1)
        if extension:
            size = size.rstrip(b" \t")
        if not size or size.strip(cls.HEX):
            raise ValueError(f"bad chunk size {size!r}")
        return int(size, 16)
