"""A local chat-completions (and Anthropic Messages) server that replays scripted replies.

Integration tests drive the real litellm path through it, benchmarks measure
against it, and the tmux end-to-end tests point the real `tiller` binary at it:

    with FakeOpenAIServer([ServerReply(text="hi")]) as server:
        litellm.completion(model="openai/fake-model", api_base=server.base_url, ...)
        assert server.requests[0].body["messages"] == [...]

From a shell (prints `READY http://127.0.0.1:PORT/v1`, serves until killed):

    python -m tiller.testing.server --script script.json [--port 0]

`POST /v1/messages` answers the same replies in Anthropic's shape, with cache
accounting (`tiller.testing.anthropic`), so `anthropic/...` with `api_base`
set to `server.root_url` runs litellm's native Anthropic client.

Stdlib only. Each reply is served once, in order; `default` answers when the
queue is empty, otherwise the server answers 500 so a test fails loudly. A
`responder` instead picks every reply from the request body (e.g. benchmarks
giving each session the same number of rounds however requests interleave).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tiller.testing.anthropic import (
    CacheAccount,
    PromptCache,
    anthropic_error,
    message_body,
    message_events,
    validate_request,
)

__all__ = [
    "FakeOpenAIServer",
    "RecordedRequest",
    "ServerReply",
    "load_script",
    "main",
    "serve_script_process",
]

_POLL = 0.02  # how often a held reply looks at its gate / file / the stop flag

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


@dataclass
class ServerReply:
    """One scripted HTTP response to a chat-completions request.

    Attributes:
        text: assistant text; streamed in pieces of `chunk_size` characters.
        tool_calls: (name, raw JSON arguments) pairs; ids are `call_<n>`, unique per server.
        tool_call_ids: ids for those calls, in order, instead (a provider's own format,
            such as `functions.read_file:0`).
        status: HTTP status; anything but 200 sends an OpenAI-style error body.
        error_message: the message of that error body.
        headers: extra response headers (e.g. `{"Retry-After": "0"}`).
        delay: seconds before the response starts.
        chunk_delay: seconds between streamed chunks (none after the opening role chunk).
        chunk_size: characters per text chunk; tool arguments are split the same way.
        gate: when given, the response is held (before its first byte) until it is set.
        hold_until_file: like `gate` for the CLI: held until this path exists.
        usage: (prompt, completion, cached prompt) token counts.
        cost: when set, reported as `usage.cost` in USD (as OpenRouter does).
        drop_after: when set, the connection is cut after this many streamed events
            (a mid-stream failure; 0 cuts it right after the headers).
        stall_after: when set, the stream goes silent for good after this many events
            (until the client hangs up or the server stops): a stalled provider.
        raw_body: when set, a 200 with this body (as `content_type`) instead of a
            completion: a proxy's HTML error page, or text that is not JSON.
        content_type: the content type of `raw_body`.
        close_without_reply: close the connection before sending any byte.
        thinking: reasoning text streamed before the answer (Anthropic: a signed
            `thinking` block; chat completions: `reasoning_content` deltas).
        redacted_thinking: the opaque data of a `redacted_thinking` block (Anthropic only).
        reasoning_details: OpenRouter's reasoning detail objects, each streamed in a
            delta of its own (with its text as `reasoning`), before the answer.
        hold_end: after the stream's last event (`message_stop`, `data: [DONE]`) the
            body is left open, its terminating chunk unsent, until the client hangs up.
        trickle_end: when set, after the stream's last event an SSE comment line is sent
            every this many seconds, the body never ending, until the client hangs up.
        endless_line: the stream's first event never ends: after its `data: ` come
            blocks of this many bytes (no line break), until the client hangs up.
    """

    text: str = ""
    tool_calls: Sequence[tuple[str, str]] = ()
    tool_call_ids: Sequence[str] = ()
    status: int = 200
    error_message: str = "scripted error"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 4
    gate: threading.Event | None = None
    hold_until_file: str | None = None
    usage: tuple[int, int, int] = (10, 5, 0)
    cost: float | None = None
    drop_after: int | None = None
    stall_after: int | None = None
    raw_body: str | None = None
    content_type: str = "text/html; charset=utf-8"
    close_without_reply: bool = False
    thinking: str = ""
    redacted_thinking: str = ""
    reasoning_details: Sequence[Mapping[str, Any]] = ()
    hold_end: bool = False
    trickle_end: float | None = None
    endless_line: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServerReply:
        """Build a reply from its JSON form (the fields above, without `gate`).

        `tool_calls` items may be `[name, arguments]` or `{"name": ..., "arguments": ...}`;
        arguments that are not a string are JSON-encoded.

        Raises:
            ValueError: on an unknown or unsupported field.
        """
        allowed = {f.name for f in fields(cls)} - {"gate"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown reply field(s) {unknown}; allowed: {sorted(allowed)}")
        values = dict(data)
        if "tool_calls" in values:
            values["tool_calls"] = [_tool_call_from_json(item) for item in values["tool_calls"]]
        if "usage" in values:
            values["usage"] = tuple(values["usage"])
        if "headers" in values:
            values["headers"] = {str(k): str(v) for k, v in values["headers"].items()}
        return cls(**values)


def _tool_call_from_json(item: Any) -> tuple[str, str]:
    if isinstance(item, Mapping):
        name, arguments = item["name"], item.get("arguments", "{}")
    else:
        name, arguments = item
    return str(name), arguments if isinstance(arguments, str) else json.dumps(arguments)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received: its path, headers and JSON body (`{}` when none)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


_NO_REPLY = ServerReply(status=500, error_message="no scripted reply left")


class FakeOpenAIServer:
    """A threaded HTTP server on 127.0.0.1 speaking the chat-completions API.

    Args:
        replies: the replies to serve, one per chat-completions request, in order.
        default: the reply once the queue is empty (None: a 500 "no scripted reply left").
        responder: when given, picks the reply for each chat-completions request from its
            JSON body (queue and `default` are then unused); a responder that raises
            gets a 500 with the exception as its message.
        port: the port to bind; 0 picks a free one.
        record_to: also append each recorded request to this file as a JSON line.
        min_cache_tokens: Anthropic route: prefixes shorter than this are never cached.
        tls: when given, serve HTTPS with this server-side context (URLs say `https`).

    Use it as a context manager, or call `start()` and `stop()`.
    """

    def __init__(
        self,
        replies: Iterable[ServerReply] = (),
        *,
        default: ServerReply | None = None,
        port: int = 0,
        record_to: str | Path | None = None,
        responder: Callable[[dict[str, Any]], ServerReply] | None = None,
        min_cache_tokens: int = 1024,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.default = default
        self._tls = tls
        self.min_cache_tokens = min_cache_tokens
        self.cache = PromptCache()
        self._accounts: list[CacheAccount] = []
        self.responder = responder
        self._replies: deque[ServerReply] = deque(replies)
        self._requests: list[RecordedRequest] = []
        self._record_to = Path(record_to) if record_to is not None else None
        self._cond = threading.Condition()
        self._holding = 0
        self._cut_short = 0
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._accepted = 0
        self._port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", self._port), _Handler, self)
        if self._tls is not None:
            self._httpd.socket = self._tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held, delayed and streaming responses end promptly."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._cond:
            connections = list(self._connections)
            self._cond.notify_all()
        for conn in connections:
            # Wakes handler threads blocked on keep-alive reads or in select().
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- public API ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after `start()`)."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running; call start() or use `with`")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        """The base URL without `/v1` (what litellm's Anthropic route takes as `api_base`)."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def cache_accounts(self) -> list[CacheAccount]:
        """How each Messages request's input tokens split (uncached, read, written), in order."""
        with self._cond:
            return list(self._accounts)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._cond:
            return list(self._requests)

    @property
    def connections_accepted(self) -> int:
        """How many connections clients have opened so far (reused ones count once)."""
        with self._cond:
            return self._accepted

    @property
    def remaining(self) -> int:
        """How many scripted replies are still queued."""
        with self._cond:
            return len(self._replies)

    def add(self, *replies: ServerReply) -> None:
        """Queue more replies."""
        with self._cond:
            self._replies.extend(replies)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `n` requests arrived; returns them all.

        Raises:
            TimeoutError: fewer than `n` arrived within `timeout` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"expected {n} request(s), got {len(self._requests)}")
            return list(self._requests)

    def held(self, timeout: float = 5.0) -> bool:
        """Wait until some reply is being held on its gate (or file); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._holding > 0, timeout)

    def wait_for_hangup(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Wait until `n` responses were cut short by the client going away; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._cut_short >= n, timeout)

    # -- used by the handler -----------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(request)
            if self._record_to is not None:
                with self._record_to.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(request.__dict__) + "\n")
            self._cond.notify_all()

    def _next_reply(self, body: dict[str, Any]) -> ServerReply:
        if self.responder is not None:
            try:
                return self.responder(body)
            except Exception as exc:
                return ServerReply(status=500, error_message=f"responder failed: {exc!r}")
        with self._cond:
            if self._replies:
                return self._replies.popleft()
        return self.default if self.default is not None else _NO_REPLY

    def _call_ids(self, reply: ServerReply, prefix: str = "call_") -> Iterator[str]:
        """The reply's own ids for its tool calls, then `<prefix><n>` ones, unique per server."""
        yield from reply.tool_call_ids
        while True:
            yield f"{prefix}{next(self._ids)}"

    def _account(self, body: dict[str, Any]) -> CacheAccount:
        account = self.cache.account(body, self.min_cache_tokens)
        with self._cond:
            self._accounts.append(account)
        return account

    def _hung_up(self) -> None:
        with self._cond:
            self._cut_short += 1
            self._cond.notify_all()

    def _set_holding(self, delta: int) -> None:
        with self._cond:
            self._holding += delta
            self._cond.notify_all()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
                self._accepted += 1
            else:
                self._connections.discard(conn)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when benchmarks open 100 connections at once.
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: FakeOpenAIServer
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client hanging up (or the server stopping) is not news
        super().handle_error(request, client_address)


class _ClientGone(Exception):
    """The client disconnected or the server is stopping; end the response quietly."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        # Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every call.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.request, add=True)
        super().setup()

    def finish(self) -> None:
        self.server.owner._track(self.request, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- routing -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record({})
        if self.path.rstrip("/").endswith("/models"):
            models = {
                "object": "list",
                "data": [
                    {"id": "fake-model", "object": "model", "created": 0, "owned_by": "tiller"}
                ],
            }
            self._send_json(200, models)
        else:
            self._send_json(404, _error_body(404, f"no route for GET {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._send_json(400, _error_body(400, "request body is not JSON"))
            return
        self._record(body if isinstance(body, dict) else {"_": body})
        if self.path.split("?")[0].rstrip("/").endswith("/messages"):
            self._messages(body)
            return
        if not self.path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            self._send_json(404, _error_body(404, f"no route for POST {self.path}"))
            return
        problem = _invalid_history(body)
        if problem is not None:
            self._send_json(400, _error_body(400, problem))
            return
        reply = self.server.owner._next_reply(body)
        try:
            self._wait_before_reply(reply)
            if reply.close_without_reply:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.raw_body is not None:
                self._send_raw(reply)
            elif reply.status != 200:
                self._send_json(
                    reply.status, _error_body(reply.status, reply.error_message), reply.headers
                )
            elif body.get("stream"):
                self._stream(reply, body)
            else:
                self._send_json(200, self._completion(reply, body), reply.headers)
        except (_ClientGone, ConnectionError):
            self.close_connection = True
            self.server.owner._hung_up()

    def _messages(self, body: dict[str, Any]) -> None:
        """Anthropic Messages: the same scripted reply, as Anthropic would send it."""
        owner = self.server.owner
        problem = validate_request(body)
        reply = owner._next_reply(body) if problem is None else None
        try:
            if reply is None:
                self._send_json(400, anthropic_error(400, problem or ""))
                return
            self._wait_before_reply(reply)
            if reply.close_without_reply:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.raw_body is not None:
                self._send_raw(reply)
                return
            if reply.status != 200:
                error = anthropic_error(reply.status, reply.error_message)
                self._send_json(reply.status, error, reply.headers)
                return
            account = owner._account(body)
            ids = owner._call_ids(reply, "toolu_")
            if not body.get("stream"):
                self._send_json(200, message_body(reply, body, account, ids), reply.headers)
                return
            self._open_stream(reply)
            for index, (name, data) in enumerate(message_events(reply, body, account, ids)):
                if not self._before_event(reply, index):
                    return
                self._write_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self._end_body(reply)
        except (_ClientGone, ConnectionError):
            self.close_connection = True
            owner._hung_up()

    def _open_stream(self, reply: ServerReply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _before_event(self, reply: ServerReply, index: int) -> bool:
        """Drop, stall or pace before streamed event `index`; False once the stream is cut."""
        if index == reply.drop_after:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        if index == reply.stall_after:
            self.wfile.flush()
            self._pause(24 * 3600.0)
        if index > 1 and reply.chunk_delay:  # the opening event goes out with the first piece
            self._pause(reply.chunk_delay)
        return True

    def _record(self, body: dict[str, Any]) -> None:
        self.server.owner._record(RecordedRequest(self.path, dict(self.headers.items()), body))

    # -- waiting -------------------------------------------------------------------------

    def _wait_before_reply(self, reply: ServerReply) -> None:
        owner = self.server.owner
        if reply.gate is not None or reply.hold_until_file is not None:
            owner._set_holding(+1)
            try:
                while not _released(reply):
                    self._pause(_POLL)
            finally:
                owner._set_holding(-1)
        if reply.delay:
            self._pause(reply.delay)

    def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, but raise `_ClientGone` as soon as the client or server goes."""
        deadline = time.monotonic() + seconds
        stopping = self.server.owner._stopping
        while True:
            if stopping.is_set():
                raise _ClientGone
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # The socket turns readable with EOF when the client hangs up (or on stop).
            readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.1))
            if readable:
                try:
                    peek = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    raise _ClientGone from None
                if not peek:
                    raise _ClientGone
                # Pipelined bytes, not a hangup: just wait out the rest.
                if stopping.wait(max(0.0, deadline - time.monotonic())):
                    raise _ClientGone
                return

    # -- responses -----------------------------------------------------------------------

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, reply: ServerReply) -> None:
        data = (reply.raw_body or "").encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _completion(self, reply: ServerReply, body: dict[str, Any]) -> dict[str, Any]:
        ids = self.server.owner._call_ids(reply)
        calls = [
            {
                "id": next(ids),
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            for name, arguments in reply.tool_calls
        ]
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": f"chatcmpl-{id(reply):x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if calls else "stop",
                }
            ],
            "usage": _usage(reply.usage, reply.cost),
        }

    def _stream(self, reply: ServerReply, body: dict[str, Any]) -> None:
        self._open_stream(reply)
        if reply.endless_line is not None:  # ends with a broken pipe when the client goes
            self._write_chunk(b'data: {"choices": [{"index": 0, "delta": {"content": "')
            block = b"x" * max(1, reply.endless_line)
            while not self.server.owner._stopping.is_set():
                self._write_chunk(block)
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = list(self._chunks(reply, body, include_usage))
        for index, event in enumerate(events):
            if not self._before_event(reply, index):
                return
            self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self._end_body(reply)

    def _end_body(self, reply: ServerReply) -> None:
        if reply.hold_end:
            self.wfile.flush()
            self._pause(24 * 3600.0)  # ends with `_ClientGone` when the client hangs up
        while reply.trickle_end is not None:  # ends like `hold_end`, or on a broken pipe
            self.wfile.flush()
            self._pause(reply.trickle_end)
            self._write_chunk(b": still here\n")
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        # HTTP/1.1 chunked framing keeps the connection reusable after a stream.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _chunks(
        self, reply: ServerReply, body: dict[str, Any], include_usage: bool
    ) -> Iterator[dict[str, Any]]:
        base = {
            "id": f"chatcmpl-{id(reply):x}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "system_fingerprint": None,
        }
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**base, "choices": [choice], **extra}

        size = max(1, reply.chunk_size)
        yield chunk({"role": "assistant", "content": ""})
        for piece in _split(reply.thinking, size):
            yield chunk({"reasoning_content": piece})
        for detail in reply.reasoning_details:
            text = detail.get("text")
            yield chunk({**({"reasoning": text} if text else {}), "reasoning_details": [detail]})
        for piece in _split(reply.text, size):
            yield chunk({"content": piece})
        ids = self.server.owner._call_ids(reply)
        for index, (name, arguments) in enumerate(reply.tool_calls):
            first = {
                "index": index,
                "id": next(ids),
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            yield chunk({"tool_calls": [first]})
            for piece in _split(arguments, size):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        last = chunk({}, "tool_calls" if reply.tool_calls else "stop")
        if include_usage:
            yield last
            yield {**base, "choices": [], "usage": _usage(reply.usage, reply.cost)}
        else:
            yield {**last, "usage": _usage(reply.usage, reply.cost)}


def _released(reply: ServerReply) -> bool:
    if reply.gate is not None and not reply.gate.is_set():
        return False
    return reply.hold_until_file is None or os.path.exists(reply.hold_until_file)


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage(usage: tuple[int, int, int], cost: float | None = None) -> dict[str, Any]:
    prompt, completion, cached = usage
    priced = {} if cost is None else {"cost": cost}
    return {
        **priced,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


_CALL_NAME = re.compile(r"[a-zA-Z0-9_-]+")


def _invalid_history(body: Mapping[str, Any]) -> str | None:
    """What OpenAI refuses in a request's past tool calls (a 400's message), or None:
    an id over 40 characters, a name outside `[a-zA-Z0-9_-]`."""
    messages = body.get("messages")
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for position, call in enumerate(calls if isinstance(calls, list) else []):
            where = f"messages[{index}].tool_calls[{position}]"
            call_id = call.get("id") if isinstance(call, dict) else None
            if isinstance(call_id, str) and len(call_id) > 40:
                return (
                    f"Invalid '{where}.id': string too long. Expected a string with maximum "
                    f"length 40, but got a string with length {len(call_id)} instead."
                )
            function = call.get("function") if isinstance(call, dict) else None
            name = function.get("name") if isinstance(function, dict) else None
            if isinstance(name, str) and not _CALL_NAME.fullmatch(name):
                return (
                    f"Invalid '{where}.function.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                )
    return None


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


# -- script files and the command line ----------------------------------------------------


def load_script(path: str | Path) -> tuple[list[ServerReply], ServerReply | None]:
    """Read a script: a JSON list of replies, or `{"replies": [...], "default": {...}}`.

    Returns:
        The replies in order and the default reply (None when absent).

    Raises:
        ValueError: on a malformed script.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, list):
        data = {"replies": data}
    if not isinstance(data, dict):
        raise ValueError("a script is a JSON list of replies or an object with 'replies'")
    unknown = sorted(set(data) - {"replies", "default"})
    if unknown:
        raise ValueError(f"unknown top-level script key(s) {unknown}")
    replies = [ServerReply.from_dict(item) for item in data.get("replies", [])]
    default = data.get("default")
    return replies, ServerReply.from_dict(default) if default is not None else None


@contextlib.contextmanager
def serve_script_process(
    script: Mapping[str, Any], directory: Path, record: Path | None = None
) -> Iterator[str]:
    """Run this module's command line on `script` in a child process; yield its base URL.

    For end-to-end tests that drive the real `tiller` binary: the server lives in its
    own process, as a provider would. The script is written to `directory`; `record`
    gets one JSON line per request. The server is stopped on the way out.
    """
    import subprocess

    path = Path(directory) / "fake-server-script.json"
    path.write_text(json.dumps(script), encoding="utf-8")
    command = [sys.executable, "-m", "tiller.testing.server", "--script", str(path)]
    if record is not None:
        command += ["--record", str(record)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        if ready[:1] != ["READY"]:
            raise RuntimeError(f"the fake server did not start: {ready}")
        yield ready[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a script until SIGTERM / SIGINT; prints `READY <base_url>` once listening."""
    parser = argparse.ArgumentParser(
        prog="python -m tiller.testing.server",
        description="Replay scripted OpenAI chat-completions replies on 127.0.0.1.",
    )
    parser.add_argument("--script", help="JSON script (a list of replies, or replies + default)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: a free one)")
    parser.add_argument("--record", help="append each request to this file as a JSON line")
    args = parser.parse_args(argv)
    replies, default = load_script(args.script) if args.script else ([], None)
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with FakeOpenAIServer(replies, default=default, port=args.port, record_to=args.record) as srv:
        print(f"READY {srv.base_url}", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
