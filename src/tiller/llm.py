"""The model client over litellm: the only module in Tiller that imports litellm.

litellm is imported lazily (it costs seconds): on the first call, or earlier
through `preload_in_background()` once a front end has drawn its first frame.

`LiteLLMClient` streams every call, retries rate limits, server errors, timeouts
and dropped connections in one place (the SDK's own retries are off), turns
provider failures into `AuthError` / `ContextOverflowError` / `ProviderError`
with one-line messages, and honours a cancel even before the first byte.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import queue
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from tiller import model_map
from tiller.caching import (
    CACHE_OPTION,
    INJECTION_POINTS,
    caches_with_breakpoints,
    mark_breakpoints,
)
from tiller.errors import ProviderError
from tiller.model import ModelRequest, ModelResponse
from tiller.tls import OPTION as TLS_OPTION
from tiller.tls import VerifySetting, ssl_context, untrusted_certificate, verify_setting
from tiller.transport import (
    DEFAULT_STALL_TIMEOUT,
    MISSING_KEY,
    OPENAI_COMPATIBLE,
    OVERFLOW,
    CallFailed,
    CheckedMessages,
    Failure,
    MalformedChunk,
    RetryPolicy,
    StreamState,
    complete_with_retries,
    json_encodable,
    not_a_stream,
    one_line,
    redirected,
    retry_after,
    scrub_surrogates,
    usage_from,
)

__all__ = [
    "LiteLLMClient",
    "loaded",
    "preload",
    "preload_in_background",
    "preload_thread",
    "provider_key_env",
]

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
_CANCEL_POLL = 0.02  # seconds between cancel checks while no chunk is arriving

_import_lock = threading.Lock()
_litellm_module: Any = None
# Separate from the import lock so a UI thread asking for a preload never waits out an import.
_preload_lock = threading.Lock()
_preload_thread: threading.Thread | None = None
_warm_up_lock = threading.Lock()
_warmed_up = False
_WARM_UP_TOOL = {
    "type": "function",
    "function": {"name": "noop", "description": "", "parameters": {"type": "object"}},
}


def _litellm() -> Any:
    """Import and configure litellm once; thread-safe."""
    global _litellm_module
    if _litellm_module is not None:
        return _litellm_module
    with _import_lock:
        if _litellm_module is None:
            # Without this, importing litellm fetches a price list from the internet.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            # Else ("DEV") importing litellm loads a `.env` found from the current directory
            # up into the environment: a repository's file could point a provider's base
            # URL elsewhere. Tiller reads only the env file the user names (--env-file).
            os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
            litellm = _import_without_collecting()
            litellm.suppress_debug_info = True
            # litellm prices every streamed call as it starts by counting the whole
            # history with tiktoken (O(history) per round, and ~0.2 s loading the table
            # on the first call); Tiller takes the counts from the provider's usage.
            litellm.disable_token_counter = True
            # Otherwise litellm hands every streamed chunk to a thread pool that runs
            # its success-logging callbacks under a fresh asyncio loop: ~0.6 ms of CPU
            # per chunk, for callbacks Tiller never registers (bench/engine.py).
            litellm.disable_streaming_logging = True
            # The openai SDK path sends through Tiller's client, so a cancel can hang up.
            if litellm.client_session is None:
                litellm.client_session = _http()
            if "LITELLM_LOG" not in os.environ:
                # litellm logs to stderr on its own handler, which would scribble over a TUI.
                for name in _LITELLM_LOGGERS:
                    logging.getLogger(name).setLevel(logging.CRITICAL)
            _litellm_module = litellm
    return _litellm_module


def _import_without_collecting() -> Any:
    """`import litellm` with the cyclic garbage collector paused (~25% of the import).

    The import allocates a few hundred thousand long-lived objects (pydantic models,
    typing aliases); each collection would walk all of them again for nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import litellm
    finally:
        if was_enabled:
            gc.enable()
    return litellm


def preload() -> None:
    """Import litellm and warm its first-call path now (blocking; ~3 s here).

    The warm-up is one offline `mock_response` completion with a tool: it pays
    for the modules, tokenizer and price lookups litellm loads lazily on its
    first call (~0.8 s), so the first real call does not, and many sessions
    starting at once do not queue on those imports.
    """
    global _warmed_up
    litellm = _litellm()
    with _warm_up_lock:
        if _warmed_up:
            return
        _warmed_up = True
        # A failed warm-up only means the first real call pays instead.
        with contextlib.suppress(Exception):
            stream = litellm.completion(
                model="openai/gpt-4o-mini",
                messages=[{"role": "user", "content": "warm-up"}],
                tools=[_WARM_UP_TOOL],
                stream=True,
                stream_options={"include_usage": True},
                mock_response="ok",
                max_retries=0,
                num_retries=0,
            )
            for _ in stream:
                pass
        # The mock path never touches the HTTP client; the first real call would
        # still import the openai SDK's resources (~500 modules, ~0.7 s).
        with contextlib.suppress(Exception):
            import openai.resources  # noqa: F401


def preload_in_background(*, warm: bool = True) -> threading.Thread:
    """Run `preload()` on a daemon thread; idempotent, returns the (single) thread.

    Front ends call this after drawing their first frame. An import failure is
    left for the first real call to report.

    Args:
        warm: also warm the first-call path. A headless run, whose first real call
            follows at once, only imports: a warm-up would run beside that call,
            paying for the same lazy imports twice over on a contended GIL.
    """
    global _preload_thread
    with _preload_lock:
        if _preload_thread is None:
            _preload_thread = threading.Thread(
                target=_quiet_preload,
                args=(warm,),
                name="tiller-litellm-preload",
                daemon=True,
            )
            _preload_thread.start()
        return _preload_thread


def preload_thread() -> threading.Thread | None:
    """The background preload's thread, once one was started (`preload_in_background`)."""
    return _preload_thread


def loaded() -> bool:
    """Whether litellm is imported: a call would not wait for the import."""
    return _litellm_module is not None


def _quiet_preload(warm: bool) -> None:
    # An import failure is reported by the first completion, with context.
    with contextlib.suppress(Exception):
        if warm:
            preload()
        else:
            _litellm()


# -- API keys ------------------------------------------------------------------------------

_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "xai": "XAI_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "cohere": "COHERE_API_KEY",
    "cohere_chat": "COHERE_API_KEY",
    "perplexity": "PERPLEXITYAI_API_KEY",
    "cerebras": "CEREBRAS_API_KEY",
    "azure": "AZURE_API_KEY",
    "moonshot": "MOONSHOT_API_KEY",
    "dashscope": "DASHSCOPE_API_KEY",
}
_KEYLESS = {"ollama", "ollama_chat", "hosted_vllm", "vllm", "lm_studio", "llamafile"}
_BARE_NAME_PROVIDERS = (
    (re.compile(r"^(gpt|o\d|chatgpt|codex|text-embedding)"), "openai"),
    (re.compile(r"^claude"), "anthropic"),
    (re.compile(r"^gemini"), "gemini"),
)


def provider_key_env(model: str) -> str | None:
    """The environment variable a model's provider reads its API key from.

    Args:
        model: a litellm model id such as `anthropic/claude-sonnet-4-5` or `gpt-5`.

    Returns:
        E.g. `ANTHROPIC_API_KEY`; None for keyless local providers (Ollama, vLLM)
        and for providers Tiller does not know (unless litellm is already loaded
        and does).
    """
    provider, _, rest = model.partition("/")
    if not rest:
        provider = next((p for pattern, p in _BARE_NAME_PROVIDERS if pattern.match(model)), "")
    if provider in _KEY_ENV:
        return _KEY_ENV[provider]
    if provider in _KEYLESS or "litellm" not in sys.modules:
        return None
    try:
        missing = _litellm().validate_environment(model).get("missing_keys") or []
    except Exception:
        return None
    keys = [k for k in missing if k.endswith("_API_KEY")] or missing
    return str(keys[0]) if keys else None


# -- the client ----------------------------------------------------------------------------


def missing_key_env(model: str, options: Mapping[str, Any]) -> str | None:
    """The environment variable `model` needs but lacks, or None when a call can go out.

    An explicit `api_key` option counts as a key; unknown providers need none.
    """
    if options.get("api_key"):
        return None
    variable = provider_key_env(model)
    if variable is None or os.environ.get(variable):
        return None
    return variable


class LiteLLMClient:
    """A `ModelClient` that streams completions through litellm.

    Args:
        max_retries: retries after the first attempt for 429s, 5xx, timeouts and
            connection errors; never once text has been streamed.
        backoff_base: the first retry waits up to this many seconds (full jitter,
            doubling each retry); a provider's `Retry-After` wins.
        backoff_max: the cap on any single wait, `Retry-After` included.
        stall_timeout: seconds without a streamed chunk (or the first one) after
            which an attempt counts as stalled: hung up and retried like a timeout.
    """

    transport = "litellm"  # the name `Session.transport` and the front ends show

    def __init__(
        self,
        *,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        self.policy = RetryPolicy(max_retries, backoff_base, backoff_max)
        self.stall_timeout = stall_timeout
        self._windows: dict[str, int | None] = {}
        self._providers: dict[tuple[str, Any], str | None] = {}
        self._encodable = CheckedMessages(json_encodable)
        self._arguments = CheckedMessages(_object_arguments_only)

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
            request: the model, messages, tools and provider options.
            on_text: called with each text delta as it arrives.
            cancel: when set, the call stops at once and returns what it has with
                `finish_reason="cancelled"` (unfinished tool calls are dropped).
            on_retry: told about each retry, in a sentence, before its wait.

        Raises:
            AuthError: the provider rejected (or was never given) the API key.
            ContextOverflowError: the request does not fit the model's context window.
            ProviderError: any other failure, after retries where they make sense.
        """
        if not loaded():
            # The import takes seconds; it runs on the preload thread while this one
            # honours a cancel (an import cannot be interrupted in the thread running it).
            loading = preload_in_background(warm=False)
            while not loaded() and loading.is_alive():
                if cancel.wait(_CANCEL_POLL):
                    return ModelResponse(finish_reason="cancelled")
        try:
            litellm = _litellm()
        except ImportError as exc:
            raise ProviderError(f"Could not load litellm ({exc}); reinstall Tiller.") from exc
        return complete_with_retries(
            request,
            lambda stream: self._attempt(litellm, request, stream, cancel),
            lambda error: _classify(
                litellm,
                error,
                request.model,
                None if "timeout" in request.options else self.stall_timeout,
            ),
            self.policy,
            on_text=on_text,
            cancel=cancel,
            on_retry=on_retry,
            on_reasoning=on_reasoning,
        )

    @property
    def ready(self) -> bool:
        """Whether a call can start without waiting for litellm's import (see `loaded`)."""
        return loaded()

    def context_window(self, model: str) -> int | None:
        """The model's input window in tokens from litellm's bundled map; None when unknown.

        Read as JSON (`tiller.model_map`), the same figure `litellm.get_model_info`
        gives, without waiting for litellm's import.
        """
        if model not in self._windows:
            self._windows[model] = model_map.context_window(model)
        return self._windows[model]

    # -- internals -----------------------------------------------------------------------

    def _attempt(
        self,
        litellm: Any,
        request: ModelRequest,
        stream: StreamState,
        cancel: threading.Event,
        handler: bool | None = None,
    ) -> ModelResponse:
        # The engine reuses its message dicts across calls (history.MessageCache); litellm
        # rewrites some messages' top-level keys in place, so it gets its own copies.
        from tiller.history import with_reasoning_details, without_thinking_blocks

        messages = [dict(message) for message in request.messages]
        if not caches_with_breakpoints(request.model):
            # Signed thinking goes back to Claude only; other providers reject the key.
            messages = without_thinking_blocks(messages)
        elif request.model.startswith("openrouter/"):
            # OpenRouter takes its own reasoning details back, as on the lean transport.
            messages = with_reasoning_details(messages)
        else:
            # OpenRouter's reasoning details (from an earlier route) are no Claude blocks.
            messages = [_claude_blocks_only(message) for message in messages]
        if not request.model.startswith(OPENAI_COMPATIBLE):
            # litellm parses each past call's arguments into its provider's own shape; one
            # that is no JSON object (the call failed for it) would fail every later call.
            for index in self._arguments.failing(request.messages):
                calls = request.messages[index].get("tool_calls") or ()
                messages[index] = {**messages[index], "tool_calls": [_wrapped(c) for c in calls]}
        kwargs: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.tools:
            kwargs["tools"] = request.tools
        kwargs.update(request.options)
        # The transport was chosen already (it picked this client); it is no provider option.
        kwargs.pop("transport", None)
        if "reasoning_effort" in kwargs and not _reasons(litellm, request.model):
            # A model litellm knows cannot reason: the setting would fail every call.
            kwargs.pop("reasoning_effort")
        if kwargs.pop(CACHE_OPTION, True) and caches_with_breakpoints(request.model):
            if (
                request.model.startswith("anthropic/")
                and "cache_control_injection_points" not in kwargs
            ):
                # Native Anthropic takes `cache_control` on content blocks as they are;
                # litellm's injection hook would deep-copy and rescan the whole history
                # every call (~30% of a round's CPU).
                messages = _marked_like_the_hook(messages)
            else:
                # litellm places the breakpoints itself, in each route's own JSON.
                kwargs.setdefault("cache_control_injection_points", INJECTION_POINTS)
        kwargs["stream"] = True
        # Native Anthropic reports usage on every stream and litellm hands it over on
        # the finish chunk (`_usage_of`); asking for the separate usage chunk would make
        # litellm build it from a rebuilt response (~1.5 ms a round). Every other
        # provider sends usage only when asked.
        usage_on_finish = request.model.startswith("anthropic/")
        if not usage_on_finish or "stream_options" in kwargs:
            options = kwargs.get("stream_options") or {}
            kwargs["stream_options"] = {**options, "include_usage": True}
        # One place retries (this class): max_retries=0 turns off the openai SDK's own
        # two retries, num_retries=0 litellm's wrapper retries.
        kwargs["max_retries"] = 0
        kwargs["num_retries"] = 0
        if "timeout" not in kwargs:
            import httpx

            # No read may wait longer than the stall limit (headers, then every chunk).
            kwargs["timeout"] = httpx.Timeout(600.0, connect=10.0, read=self.stall_timeout)
        # A lone surrogate (a file name that is not UTF-8) cannot be encoded by any
        # HTTP client; it goes out escaped (`\xe9`) instead of failing every call. The
        # copies above only drop keys or add ASCII ones: the engine's dicts decide.
        if self._encodable.failing([*request.messages, *request.tools]):
            kwargs["messages"] = scrub_surrogates(messages)
            if "tools" in kwargs:
                kwargs["tools"] = scrub_surrogates(kwargs["tools"])
        else:
            kwargs["messages"] = messages
        provider = self._provider(litellm, request)
        if handler is None:
            handler = provider is not None and provider not in _SDK_SERVED
        # `ssl_verify` is for the client: Tiller's, which keeps the redirect guard.
        verify = verify_setting(kwargs.pop(TLS_OPTION, True))
        if handler:
            kwargs["client"] = _handler(litellm, verify)
        elif verify is not True:
            # The openai SDK route sends through `litellm.client_session`, one client for
            # the process, and litellm reads no per-call setting there.
            raise ProviderError(
                f"ssl_verify is not supported for {request.model} on litellm's OpenAI SDK "
                "route; use transport auto or openai (the lean client) for this endpoint"
            )
        # On native Anthropic with no usage chunk asked for, the finish chunk is the last
        # one litellm yields and it carries the usage; pulling once more only makes
        # litellm rebuild, price, copy and log the whole response (~20% of a round's
        # CPU). Stopping there reads the same bytes: litellm has already stopped reading
        # at `message_stop` (before the body's end), so the connection is closed, not
        # reused, either way.
        ends_at_finish = usage_on_finish and "stream_options" not in kwargs
        last = _is_finish_chunk if ends_at_finish and _unobserved(litellm) else None
        pump = _StreamPump(lambda: litellm.completion(**kwargs), last=last)
        ended = False
        try:
            while True:
                # A backstop for a client that ignores the read timeout: twice the limit.
                item = None if cancel.is_set() else pump.get(cancel, 2 * self.stall_timeout)
                if item is None:
                    return stream.cancelled()
                kind, payload = item
                ended = kind not in ("chunk", "stall")
                if kind == "stall":
                    raise CallFailed(_Stalled(payload))
                if kind == "error":
                    if handler and not pump.responses.sent:
                        # Failed before sending: litellm may serve this provider through the
                        # openai SDK, which takes no handler; ask again without one.
                        return self._attempt(litellm, request, stream, cancel, handler=False)
                    if handler is False and pump.responses.sent and provider is not None:
                        _SDK_SERVED.add(provider)  # the SDK sent it; never pass a handler
                    raise CallFailed(payload)
                if kind == "end":
                    if handler is False and pump.responses.sent and provider is not None:
                        _SDK_SERVED.add(provider)
                    kind_seen = pump.responses.content_type
                    if kind_seen is not None and _no_stream(stream, kind_seen):
                        raise CallFailed(_BadReply(not_a_stream(kind_seen)))
                    return stream.finished(_cost(litellm, request.model, stream.raw_usage))
                try:
                    stream.feed(payload)
                except MalformedChunk as exc:
                    raise CallFailed(exc) from None
                if usage_on_finish:
                    # The finish chunk's is the stream's total: the last one seen wins.
                    stream.raw_usage = _usage_of(payload) or stream.raw_usage
        finally:
            if not ended:  # cancelled, stalled, or on_text raised
                pump.abandon()

    def _provider(self, litellm: Any, request: ModelRequest) -> str | None:
        """litellm's provider name for the request's model; None when it cannot tell."""
        key = (request.model, request.options.get("api_base"))
        if key not in self._providers:
            try:
                _, provider, _, _ = litellm.get_llm_provider(
                    model=request.model, api_base=request.options.get("api_base")
                )
                self._providers[key] = str(provider)
            except Exception:
                self._providers[key] = None
        return self._providers[key]


def _object_arguments_only(message: dict[str, Any]) -> bool:
    """Whether every past call of `message` has arguments litellm can parse into an object
    (one that has not is sent wrapped, `{"invalid_arguments": "<the text>"}`)."""
    return all(_object_arguments(call) for call in message.get("tool_calls") or ())


def _arguments_of(call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    return function.get("arguments") if isinstance(function, dict) else None


def _object_arguments(call: Any) -> bool:
    arguments = _arguments_of(call)
    if not isinstance(arguments, str) or not arguments.strip():
        return True  # nothing litellm would parse
    try:
        return isinstance(json.loads(arguments), dict)
    except (ValueError, RecursionError):
        return False


def _wrapped(call: Any) -> Any:
    if _object_arguments(call):
        return call
    text = json.dumps({"invalid_arguments": _arguments_of(call)})
    return {**call, "function": {**call["function"], "arguments": text}}


def _is_finish_chunk(chunk: Any) -> bool:
    """Whether a streamed chunk is litellm's closing one (it carries the finish reason)."""
    choices = getattr(chunk, "choices", None)
    return bool(choices) and getattr(choices[0], "finish_reason", None) is not None


def _unobserved(litellm: Any) -> bool:
    """Whether nothing litellm would run after the stream looks at it: no callbacks and
    no response cache (litellm's public settings; Tiller sets none of them)."""
    return not (litellm.callbacks or litellm.success_callback) and litellm.cache is None


def _usage_of(chunk: Any) -> Any:
    """The usage litellm keeps on a chunk's `_hidden_params` (its documented side channel
    for response metadata) when the stream was not asked for a usage chunk; None if none."""
    hidden = getattr(chunk, "_hidden_params", None)
    usage = hidden.get("usage") if isinstance(hidden, dict) else None
    return usage if getattr(usage, "prompt_tokens", None) is not None else None


def _marked_like_the_hook(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Breakpoints where litellm's injection hook puts them for `INJECTION_POINTS`:
    the system message and the newest one, `cache_control` on the message itself
    (litellm carries it to the block it becomes: the system text, a tool result)."""
    marked = list(messages)
    targets = {len(marked) - 1} | ({0} if marked and marked[0].get("role") == "system" else set())
    for index in sorted(t for t in targets if t >= 0):
        message = marked[index]
        if isinstance(message.get("content"), list):
            marked[index] = mark_breakpoints([message])[0]
        else:
            marked[index] = {**message, "cache_control": dict(INJECTION_POINTS[0]["control"])}
    return marked


def _claude_blocks_only(message: dict[str, Any]) -> dict[str, Any]:
    blocks = message.get("thinking_blocks")
    if not blocks or all(b.get("type") in _CLAUDE_BLOCKS for b in blocks):
        return message
    kept = [b for b in blocks if b.get("type") in _CLAUDE_BLOCKS]
    rest = {k: v for k, v in message.items() if k != "thinking_blocks"}
    return {**rest, "thinking_blocks": kept} if kept else rest


_CLAUDE_BLOCKS = ("thinking", "redacted_thinking")


# Providers litellm serves through the openai SDK, which reads `litellm.client_session`
# (Tiller's client) and takes no `HTTPHandler`; the rest get a handler over Tiller's
# client per call. A provider found to need the SDK at run time is added.
_SDK_SERVED = {"openai", "azure", "azure_text", "text-completion-openai", "custom_openai"}


_handlers: dict[VerifySetting, Any] = {}


def _handler(litellm: Any, verify: VerifySetting = True) -> Any:
    """litellm's HTTP handler over Tiller's httpx client, for providers litellm serves itself
    (one per `ssl_verify` setting for the process: it only wraps the client, which is
    thread-safe)."""
    if verify not in _handlers:
        from litellm.llms.custom_httpx.http_handler import HTTPHandler

        _handlers[verify] = HTTPHandler(client=_http(verify))
    return _handlers[verify]


def _no_stream(stream: StreamState, content_type: str) -> bool:
    """Whether an empty reply came as something other than an event stream (an HTML page)."""
    empty = not stream.text and not stream.calls
    return empty and "text/event-stream" not in content_type


class _BadReply(Exception):
    """A 200 whose body is no chat-completions stream (a proxy's page, plain text)."""


class _Redirected(Exception):
    """The provider redirected a call to another host, which Tiller does not follow."""

    def __init__(self, url: str) -> None:
        super().__init__(redirected(url))


class _Stalled(Exception):
    """The provider sent nothing for `stall_timeout` seconds."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no data from the provider for {seconds:g} s")


class _Responses:
    """The HTTP responses one pump's call opened, so that another thread can hang them up.

    Filled by `_on_response` (an httpx event hook of Tiller's own client) on the
    pump's thread; the pump closes them when it ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Any] = []
        self._abandoned = False
        self._closed = False
        self.sent = False
        self.content_type: str | None = None  # of the last response; None when none was seen

    def opened(self, response: Any) -> None:
        self.content_type = str(response.headers.get("content-type", ""))
        with self._lock:
            self._open.append(response)
            if self._abandoned:
                _hang_up(response)

    def abandon(self) -> None:
        """Shut down the sockets of the responses still open (any thread)."""
        with self._lock:
            self._abandoned = True
            if not self._closed:  # once closed, a connection may serve another call
                for response in self._open:
                    _hang_up(response)

    def close(self) -> None:
        """Close every response (the pump's thread, when it is done with them)."""
        with self._lock:
            self._closed = True
            responses, self._open = self._open, []
        for response in responses:
            with contextlib.suppress(Exception):
                response.close()


# The pump's thread makes the whole litellm call, so the hooks below, which run on
# the thread that sends, find that call's `_Responses` here.
_current = threading.local()


def _on_request(request: Any) -> None:
    responses = getattr(_current, "responses", None)
    if responses is not None:
        responses.sent = True


def _on_response(response: Any) -> None:
    if response.has_redirect_location:
        # httpx drops `Authorization` on a redirect to another host, but not Anthropic's
        # `x-api-key` (nor any key in `extra_headers`), and a 307 re-sends the whole
        # conversation: a call never leaves the host it was sent to.
        sent = response.request.url
        target = sent.join(response.headers["location"])
        if (target.scheme, target.host, target.port) != (sent.scheme, sent.host, sent.port):
            raise _Redirected(str(target.copy_with(query=None)))
    responses = getattr(_current, "responses", None)
    if responses is not None:
        responses.opened(response)


def _hang_up(response: Any) -> None:
    """Shut a response's socket down so a read blocked in another thread returns now.

    Closing an httpx response from another thread does not wake a blocked
    `recv()`; `shutdown()` does, and the provider sees the disconnect at once.
    """
    network = getattr(response, "extensions", {}).get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_http_lock = threading.Lock()
_http_clients: dict[VerifySetting, Any] = {}


def _http(verify: VerifySetting = True) -> Any:
    """Tiller's httpx client for litellm: its hooks record each call's responses.

    One per `ssl_verify` setting (`tiller.tls`), so that an option for litellm's own
    client does not cost the redirect guard and connection reuse.
    """
    with _http_lock:
        client = _http_clients.get(verify)
        if client is None:
            import httpx

            from tiller.connection_reuse import ReusingTransport

            limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
            transport = httpx.HTTPTransport(limits=limits, verify=ssl_context(verify))
            client = _http_clients[verify] = httpx.Client(
                # litellm and the openai SDK close a stream a few bytes before its end.
                transport=ReusingTransport(transport),
                follow_redirects=True,
                timeout=httpx.Timeout(600.0, connect=10.0),
                event_hooks={"request": [_on_request], "response": [_on_response]},
            )
        return client


class _StreamPump:
    """Runs one streamed litellm call on a daemon thread, handing chunks over a queue.

    The caller can then honour a cancel at once, even while the provider has not
    sent a byte. Abandoning the pump hangs up the connections its call opened
    (seen through Tiller's own httpx client), and the thread closes them as soon
    as it wakes: an abandoned, unclosed stream can hang the process inside httpcore.
    """

    def __init__(self, call: Callable[[], Any], last: Callable[[Any], bool] | None = None) -> None:
        self._last = last  # the stream ends after a chunk this says is the last one
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._abandoned = threading.Event()
        self.responses = _Responses()
        self._thread = threading.Thread(
            target=self._run, args=(call,), name="tiller-llm-stream", daemon=True
        )
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        _current.responses = self.responses
        stream = None
        try:
            stream = call()
            if self._abandoned.is_set():
                return
            for chunk in stream:
                if self._abandoned.is_set():
                    return
                self._queue.put(("chunk", chunk))
                if self._last is not None and self._last(chunk):
                    break
            # Closed before the end is told: the connection is back in the pool (its
            # unread tail read, `ReusingTransport`) before the caller's next call asks.
            self._close(stream)
            self._queue.put(("end", None))
        except BaseException as exc:
            if not self._abandoned.is_set():
                self._queue.put(("error", exc))
        finally:
            _current.responses = None
            self._close(stream)

    def _close(self, stream: Any) -> None:
        close = getattr(stream, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
        self.responses.close()

    def get(self, cancel: threading.Event, stall: float | None) -> tuple[str, Any] | None:
        """The next (kind, payload) item; None once `cancel` is set while waiting.

        After `stall` seconds without an item, the item is `("stall", seconds)`.
        """
        deadline = None if stall is None else time.monotonic() + stall
        while True:
            try:
                return self._queue.get(timeout=_CANCEL_POLL)
            except queue.Empty:
                if cancel.is_set():
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    return ("stall", stall)

    def abandon(self) -> None:
        """Stop forwarding chunks and hang up; the thread closes the responses when it wakes."""
        self._abandoned.set()
        self.responses.abandon()


_reasoning_models: dict[str, bool] = {}


def _reasons(litellm: Any, model: str) -> bool:
    """False only when litellm knows `model` and says it has no reasoning setting."""
    if model not in _reasoning_models:
        try:
            litellm.get_model_info(model)
            known = True
        except Exception:
            known = False  # a local server's model: let the endpoint decide
        try:
            _reasoning_models[model] = not known or bool(litellm.supports_reasoning(model=model))
        except Exception:
            _reasoning_models[model] = True
    return _reasoning_models[model]


def _cost(litellm: Any, model: str, raw_usage: Any) -> float | None:
    """USD at the prices of litellm's bundled map, read as JSON (`tiller.model_map`);
    None when the model or the usage is unknown.

    `litellm.cost_per_token` costs ~1 ms a call (more for a model it cannot price,
    which it looks up every time); the map gives the same figure for known models.
    """
    if raw_usage is None:
        return None
    return model_map.cost(model, usage_from(raw_usage))


# -- errors --------------------------------------------------------------------------------


def _classify(litellm: Any, exc: BaseException, model: str, stall: float | None) -> Failure:
    """Sort a litellm/openai/httpx exception into what to do about it.

    `stall` is the read timeout Tiller set (None when the caller chose a `timeout`).
    """
    import httpx

    if not isinstance(exc, Exception):
        raise exc  # KeyboardInterrupt and friends are not provider failures
    if isinstance(exc, _Stalled):
        return Failure("retry", str(exc), None, "Stalled")
    if stall is not None and _read_timed_out(exc):
        return Failure("retry", str(_Stalled(stall)), None, "Stalled")
    if isinstance(exc, _BadReply):
        return Failure("fatal", str(exc))
    untrusted = untrusted_certificate(exc)
    if untrusted is not None:
        return Failure("fatal", untrusted)
    from tiller.connection_reuse import EventTooBig

    refused = next((e for e in _causes(exc) if isinstance(e, _Redirected | EventTooBig)), None)
    if refused is not None:
        return Failure("fatal", str(refused))
    lost = _lost_connection(exc)
    if lost is not None:
        # litellm reports a dropped stream as a 500; it is no answer from the server.
        return Failure("retry", f"connection lost ({lost})", None, "Connection lost")
    status = _status(exc)
    message = one_line(str(getattr(exc, "message", None) or exc), type(exc).__name__)
    if MISSING_KEY.search(message):
        return Failure("no_key", message, key_env=provider_key_env(model))
    if status in (401, 403) or isinstance(
        exc, litellm.AuthenticationError | litellm.PermissionDeniedError
    ):
        return Failure("auth", message, status, key_env=provider_key_env(model))
    if isinstance(exc, litellm.ContextWindowExceededError) or (
        status in (400, 413, None) and OVERFLOW.search(message)
    ):
        return Failure("overflow", message, status)
    if isinstance(exc, ImportError) or "No module named" in message:
        return Failure("fatal", f"litellm could not load a module it needs: {message}", status)
    wait = _retry_after(exc)
    if status == 429 or isinstance(exc, litellm.RateLimitError):
        return Failure("retry", message, status, f"Rate limited ({status or 429})", wait)
    if status == 408 or isinstance(exc, litellm.Timeout | httpx.TimeoutException):
        return Failure("retry", message, status, "Timed out", wait)
    if isinstance(exc, litellm.APIConnectionError | httpx.TransportError) or (
        "connection error" in message.lower()
    ):
        return Failure("retry", message, status, "Connection failed", wait)
    if status is not None and status >= 500:
        return Failure("retry", message, status, f"Server error ({status})", wait)
    return Failure("fatal", message, status)


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what caused it, outermost first (litellm keeps some as `original_exception`)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        cause = current.__cause__ or current.__context__
        if cause is None:
            original = getattr(current, "original_exception", None)
            cause = original if isinstance(original, BaseException) else None
        current = cause
    return chain


def _transport_error(exc: BaseException) -> Any:
    """The httpx transport error under `exc`, if any."""
    import httpx

    return next((e for e in _causes(exc) if isinstance(e, httpx.TransportError)), None)


def _read_timed_out(exc: BaseException) -> bool:
    import httpx

    return isinstance(_transport_error(exc), httpx.ReadTimeout)


def _lost_connection(exc: BaseException) -> str | None:
    """What broke, when `exc` (or what caused it) is a connection dropped after it was made."""
    import httpx

    error = _transport_error(exc)
    if error is None or isinstance(
        error, httpx.ConnectError | httpx.TimeoutException | httpx.ProxyError
    ):
        return None  # no transport error, never connected, or too slow: said elsewhere
    return one_line(str(error), type(error).__name__)


def _status(exc: BaseException) -> int | None:
    for value in (
        getattr(exc, "status_code", None),
        getattr(getattr(exc, "response", None), "status_code", None),
    ):
        if isinstance(value, int):
            return value
    return None


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait, if any."""
    # litellm keeps the provider's headers on `litellm_response_headers`; its
    # rebuilt `exc.response` often carries none.
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        wait = retry_after(headers)
        if wait is not None:
            return wait
    return None
