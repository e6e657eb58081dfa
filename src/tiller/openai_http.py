"""A lean model client for OpenAI-compatible chat-completions endpoints, on plain httpx.

litellm spends ~15-19 ms of CPU on every streamed call (it copies and
transforms each message, every call), which caps how many sessions one
process can drive. Endpoints that already speak the chat-completions API
(OpenAI, OpenRouter, llama.cpp's server, vLLM, LM Studio) need none of that:
this client posts the engine's messages as they are and parses the SSE
stream itself. `transport = "auto"` (the default) picks it for those endpoints
(`transport.resolve_transport`); `"openai"` forces it; litellm covers the rest.

Semantics match `llm.LiteLLMClient` (the shared parts live in `transport`):
the same retries and backoff, errors and messages, and a cancel honoured even
before the first byte.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import queue
import socket
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tiller import model_map
from tiller.caching import CACHE_OPTION, caches_with_breakpoints, mark_breakpoints
from tiller.connection_reuse import EVENT_TOO_BIG, MAX_EVENT_BYTES, EventTooBig, ReusingTransport
from tiller.history import with_reasoning_details, without_thinking_blocks
from tiller.httpx_import import httpx
from tiller.model import ModelRequest, ModelResponse
from tiller.tls import OPTION as TLS_OPTION
from tiller.tls import VerifySetting, ssl_context, untrusted_certificate, verify_setting
from tiller.transport import (
    DEFAULT_STALL_TIMEOUT,
    HTML_REPLY,
    OPENAI_COMPATIBLE,
    CallFailed,
    Failure,
    MalformedChunk,
    RetryPolicy,
    StreamState,
    complete_with_retries,
    not_a_stream,
    one_line,
    redirected,
    retry_after,
    scrub_surrogates,
    status_failure,
    usage_from,
)

__all__ = ["OpenAIHTTPClient"]

OPENAI_BASE = "https://api.openai.com/v1"
OPENROUTER_BASE = "https://openrouter.ai/api/v1"
# Model-id prefixes that name an OpenAI-compatible provider; litellm strips them too.
_PREFIXES = OPENAI_COMPATIBLE
# litellm-only options that mean nothing to an endpoint (`transport` chose this client).
_NOT_FOR_THE_ENDPOINT = frozenset(
    {"transport", "num_retries", "max_retries", "custom_llm_provider", "drop_params", CACHE_OPTION}
)
_CANCEL_POLL = 0.02  # seconds between looks at the cancel tokens of calls in flight
# httpcore's pool does O(connections) bookkeeping (a poll() per idle connection)
# under one lock for every request and every response closed: a hundred sessions
# on one pool spend more CPU there than on their requests. Shards keep pools small.
_SHARDS = 16

_TIMEOUT = httpx.Timeout(600.0, connect=10.0)

_http_lock = threading.Lock()
_pools: dict[tuple[int, bool, VerifySetting], httpx.Client] = {}
_next_shard = itertools.count()


def shared_http(
    shard: int = 0, *, plain: bool = False, verify: VerifySetting = True
) -> httpx.Client:
    """One of the process-wide connection pools `OpenAIHTTPClient`s use by default.

    Sharing keeps connections warm across calls and sessions (httpx clients are
    thread-safe); each client sticks to one shard. Connections are unbounded (a
    hundred sessions waiting on a slow model each hold one); idle ones are kept.
    `OpenAIHTTPClient` sends on these pools' transports directly (see `_Lean`),
    so they keep no cookies.

    `plain`: a pool for `http://` endpoints only (a local server), which never
    loads the CA bundle (~10 ms). Only when no proxy is configured: a proxy for
    plain HTTP may itself be reached over TLS, which must be verified.

    `verify`: the `ssl_verify` setting (`tiller.tls`); each setting has its own pools.

    Raises:
        ProviderError: `verify` names a CA path that holds no certificates.
    """
    shard %= _SHARDS
    plain = plain and not urllib.request.getproxies()
    key = (shard, plain, True if plain else verify)
    with _http_lock:
        pool = _pools.get(key)
        if pool is None:
            # No TLS is ever spoken on a plain pool: no certificates to load. One TLS
            # context per setting for all pools: loading the CA bundle costs ~10 ms.
            context = False if plain else ssl_context(verify)
            pool = _pools[key] = httpx.Client(
                verify=context,
                timeout=_TIMEOUT,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
        return pool


@dataclass(frozen=True)
class _Call:
    """One request, ready to post."""

    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float | None
    key_env: str
    stall: float = DEFAULT_STALL_TIMEOUT
    model: str = ""  # the id the session uses (`openai/gpt-4o`), for its price
    verify: VerifySetting = True  # the `ssl_verify` setting (`tiller.tls`)

    def limits(self) -> httpx.Timeout:
        """Connect within 10 s (or `timeout`); no read may wait longer than the stall limit."""
        if self.timeout is None:
            return httpx.Timeout(600.0, connect=10.0, read=self.stall)
        return httpx.Timeout(self.timeout, read=min(self.timeout, self.stall))

    @property
    def stall_limited(self) -> bool:
        """Whether a read timeout means a stall (rather than the caller's own `timeout`)."""
        return self.timeout is None or self.stall < self.timeout


class OpenAIHTTPClient:
    """A `ModelClient` that streams from an OpenAI-compatible `/chat/completions`.

    Options it reads from the request (the rest go into the JSON body):
    `api_base` (default: OpenAI, or OpenRouter for `openrouter/` models),
    `api_key` (default: `OPENAI_API_KEY`, or `OPENROUTER_API_KEY`), `timeout`
    (seconds) and `extra_headers`. A model's provider prefix is dropped
    (`openai/gpt-5` is sent as `gpt-5`).

    Args:
        max_retries: retries after the first attempt for 429s, 5xx, timeouts and
            connection errors; never once text has been streamed.
        backoff_base: the first retry waits up to this many seconds (full jitter,
            doubling each retry); a provider's `Retry-After` wins.
        backoff_max: the cap on any single wait, `Retry-After` included.
        http: the httpx client to use (default: one pool shared by the process).
        stall_timeout: seconds without a byte from the endpoint (headers included)
            after which an attempt counts as stalled: hung up and retried.
    """

    transport = "openai"  # the name `Session.transport` and the front ends show

    def __init__(
        self,
        *,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        http: httpx.Client | None = None,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        self.policy = RetryPolicy(max_retries, backoff_base, backoff_max)
        self.stall_timeout = stall_timeout
        self._http = http
        self._shard = next(_next_shard)
        self._json = _BodyEncoder()
        self._lean: _Lean | None = None
        # Prices and windows come from litellm's JSON map: read it while the call is prepared.
        model_map.load_in_background()

    def warm_up(self, options: Mapping[str, Any]) -> None:
        """Make the connection pool the first call to `options`' endpoint will use (its
        imports and TLS context: ~0.1 s a prompt would otherwise wait for)."""
        api_base = str(options.get("api_base") or OPENAI_BASE)
        verify = verify_setting(options.get(TLS_OPTION, True))
        shared_http(self._shard, plain=api_base.startswith("http://"), verify=verify)

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: Callable[[str], None],
        cancel: threading.Event,
        on_retry: Callable[[str], None] | None = None,
        on_reasoning: Callable[[str], None] | None = None,
    ) -> ModelResponse:
        """Run one streamed model call, retrying transient failures.

        Args:
            request: the model, messages, tools and options.
            on_text: called with each text delta as it arrives.
            cancel: when set, the call stops at once and returns what it has with
                `finish_reason="cancelled"` (unfinished tool calls are dropped).
            on_retry: told about each retry, in a sentence, before its wait.

        Raises:
            AuthError: the endpoint rejected (or was never given) the API key.
            ContextOverflowError: the request does not fit the model's context window.
            ProviderError: any other failure, after retries where they make sense.
        """
        call = _prepare(request, self._json, self.stall_timeout)
        if call is None:
            failure = Failure("no_key", "", key_env=_key_env(request.model))
            raise failure.to_error(request.model, False, 1)
        if self._http is not None:
            sender: _Sender = self._http
        else:
            plain = call.url.startswith("http://")
            if self._lean is None or (self._lean.plain, self._lean.verify) != (plain, call.verify):
                http = shared_http(self._shard, plain=plain, verify=call.verify)
                self._lean = _Lean(http, plain, call.verify)
            sender = self._lean
        return complete_with_retries(
            request,
            lambda stream: _attempt(sender, call, stream, cancel),
            lambda error: _classify(error, call),
            self.policy,
            on_text=on_text,
            cancel=cancel,
            on_retry=on_retry,
            on_reasoning=on_reasoning,
        )

    def context_window(self, model: str) -> int | None:
        """The model's input window from litellm's bundled map (read without litellm); None
        when the map does not list it (the engine then uses its default)."""
        return model_map.context_window(model)


def _prepare(
    request: ModelRequest,
    encoder: _BodyEncoder | None = None,
    stall: float = DEFAULT_STALL_TIMEOUT,
) -> _Call | None:
    """The URL, headers and body for a request; None when a public API has no key."""
    options = dict(request.options)
    provider, _, rest = request.model.partition("/")
    openrouter = provider == "openrouter"
    model = rest if rest and provider in _PREFIXES else request.model
    key_env = _key_env(request.model)
    api_base = options.pop("api_base", None) or (OPENROUTER_BASE if openrouter else OPENAI_BASE)
    api_key = options.pop("api_key", None) or os.environ.get(key_env)
    timeout = options.pop("timeout", None)
    # How to check the endpoint's certificate: a setting of the client, not a request field.
    verify = verify_setting(options.pop(TLS_OPTION, True))
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    headers.update(options.pop("extra_headers", None) or {})
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    elif api_base.rstrip("/") in (OPENAI_BASE, OPENROUTER_BASE):
        return None  # local servers (llama.cpp, vLLM) take no key; the public APIs do
    body: dict[str, Any] = {"model": model}
    body.update((k, v) for k, v in options.items() if k not in _NOT_FOR_THE_ENDPOINT)
    _reasoning_options(body, request.model, openrouter)
    if openrouter:
        body.setdefault("usage", {"include": True})  # OpenRouter then reports the cost
    body.pop("messages", None)
    body.pop("tools", None)
    body["stream"] = True
    body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    # Thinking blocks are litellm's (Anthropic) form; OpenAI-compatible endpoints reject them.
    # OpenRouter takes its own `reasoning_details` back (kept among them), which it needs to
    # continue a reasoning model's tool use.
    messages = (
        with_reasoning_details(request.messages)
        if openrouter
        else without_thinking_blocks(request.messages)
    )
    if options.get(CACHE_OPTION, True) and caches_with_breakpoints(request.model):
        messages = mark_breakpoints(messages)
    encoder = encoder or _BodyEncoder()
    # The same JSON object as {model, messages, tools?, **options, stream, ...}, in another
    # order: the messages and tools are spliced in from what earlier calls encoded.
    parts = [_dumps(body)[:-1], ',"messages":', encoder.messages(messages)]
    if request.tools:
        parts += [',"tools":', encoder.tools(request.tools)]
    parts.append("}")
    try:
        encoded = "".join(parts).encode()
    except UnicodeEncodeError:
        # A lone surrogate (a file name that is not UTF-8) cannot be sent; escape it.
        clean = {
            **body,
            "messages": scrub_surrogates(messages),
            **({"tools": scrub_surrogates(request.tools)} if request.tools else {}),
        }
        encoded = _dumps(scrub_surrogates(clean)).encode()
    return _Call(
        url=api_base.rstrip("/") + "/chat/completions",
        headers=headers,
        body=encoded,
        timeout=float(timeout) if timeout is not None else None,
        key_env=key_env,
        stall=stall,
        model=request.model,
        verify=verify,
    )


def _reasoning_options(body: dict[str, Any], model: str, openrouter: bool) -> None:
    """Put the reasoning effort where the endpoint reads it (in `body`, in place).

    OpenRouter takes `reasoning: {"effort": ...}`; other endpoints `reasoning_effort`,
    which is dropped for a model litellm's map says cannot reason (the call would fail),
    as the litellm transport does.
    """
    effort = body.get("reasoning_effort")
    if effort is None:
        return
    if openrouter:
        del body["reasoning_effort"]
        body.setdefault("reasoning", {"effort": effort})
    elif model_map.supports_reasoning(model) is False:
        del body["reasoning_effort"]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _BodyEncoder:
    """JSON for a session's messages and tools, reusing what the previous call encoded.

    Each request repeats the previous one's messages (the engine hands over the
    same dicts, see `history.MessageCache`) and its tool schemas, so only the
    dicts not seen last time are encoded. Seen means the same object: the
    encoder holds them, so an id is never reused, and clients treat request
    dicts as read-only. Safe to share between threads: the state is swapped
    whole, and a lost update only costs an encode.
    """

    def __init__(self) -> None:
        self._messages: tuple[list[Any], list[str]] = ([], [])
        self._tools: tuple[list[Any], str] = ([], "[]")

    def messages(self, messages: list[dict[str, Any]]) -> str:
        """`messages` as a JSON array."""
        seen, encoded = self._messages
        parts: list[str] = []
        for index, message in enumerate(messages):
            if index < len(seen) and seen[index] is message:
                parts.append(encoded[index])
            else:
                parts.append(_dumps(message))
        self._messages = (list(messages), parts)
        return "[" + ",".join(parts) + "]"

    def tools(self, tools: list[dict[str, Any]]) -> str:
        """`tools` as a JSON array."""
        seen, encoded = self._tools
        if len(seen) != len(tools) or any(a is not b for a, b in zip(seen, tools, strict=True)):
            encoded = _dumps(tools)
            self._tools = (list(tools), encoded)
        return encoded


def _key_env(model: str) -> str:
    return "OPENROUTER_API_KEY" if model.startswith("openrouter/") else "OPENAI_API_KEY"


class _Sender(Protocol):
    """What sends a request and returns the response once its headers are in."""

    def send(self, request: httpx.Request, *, stream: bool) -> httpx.Response: ...


class _Lean:
    """Sends on a pool's transport directly, skipping `httpx.Client.send`.

    The client's auth, redirect, cookie and event-hook layers cost a fifth of
    a call's CPU and do nothing for an API call on a pool of our own; the
    transport is still picked per URL, so proxies from the environment apply.
    """

    def __init__(
        self, http: httpx.Client, plain: bool = False, verify: VerifySetting = True
    ) -> None:
        self._http = http
        self.plain = plain  # a pool for `http://` URLs only (see `shared_http`)
        self.verify = verify  # the pool's `ssl_verify` setting
        self.headers = {name.lower(): value for name, value in http.headers.items()}

    def merged(self, headers: dict[str, str]) -> dict[str, str]:
        """The pool's default headers overridden by `headers` (names match in any case)."""
        own = {name.lower() for name in headers}
        return {**{k: v for k, v in self.headers.items() if k not in own}, **headers}

    def send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        # The body ends at `data: [DONE]`; its unread end is read (within a budget) when
        # the response closes, so the connection is reused (`ReusingTransport`).
        transport = ReusingTransport(self._http._transport_for_url(request.url))
        response = transport.handle_request(request)
        response.request = request
        return response


_urls: dict[str, httpx.URL] = {}


def _request(sender: _Sender, call: _Call) -> httpx.Request:
    """The httpx request for `call` (what `Client.build_request` makes, more cheaply)."""
    if not isinstance(sender, _Lean):
        assert isinstance(sender, httpx.Client)
        return sender.build_request(
            "POST", call.url, content=call.body, headers=call.headers, timeout=call.limits()
        )
    url = _urls.get(call.url)
    if url is None:
        url = _urls[call.url] = httpx.URL(call.url)
    timeout = call.limits()
    return httpx.Request(
        "POST",
        url,
        headers=sender.merged(call.headers),
        content=call.body,
        extensions={"timeout": timeout.as_dict()},
    )


def _attempt(
    http: _Sender, call: _Call, stream: StreamState, cancel: threading.Event
) -> ModelResponse:
    """One streamed request: a helper thread waits for the headers, this one reads the body.

    Waiting for headers (the model's time to first token) happens off this
    thread so a cancel returns at once even then; the body is read here, chunk
    by chunk, with no hand-off per chunk. Once the body streams, a cancel hangs
    up the socket, which ends a read blocked on a slow chunk.
    """
    call_state = _InFlight(http, call)
    watch = _watcher.watch(cancel, call_state.cancel)
    try:
        response = call_state.response()
        if response is None:
            return stream.cancelled()
        try:
            if _read(response, stream, cancel):
                return stream.finished(_cost(call.model, stream.raw_usage))
            return stream.cancelled()
        except (httpx.HTTPError, _StatusError, _BadReply, EventTooBig) as exc:
            if cancel.is_set():  # the hang-up we caused
                return stream.cancelled()
            raise CallFailed(exc) from exc
        finally:
            call_state.close()
    finally:
        _watcher.unwatch(watch)


def _read(response: httpx.Response, stream: StreamState, cancel: threading.Event) -> bool:
    """Feed the SSE body to `stream`; False when cancelled part way."""
    if response.status_code >= 400:
        response.read()
        raise _StatusError(response.status_code, _error_message(response), response.headers)
    if response.status_code >= 300:  # not followed: the key would go along
        raise _BadReply(redirected(response.headers.get("location", "")))
    kind = response.headers.get("content-type", "")
    if "html" in kind:
        raise _BadReply(HTML_REPLY)
    if "json" in kind and "event-stream" not in kind:
        # A JSON answer to a streamed request is an error some proxies send with a 200.
        error = _json_error(response)
        status = _int(error.get("code"))
        if status is not None and status >= 400:
            raise _StatusError(status, _error_text(error))
        raise _BadReply(_error_text(error) if error else not_a_stream(kind))
    events = 0
    done = False
    # SSE is UTF-8 text in lines; splitting the bytes here skips httpx's text and
    # line decoders (and its charset sniffing), a third of the client's CPU.
    pending: list[bytes] = []  # the pieces of an unfinished line (joined once it ends)
    pending_size = 0
    # An unencoded body is read straight off the transport's stream: httpx's
    # decoding and chunking layers would only pass each block through.
    raw = "content-encoding" not in response.headers
    blocks = response.stream if raw and isinstance(response.stream, httpx.SyncByteStream) else None
    for block in blocks if blocks is not None else response.iter_bytes():
        if cancel.is_set():
            return False
        if b"\n" not in block:
            pending.append(block)
            pending_size += len(block)
            if pending_size > MAX_EVENT_BYTES:
                raise _BadReply(EVENT_TOO_BIG)
            continue
        lines = block.split(b"\n")
        if pending:
            lines[0] = b"".join([*pending, lines[0]])
        last = lines.pop()
        pending, pending_size = ([last], len(last)) if last else ([], 0)
        for line in lines:
            if done or not line.startswith(b"data:"):
                continue
            events += 1
            done = _event(line[5:].strip(), stream)
        if done:  # what follows is read when the response closes, within a budget
            break
    rest = b"".join(pending)
    if rest.startswith(b"data:") and not done and not cancel.is_set():
        events += 1
        done = _event(rest[5:].strip(), stream)
    if not events and not cancel.is_set():
        raise _BadReply(not_a_stream(kind))
    if not done and stream.finish_reason is None and not cancel.is_set():
        # Neither `[DONE]` nor a finish reason: the body was cut (a proxy), not finished.
        raise _StatusError(None, "the stream ended before the reply finished")
    return not cancel.is_set()


def _event(data: bytes, stream: StreamState) -> bool:
    """Feed one `data:` payload to `stream`; True for the closing `[DONE]`."""
    if data == b"[DONE]":
        return True
    try:
        chunk = json.loads(data)
    except ValueError:
        text = one_line(data[:80].decode("utf-8", errors="replace"), "")
        raise _StatusError(None, f"unreadable stream event: {text}") from None
    error = chunk.get("error") if isinstance(chunk, dict) else None
    if error:  # OpenRouter and vLLM report a failure mid-stream as an event
        if not isinstance(error, dict):
            raise _StatusError(None, one_line(str(error), "error"))
        raise _StatusError(_int(error.get("code")), _error_text(error))
    try:
        stream.feed(chunk)
    except MalformedChunk as exc:
        raise _StatusError(None, str(exc)) from None
    return False


def _cost(model: str, raw_usage: Any) -> float | None:
    """USD: what the endpoint reports (OpenRouter's `usage.cost`), else litellm's map's
    prices for the model (cache reads and writes at their own rates); None when unknown."""
    if not isinstance(raw_usage, dict):
        return None
    cost = raw_usage.get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and 0 <= cost < math.inf:
        return float(cost)
    return model_map.cost(model, usage_from(raw_usage))


class _BadReply(Exception):
    """A 200 whose body is no chat-completions stream (a proxy's page, plain text)."""


class _StatusError(Exception):
    """An HTTP error response (or an error event inside the stream), with what it said."""

    def __init__(self, status: int | None, message: str, headers: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class _InFlight:
    """One request: sent on a daemon thread that hands back the response once headers arrive.

    A cancel before then wakes the caller at once; the thread closes the late
    response itself (an abandoned, unclosed stream can hang the process inside
    httpcore). A cancel after then shuts the socket down.
    """

    def __init__(self, http: _Sender, call: _Call) -> None:
        self._handoff: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._abandoned = False
        # Set only while the response is open: once closed, its connection may be
        # back in the pool serving another call, and must not be hung up.
        self._response: httpx.Response | None = None
        _senders.submit(lambda: self._send(http, call))

    def _send(self, http: _Sender, call: _Call) -> None:
        try:
            response = http.send(_request(http, call), stream=True)
        except BaseException as exc:
            self._handoff.put(("error", exc))
            return
        with self._lock:
            if not self._abandoned:
                self._response = response
                self._handoff.put(("response", response))
                return
        response.close()

    def response(self) -> httpx.Response | None:
        """The response once its headers are in; None when cancelled first.

        Raises:
            CallFailed: the request failed before a response arrived.
        """
        kind, payload = self._handoff.get()
        if kind == "error":
            raise CallFailed(payload)
        return payload if kind == "response" else None

    def cancel(self) -> None:
        """Wake a caller still waiting for headers; hang up a response being read."""
        with self._lock:
            self._abandoned = True
            response = self._response
            if response is not None:
                _hang_up(response)
        self._handoff.put(("cancel", None))

    def close(self) -> None:
        """Close the response (the caller is done with it)."""
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            response.close()


class _Senders:
    """Daemon threads that send requests and wait for their headers, reused across calls.

    A thread per call costs more than the call under load: `Thread.start()` waits
    until the new thread gets the GIL, which a hundred busy sessions contend for.
    A worker held by a silent endpoint blocks only itself; a new one is started
    whenever no worker is free.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` (which must not raise) on a free worker."""
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1  # that worker is now spoken for
        if start:
            threading.Thread(target=self._work, name="tiller-openai-send", daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            with contextlib.suppress(Exception):
                job()
            with self._lock:
                self._idle += 1


_senders = _Senders()


def _hang_up(response: httpx.Response) -> None:
    """Shut the response's socket down so a read blocked in another thread returns now.

    Closing an httpx response from another thread does not wake a blocked
    `recv()`; `shutdown()` does, and the endpoint sees the disconnect at once.
    """
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _CancelWatcher:
    """One daemon thread that looks at the cancel tokens of every call in flight.

    A caller blocks on its pump's queue without a timeout; when its token is
    set, the watcher abandons the pump, which wakes the caller. One poller for
    all calls costs 50 wake-ups a second however many sessions are waiting,
    where a poll per caller would cost that much for each.
    """

    def __init__(self) -> None:
        self._calls: dict[int, tuple[threading.Event, Callable[[], None]]] = {}
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, cancel: threading.Event, on_cancel: Callable[[], None]) -> int:
        """Call `on_cancel` (once, on the watcher thread) when `cancel` is set; returns a key."""
        with self._cond:
            key = next(self._ids)
            self._calls[key] = (cancel, on_cancel)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tiller-openai-cancel", daemon=True
                )
                self._thread.start()
            if len(self._calls) == 1:
                self._cond.notify()  # it sleeps without polling while nothing is in flight
            return key

    def unwatch(self, key: int) -> None:
        """Stop watching (the call ended)."""
        with self._cond:
            self._calls.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._calls))
                fired = [key for key, (cancel, _) in self._calls.items() if cancel.is_set()]
                callbacks = [self._calls.pop(key)[1] for key in fired]
            for callback in callbacks:
                with contextlib.suppress(Exception):
                    callback()
            with self._cond:
                self._cond.wait(_CANCEL_POLL)


_watcher = _CancelWatcher()


# -- errors --------------------------------------------------------------------------------


def _classify(exc: BaseException, call: _Call) -> Failure:
    """Sort an httpx exception or an error response into what to do about it."""
    if not isinstance(exc, Exception):
        raise exc  # KeyboardInterrupt and friends are not provider failures
    if isinstance(exc, _BadReply | EventTooBig):
        return Failure("fatal", str(exc))
    untrusted = untrusted_certificate(exc)
    if untrusted is not None:
        return Failure("fatal", untrusted)
    if isinstance(exc, _StatusError):
        if exc.status is None:
            return Failure("retry", exc.message, None, "Stream failed")
        return status_failure(exc.status, exc.message, retry_after(exc.headers), call.key_env)
    message = one_line(str(exc), type(exc).__name__)
    if isinstance(exc, httpx.ReadTimeout) and call.stall_limited:
        return Failure("retry", f"no data from the provider for {call.stall:g} s", None, "Stalled")
    if isinstance(exc, httpx.TimeoutException):
        return Failure("retry", message, None, "Timed out")
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return Failure("retry", f"Connection error: {message}", None, "Connection failed")
    if isinstance(exc, httpx.TransportError):
        return Failure("retry", f"connection lost ({message})", None, "Connection lost")
    return Failure("fatal", message)


def _json_error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of a (small) JSON body; {} when it has none or is too big."""
    body = b""
    for block in response.iter_bytes():
        body += block
        if len(body) > _MOST_ERROR_BYTES:
            return {}
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError, RecursionError):
        return {}
    return error if isinstance(error, dict) else {"message": error} if error else {}


_MOST_ERROR_BYTES = 64 * 1024


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return one_line(response.text, response.reason_phrase or "error")
    error = body.get("error", body) if isinstance(body, dict) else body
    return _error_text(error) if isinstance(error, dict) else one_line(str(error), "error")


def _error_text(error: dict[str, Any]) -> str:
    return one_line(str(error.get("message") or error), "error")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
