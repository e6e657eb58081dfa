"""An httpx transport that gives a connection back to the pool when its reader stops early.

litellm stops reading a native Anthropic stream at its `message_stop` event, and the
openai SDK at `data: [DONE]`; both then close the response a few bytes before the
body's end (HTTP/1.1's terminating chunk). httpcore closes a connection whose body
was not read to the end, so every call through litellm opened a fresh connection:
a TCP (and, against a real provider, TLS) handshake per round, ~2 ms of CPU a
round here and a round trip or two of latency against a real provider.

`ReusingTransport` wraps the pool's own transport: when a response is closed (or its
byte stream abandoned) before the body ended, it reads what is left, within a budget
of bytes and time, so the connection can serve the next call. Anything over the
budget, or any error, closes the connection as before. A response whose socket was
shut down (a cancel, `tiller.llm._hang_up`) fails its first read at once.

An event stream ends at its `data: [DONE]` event even when the body goes on (a
provider holding it open, or trickling keep-alive comments after it): litellm's own
handler reads a body to its end, and would otherwise wait out the stall limit and lose
the finished answer. What follows the event is read within the same budget.

Only httpx's public transport interface is used (`BaseTransport`, `SyncByteStream`);
the read-timeout change rides on the documented `timeout` request extension, which
httpcore reads each time a body read starts.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator

from tiller.httpx_import import httpx

__all__ = [
    "DRAIN_BYTES",
    "DRAIN_SECONDS",
    "EVENT_TOO_BIG",
    "MAX_EVENT_BYTES",
    "EventTooBig",
    "ReusingTransport",
]

# An unread stream end is a few dozen bytes (`0\r\n\r\n`, an SSE `message_stop` or a
# usage chunk); a body with more left in it is a reply the reader gave up on.
DRAIN_BYTES = 64 * 1024
# A provider has the rest of a finished stream on the wire already; one that holds
# the body open past its last event loses its connection instead of keeping a thread.
DRAIN_SECONDS = 0.5
# The chat-completions stream's last event, at a line start (JSON text has no raw line
# breaks, so a line that reads so is the event), dispatched by its blank line.
_DONE = re.compile(rb"\ndata: ?\[DONE\][ \t]*\r?\n\r?\n")
_DONE_SPAN = 32  # bytes kept from one part to find the event split across parts
_BOM = b"\xef\xbb\xbf"
# One SSE line longer than this is no provider's event: the call fails rather than
# hold an endless line in memory (a whole large file's tool call is a few MB).
MAX_EVENT_BYTES = 64 * 1024 * 1024
EVENT_TOO_BIG = f"The provider sent a stream event over {MAX_EVENT_BYTES >> 20} MiB"


class EventTooBig(Exception):
    """An event stream's line went past `MAX_EVENT_BYTES`."""

    def __init__(self) -> None:
        super().__init__(EVENT_TOO_BIG)


class ReusingTransport(httpx.BaseTransport):
    """Delegates to `inner`; responses read their unread tail before closing.

    Args:
        inner: the transport that sends (normally an `httpx.HTTPTransport` and its pool).
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if isinstance(response.stream, httpx.SyncByteStream):
            # Compressed bytes cannot be searched for the closing event.
            sse = "text/event-stream" in response.headers.get("content-type", "") and (
                "content-encoding" not in response.headers
            )
            response.stream = _FinishingStream(response.stream, request, sse)
        return response

    def close(self) -> None:
        self._inner.close()


class _FinishingStream(httpx.SyncByteStream):
    """A response body that reads its own end before it closes, when nobody else did."""

    def __init__(self, inner: httpx.SyncByteStream, request: httpx.Request, sse: bool) -> None:
        self._inner = inner
        self._request = request
        self._sse = sse  # an uncompressed event stream: it ends at `data: [DONE]`
        self._ended = False  # the body was read to its end (or finishing was tried)

    def __iter__(self) -> Iterator[bytes]:
        # Closing this generator must not close the inner one before the body is
        # finished: not `yield from` (it would pass the close down first), and the inner
        # iterator held in a local (unwinding to the handler drops the loop's own).
        parts = iter(self._inner)
        tail = b"\n"  # the body starts at a line start
        line = 0  # bytes of the line being read
        head = b"" if self._sse else _BOM  # the body's first bytes while they may be a BOM
        try:
            for part in parts:
                if len(head) < len(_BOM):
                    # SSE allows a byte order mark first; the readers would take it as part
                    # of the first line's field name and drop that event.
                    head += part
                    if _BOM.startswith(head) and len(head) < len(_BOM):
                        continue
                    part = head.removeprefix(_BOM)
                    head = _BOM
                if self._sse:
                    newline = part.rfind(b"\n")
                    line = line + len(part) if newline < 0 else len(part) - newline - 1
                    if line > MAX_EVENT_BYTES:
                        raise EventTooBig
                    seen = tail + part
                    done = _DONE.search(seen) if b"[DONE]" in seen else None
                    if done is not None:
                        # The stream is over: end the body here for the reader.
                        yield part[: done.end() - len(tail)]
                        self._finish()
                        return
                    tail = seen[-_DONE_SPAN:]
                yield part
            self._ended = True
        except GeneratorExit:
            # The reader dropped its iterator mid-body. Once this frame is gone, the
            # inner iterator is collected and httpcore closes the connection; finish
            # the body first so that it is closed idle, ready for the next request.
            self._finish()
            raise

    def close(self) -> None:
        self._finish()
        self._inner.close()

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        timeouts = self._request.extensions.get("timeout") or {}
        # A fresh read of the body starts with this timeout on every read it makes.
        self._request.extensions["timeout"] = {**timeouts, "read": DRAIN_SECONDS}
        deadline = time.monotonic() + DRAIN_SECONDS
        left = DRAIN_BYTES
        # Any failure (a hung-up socket, a timeout) leaves the connection to be closed.
        with contextlib.suppress(Exception):
            for part in self._inner:  # continues the body where the reader stopped
                left -= len(part)
                if left < 0 or time.monotonic() > deadline:
                    return
