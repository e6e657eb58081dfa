"""A lean model client for OpenAI-compatible chat-completions endpoints, on plain httpx.

litellm spends ~15-19 ms of CPU on every streamed call (it copies and
transforms each message, every call), which caps how many sessions one
process can drive. Endpoints that already speak the chat-completions API
(OpenAI, OpenRouter, llama.cpp's server, vLLM, LM Studio) need none of that:
this client posts the engine's messages as they are and parses the SSE
stream itself. Opt in with the `transport = "openai"` setting; litellm stays
the default and covers every other provider.

Semantics match `llm.LiteLLMClient` (the shared parts live in `transport`):
the same retries and backoff, errors and messages, and a cancel honoured even
before the first byte.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tiller.model import ModelRequest, ModelResponse
from tiller.transport import (
    CallFailed,
    Failure,
    RetryPolicy,
    StreamState,
    complete_with_retries,
    one_line,
    retry_after,
    status_failure,
)

__all__ = ["OpenAIHTTPClient"]

OPENAI_BASE = "https://api.openai.com/v1"
OPENROUTER_BASE = "https://openrouter.ai/api/v1"
# Model-id prefixes that name an OpenAI-compatible provider; litellm strips them too.
_PREFIXES = ("openai", "openrouter", "hosted_vllm", "lm_studio", "llamafile")
# litellm-only options that mean nothing to an endpoint (`transport` chose this client).
_NOT_FOR_THE_ENDPOINT = frozenset(
    {"transport", "num_retries", "max_retries", "custom_llm_provider", "drop_params"}
)
_CANCEL_POLL = 0.02  # seconds between looks at the cancel tokens of calls in flight

_http_lock = threading.Lock()
_shared_http: httpx.Client | None = None


def shared_http() -> httpx.Client:
    """The process-wide connection pool every `OpenAIHTTPClient` uses by default.

    One pool for all sessions keeps connections warm across calls and sessions;
    httpx clients are thread-safe. Connections are unbounded (a hundred sessions
    waiting on a slow model each hold one); idle ones are kept for reuse.
    """
    global _shared_http
    with _http_lock:
        if _shared_http is None:
            _shared_http = httpx.Client(
                timeout=httpx.Timeout(600.0, connect=10.0),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
            )
        return _shared_http


@dataclass(frozen=True)
class _Call:
    """One request, ready to post."""

    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float | None
    key_env: str


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
    """

    def __init__(
        self,
        *,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.policy = RetryPolicy(max_retries, backoff_base, backoff_max)
        self._http = http

    def complete(
        self,
        request: ModelRequest,
        *,
        on_text: Callable[[str], None],
        cancel: threading.Event,
        on_retry: Callable[[str], None] | None = None,
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
        call = _prepare(request)
        if call is None:
            provider = request.model.partition("/")[0]
            key_env = "OPENROUTER_API_KEY" if provider == "openrouter" else "OPENAI_API_KEY"
            raise Failure("no_key", "", key_env=key_env).to_error(request.model, False, 1)
        http = self._http or shared_http()
        return complete_with_retries(
            request,
            lambda stream: _attempt(http, call, stream, cancel),
            lambda error: _classify(error, call.key_env),
            self.policy,
            on_text=on_text,
            cancel=cancel,
            on_retry=on_retry,
        )

    def context_window(self, model: str) -> int | None:
        """Unknown: chat-completions endpoints do not say; the engine uses its default."""
        return None


def _prepare(request: ModelRequest) -> _Call | None:
    """The URL, headers and body for a request; None when a public API has no key."""
    options = dict(request.options)
    provider, _, rest = request.model.partition("/")
    openrouter = provider == "openrouter"
    model = rest if rest and provider in _PREFIXES else request.model
    key_env = "OPENROUTER_API_KEY" if openrouter else "OPENAI_API_KEY"
    api_base = options.pop("api_base", None) or (OPENROUTER_BASE if openrouter else OPENAI_BASE)
    api_key = options.pop("api_key", None) or os.environ.get(key_env)
    timeout = options.pop("timeout", None)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    headers.update(options.pop("extra_headers", None) or {})
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    elif api_base.rstrip("/") in (OPENAI_BASE, OPENROUTER_BASE):
        return None  # local servers (llama.cpp, vLLM) take no key; the public APIs do
    body: dict[str, Any] = {"model": model, "messages": request.messages}
    if request.tools:
        body["tools"] = request.tools
    body.update((k, v) for k, v in options.items() if k not in _NOT_FOR_THE_ENDPOINT)
    body["stream"] = True
    body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return _Call(
        url=api_base.rstrip("/") + "/chat/completions",
        headers=headers,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        timeout=float(timeout) if timeout is not None else None,
        key_env=key_env,
    )


def _attempt(
    http: httpx.Client, call: _Call, stream: StreamState, cancel: threading.Event
) -> ModelResponse:
    """One streamed request: chunks are read on a pump thread and handled on this one."""
    pump = _Pump(http, call)
    watch = _watcher.watch(cancel, pump.abandon)
    ended = False
    try:
        while not cancel.is_set():
            kind, payload = pump.get()
            ended = kind in ("end", "error")
            if kind == "error":
                raise CallFailed(payload)
            if kind == "end":
                return stream.finished(_cost(stream.raw_usage))
            if kind == "cancel":
                break
            stream.feed(payload)
        return stream.cancelled()
    finally:
        _watcher.unwatch(watch)
        if not ended:  # cancelled, or on_text raised
            pump.abandon()


def _cost(raw_usage: Any) -> float | None:
    """USD when the endpoint reports it (OpenRouter's `usage.cost`); None otherwise."""
    cost = raw_usage.get("cost") if isinstance(raw_usage, dict) else None
    return float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None


class _StatusError(Exception):
    """An HTTP error response (or an error event inside the stream), with what it said."""

    def __init__(self, status: int | None, message: str, headers: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class _Pump:
    """Runs one streamed request on a daemon thread, handing parsed chunks over a queue.

    The caller can then honour a cancel at once, even while the endpoint has not
    sent a byte. Abandoning the pump hangs up the socket when the response has
    arrived (so a read blocked on the pump thread returns now) and the thread
    closes the response as soon as it wakes: an abandoned, unclosed stream can
    hang the process inside httpcore.
    """

    def __init__(self, http: httpx.Client, call: _Call) -> None:
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._abandoned = threading.Event()
        # Set only while the response is open: once closed, its connection may be
        # back in the pool serving another call, and must not be hung up.
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()
        threading.Thread(
            target=self._run, args=(http, call), name="tiller-openai-stream", daemon=True
        ).start()

    def get(self) -> tuple[str, Any]:
        """The next (kind, payload): `chunk`, `end`, `error`, or `cancel` once abandoned."""
        return self._queue.get()

    def abandon(self) -> None:
        """Stop forwarding chunks, wake the caller with `cancel`, and hang up."""
        self._abandoned.set()
        self._queue.put(("cancel", None))
        with self._lock:
            if self._response is not None:
                _hang_up(self._response)

    def _run(self, http: httpx.Client, call: _Call) -> None:
        try:
            timeout = call.timeout if call.timeout is not None else httpx.USE_CLIENT_DEFAULT
            with http.stream(
                "POST", call.url, content=call.body, headers=call.headers, timeout=timeout
            ) as response:
                with self._lock:
                    self._response = response
                try:
                    self._read(response)
                finally:
                    with self._lock:
                        self._response = None
        except BaseException as exc:
            if not self._abandoned.is_set():
                self._queue.put(("error", exc))

    def _read(self, response: httpx.Response) -> None:
        if self._abandoned.is_set():
            return
        if response.status_code >= 400:
            response.read()
            raise _StatusError(response.status_code, _error_message(response), response.headers)
        done = False
        for line in response.iter_lines():
            if self._abandoned.is_set():
                return
            if not line.startswith("data:") or done:
                continue  # keep reading past [DONE] so the connection goes back to the pool
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                self._queue.put(("end", None))
                continue
            chunk = json.loads(data)
            error = chunk.get("error") if isinstance(chunk, dict) else None
            if error:  # OpenRouter and vLLM report a failure mid-stream as an event
                raise _StatusError(_int(error.get("code")), _error_text(error))
            self._queue.put(("chunk", chunk))
        if not done:
            self._queue.put(("end", None))


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


def _classify(exc: BaseException, key_env: str) -> Failure:
    """Sort an httpx exception or an error response into what to do about it."""
    if not isinstance(exc, Exception):
        raise exc  # KeyboardInterrupt and friends are not provider failures
    if isinstance(exc, _StatusError):
        if exc.status is None:
            return Failure("retry", exc.message, None, "Stream failed")
        return status_failure(exc.status, exc.message, retry_after(exc.headers), key_env)
    message = one_line(str(exc), type(exc).__name__)
    if isinstance(exc, httpx.TimeoutException):
        return Failure("retry", message, None, "Timed out")
    if isinstance(exc, httpx.TransportError):
        return Failure("retry", f"Connection error: {message}", None, "Connection failed")
    if isinstance(exc, ValueError):  # a chunk that is not JSON
        return Failure("fatal", f"unreadable stream: {message}")
    return Failure("fatal", message)


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
