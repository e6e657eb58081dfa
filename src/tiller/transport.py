"""What every model transport shares: picking one, retrying, failures as errors, assembly.

A transport is a `ModelClient` that reaches providers one way: `litellm`
(`llm.LiteLLMClient`, every provider) or `openai` (`openai_http.OpenAIHTTPClient`,
OpenAI-compatible endpoints over plain httpx). `auto` (the default) picks per
model: the lean client wherever the endpoint speaks chat-completions, litellm
for the rest (`resolve_transport`).
They differ only in how they talk to the provider and recognise its failures;
the retry loop, its backoff, the wording of errors and the assembly of a
streamed reply live here, once. Importing this module imports neither.
"""

from __future__ import annotations

import email.utils
import json
import math
import operator
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiller.errors import AuthError, ContextOverflowError, ProviderError
from tiller.model import ModelClient, ModelRequest, ModelResponse, ToolCall, Usage
from tiller.redaction import Redactor, secret_values

__all__ = [
    "DEFAULT_STALL_TIMEOUT",
    "DEFAULT_TRANSPORT",
    "HTML_REPLY",
    "OPENAI_COMPATIBLE",
    "TRANSPORTS",
    "CallFailed",
    "CheckedMessages",
    "Failure",
    "MalformedChunk",
    "RetryPolicy",
    "StreamState",
    "client_for",
    "complete_with_retries",
    "json_encodable",
    "not_a_stream",
    "prepare",
    "redirected",
    "resolve_transport",
    "scrub_surrogates",
    "usage_from",
]

TRANSPORTS = ("auto", "litellm", "openai")
DEFAULT_TRANSPORT = "auto"
# Model-id prefixes that name an OpenAI-compatible chat-completions endpoint.
OPENAI_COMPATIBLE = ("openai", "openrouter", "hosted_vllm", "lm_studio", "llamafile")
# Bare model names litellm sends to a provider of its own (not chat-completions).
_NATIVE_BARE = re.compile(r"^(claude|gemini|command|anthropic\.|amazon\.|meta\.)", re.IGNORECASE)
_OPENAI_BARE = re.compile(r"^(gpt|o\d|chatgpt|codex)", re.IGNORECASE)
# Seconds a provider may send nothing before an attempt is given up and retried.
DEFAULT_STALL_TIMEOUT = 90.0


def resolve_transport(transport: _TEXT, model: str, api_base: str | None = None) -> str:
    """The concrete transport (`litellm` or `openai`) a model is reached by.

    `auto` (and None) pick the lean `openai` client for endpoints that speak
    OpenAI chat-completions: `openai/`, `openrouter/` and the other
    OpenAI-compatible prefixes, OpenAI's bare names (`gpt-5`), and any other bare
    name given an `api_base` (a llama.cpp, vLLM, LM Studio or Ollama `/v1` server).
    Every other provider (`anthropic/`, `gemini/`, `bedrock/`, `vertex_ai/`,
    `azure/`, `ollama/`, ...) goes through litellm. An explicit choice is kept.

    Raises:
        ValueError: `transport` is not one of `TRANSPORTS`.
    """
    if transport in ("litellm", "openai"):
        return transport
    if transport not in (None, "", "auto"):
        raise ValueError(_unknown(transport))
    provider, _, rest = model.partition("/")
    if rest:
        return "openai" if provider in OPENAI_COMPATIBLE else "litellm"
    if _OPENAI_BARE.match(model) or (api_base and not _NATIVE_BARE.match(model)):
        return "openai"
    return "litellm"


def _unknown(transport: str | None) -> str:
    return (
        f"Unknown transport {transport!r}: use 'auto' (the default), 'litellm' "
        "(every provider) or 'openai' (OpenAI-compatible endpoints)."
    )


def client_for(transport: str, *, stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> ModelClient:
    """A new model client for a concrete transport name (see `resolve_transport`).

    Args:
        transport: `litellm` or `openai`.
        stall_timeout: seconds without a byte (litellm: a chunk) before a retry.

    Raises:
        ValueError: `transport` is not one of `TRANSPORTS`.
    """
    if transport == "litellm":
        from tiller.llm import LiteLLMClient

        return LiteLLMClient(stall_timeout=stall_timeout)
    if transport == "openai":
        from tiller.openai_http import OpenAIHTTPClient

        return OpenAIHTTPClient(stall_timeout=stall_timeout)
    raise ValueError(_unknown(transport))


def prepare(transport: str) -> None:
    """Start loading what a transport needs, in the background, so its first call does not wait.

    `litellm` starts litellm's import on a daemon thread (seconds; idempotent);
    the lean client and callers' own clients need nothing. Front ends call this
    as soon as they know the transport: a session opening, a `/model` switch.
    """
    if transport == "litellm":
        from tiller.llm import preload_in_background

        preload_in_background()


# -- retrying ------------------------------------------------------------------------------


@dataclass
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure.

    Attributes:
        max_retries: retries after the first attempt; never once text has been streamed.
        backoff_base: the first retry waits up to this many seconds (full jitter,
            doubling each retry); a provider's `Retry-After` wins.
        backoff_max: the cap on any single wait, `Retry-After` included.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, ceiling)


class CallFailed(Exception):
    """Carries a transport's exception (not one raised by our callbacks) out of an attempt."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def complete_with_retries(
    request: ModelRequest,
    attempt: Callable[[StreamState], ModelResponse],
    classify: Callable[[BaseException], Failure],
    policy: RetryPolicy,
    *,
    on_text: Callable[[str], None],
    cancel: threading.Event,
    on_retry: Callable[[str], None] | None,
    on_reasoning: Callable[[str], None] | None = None,
) -> ModelResponse:
    """Run `attempt` until it returns, retrying what `classify` calls transient.

    `attempt` streams into the `StreamState` it is given and raises `CallFailed`
    for provider failures. A failure after text reached `on_text` is never
    retried (the person would see the text twice). A cancel before an attempt
    or during a wait returns `finish_reason="cancelled"`.
    """
    attempts = policy.max_retries + 1
    for number in range(1, attempts + 1):
        if cancel.is_set():
            return ModelResponse(finish_reason="cancelled")
        stream = StreamState(on_text, on_reasoning)
        try:
            return attempt(stream)
        except CallFailed as failed:
            failure = classify(failed.error)
            if failure.kind != "retry" or stream.emitted or number == attempts:
                # A provider may quote the key it rejected (or a URL's password): the
                # message goes to events, `--json`, stderr and the journal from here.
                failure.message = _redactor(request.options).redact(failure.message)
                error = failure.to_error(request.model, stream.emitted, number)
                error.partial_text = "".join(stream.text)
                raise error from failed.error
        delay = policy.delay(number, failure.retry_after)
        if on_retry is not None:
            on_retry(
                f"{failure.label}; retrying in {delay:.1f} s (attempt {number + 1}/{attempts})"
            )
        if cancel.wait(delay):
            return ModelResponse(finish_reason="cancelled")
    raise AssertionError("unreachable: the last attempt returns or raises")


def _redactor(options: Mapping[str, Any]) -> Redactor:
    """Redacts the request's secret options and every secret-named environment variable."""
    return Redactor(secret_values(options))


# -- failures ------------------------------------------------------------------------------

MISSING_KEY = re.compile(
    r"missing credentials|api_key client option must be set|missing [\w .-]*api[ _-]?key"
    r"|no api[ _-]?key|api[ _-]?key (?:is )?(?:not set|required|missing)",
    re.IGNORECASE,
)
OVERFLOW = re.compile(
    r"context[ _-]?(?:length|window)|maximum context|prompt is too long|input is too long"
    r"|too many (?:input )?tokens",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^(?:litellm\.)?\w*(?:Error|Exception)\s*(?::|-)\s*")


@dataclass
class Failure:
    """What a transport's exception means for the retry loop and for the person.

    Attributes:
        kind: `no_key`, `auth`, `overflow`, `retry` or `fatal`.
        message: the provider's message, one line.
        status: the HTTP status, when there was one.
        label: how a retry notice names the failure (`Rate limited (429)`).
        retry_after: the wait the provider asked for, in seconds.
        key_env: the variable that holds the key, for auth failures.
    """

    kind: str
    message: str
    status: int | None = None
    label: str = "Provider error"
    retry_after: float | None = None
    key_env: str | None = None

    def to_error(self, model: str, emitted: bool, attempt: int) -> ProviderError:
        """The exception to raise once this failure is final."""
        status = f" (HTTP {self.status})" if self.status else ""
        if self.kind in ("no_key", "auth"):
            fix = f"set {self.key_env}" if self.key_env else "check the provider's API key"
            if self.kind == "no_key":
                problem = f"No API key for {model}"
            else:
                problem = f"Authentication failed for {model}{status}: {self.message.rstrip('.')}"
            return AuthError(f"{problem}; {fix}, or choose another model with --model.")
        if self.kind == "overflow":
            return ContextOverflowError(f"Context window exceeded for {model}: {self.message}")
        if self.kind == "retry" and emitted:
            return ProviderError(f"{model} failed mid-stream{status}: {self.message}")
        if self.kind == "retry" and attempt > 1:
            return ProviderError(f"{model} failed{status} after {attempt} attempts: {self.message}")
        return ProviderError(f"{model} failed{status}: {self.message}")


def status_failure(
    status: int, message: str, retry_after: float | None, key_env: str | None
) -> Failure:
    """Sort an HTTP error status (with the provider's message) into what to do about it."""
    if status in (401, 403):
        return Failure("auth", message, status, key_env=key_env)
    if status in (400, 413) and OVERFLOW.search(message):
        return Failure("overflow", message, status)
    if status == 429:
        return Failure("retry", message, status, f"Rate limited ({status})", retry_after)
    if status == 408:
        return Failure("retry", message, status, "Timed out", retry_after)
    if status >= 500:
        return Failure("retry", message, status, f"Server error ({status})", retry_after)
    return Failure("fatal", message, status)


HTML_REPLY = "The provider answered with HTML, not JSON (a proxy error page?)"


_REDIRECT_NOTE = "; Tiller does not follow a redirect (set api_base to it if it is right)"


def redirected(location: str) -> str:
    """What to say about a provider that redirected a call (the key would go along)."""
    return f"The provider redirected the request to {location or 'another address'}{_REDIRECT_NOTE}"


def not_a_stream(content_type: str) -> str:
    """What to say about a 200 that carried no chat-completions stream."""
    if "html" in content_type:
        return HTML_REPLY
    shown = content_type.split(";")[0].strip() or "an empty body"
    return f"The provider answered with {shown}, not a chat-completions stream"


def one_line(text: str, fallback: str) -> str:
    """A provider's message without SDK prefixes, chained originals, tracebacks or JSON."""
    text = text.split(" Original exception:")[0].strip()
    text = text.splitlines()[0].strip() if text else fallback
    while (stripped := _PREFIX.sub("", text, count=1)) != text:
        text = stripped
    if text.startswith("{"):
        try:
            body = json.loads(text)
            error = body.get("error", body)
            text = str(error.get("message", text) if isinstance(error, dict) else error)
        except (ValueError, AttributeError):
            pass
    # A provider's text goes to a terminal: no escape sequence, bell or carriage return.
    text = _CONTROL.sub("", text.replace("\t", " ")).strip() or fallback
    return text if len(text) <= 300 else text[:297] + "..."


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def retry_after(headers: Any) -> float | None:
    """Seconds a response's headers ask us to wait (`retry-after-ms` / `retry-after`), if any."""
    if not isinstance(headers, Mapping):
        return None
    values = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        if "retry-after-ms" in values:
            wait = float(values["retry-after-ms"]) / 1000.0
        elif "retry-after" in values:
            wait = _parse_retry_after(values["retry-after"])
        else:
            return None
    except (ValueError, TypeError, OverflowError):
        return None
    return None if math.isnan(wait) else wait  # `nan` parses, and no wait compares with it


def _parse_retry_after(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())


# -- text that is not UTF-8 ---------------------------------------------------------------


def scrub_surrogates(value: Any) -> Any:
    """`value` (JSON-like) with every string made encodable as UTF-8; the same object if it was.

    A file name that is not UTF-8 reaches Tiller as lone surrogates (`caf\\udce9.txt`,
    Python's `surrogateescape`); no HTTP client can send those. Escaped bytes are
    shown as `\\xe9` (as `ls -b` would), any other lone surrogate as `\\ud800`.
    """
    if isinstance(value, dict | list | tuple) and json_encodable(value):
        # Almost always the case: one pass in C over the whole history, instead of a
        # Python walk over every message on every round.
        return value
    return _scrubbed(value)


class CheckedMessages:
    """Which of the engine's message dicts passed `check`, so that a round checks only the
    messages added since the last call instead of the whole history.

    The engine hands the same read-only dicts to every call (`history.MessageCache`),
    so the items a call shares with the last one, from the start, are known as they
    are (found in C, one identity test each); the rest are looked up by identity, then
    checked. The memo keeps the items of the last check alive, so their ids stay theirs.
    """

    def __init__(self, check: Callable[[Any], bool]) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._failed: list[int] = []
        self._known: dict[int, Any] = {}

    def failing(self, items: Sequence[Any]) -> list[int]:
        """The indexes of the items that fail `check` (those that pass are remembered)."""
        with self._lock:
            items = list(items)
            same = list(map(operator.is_, items, self._items))
            shared = same.index(False) if False in same else len(same)
            known, kept = self._known, {}
            failed = [index for index in self._failed if index < shared]
            for index in range(shared, len(items)):
                item = items[index]
                if known.get(id(item)) is item or self._check(item):
                    kept[id(item)] = item
                else:
                    failed.append(index)
            self._items, self._failed, self._known = items, failed, kept
            return list(failed)


def json_encodable(value: Any) -> bool:
    """Whether `value` is plain JSON whose text encodes as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError):
        return False  # or not plain JSON: the walk below decides
    return True


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.isascii() or _encodable(value) else _scrub(value)
    if isinstance(value, dict):
        items = {k: _scrubbed(v) for k, v in value.items()}
        changed = any(items[k] is not v for k, v in value.items())
        return {_scrubbed(k): v for k, v in items.items()} if changed else value
    if isinstance(value, list | tuple):
        scrubbed = [_scrubbed(v) for v in value]
        if all(a is b for a, b in zip(scrubbed, value, strict=True)):
            return value
        return scrubbed if isinstance(value, list) else tuple(scrubbed)
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _scrub(text: str) -> str:
    return _SURROGATE.sub(_escape, text)


# -- assembling a streamed reply -----------------------------------------------------------


def _get(obj: Any, name: str) -> Any:
    # Chunks are dicts from the lean transport and objects from litellm; same field names.
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


class MalformedChunk(ValueError):
    """A streamed chunk with a field of the wrong type (a broken or hostile endpoint)."""


def _expect(value: Any, kind: Any, name: str) -> Any:
    """`value` when it is a `kind`; else `MalformedChunk`."""
    if isinstance(value, kind):
        return value
    shown = _JSON_TYPES.get(type(value), type(value).__name__)
    raise MalformedChunk(f"The provider sent a malformed stream chunk ({name} is {shown})")


def _object(value: Any, name: str) -> Any:
    """`value` unless it is a JSON array or scalar where an object belongs (`MalformedChunk`)."""
    if isinstance(value, _NOT_OBJECT):
        _expect(value, dict, name)
    return value


# Tuples: `isinstance` takes them faster than unions (this runs for every chunk).
_ARRAY = (list, tuple)
_TEXT = (str, type(None))
_INDEX = (int, type(None))
_NOT_OBJECT = (list, tuple, str, int, float)


_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class StreamState:
    """Assembles streamed chat-completion chunks (dicts or objects) into a `ModelResponse`.

    Thinking arrives as `reasoning_content` (litellm, DeepSeek) or `reasoning`
    (OpenRouter) text, and on Anthropic routes also as `thinking_blocks` pieces whose
    signature comes last; the signed blocks are kept whole for the history.
    """

    def __init__(
        self, on_text: Callable[[str], None], on_reasoning: Callable[[str], None] | None = None
    ) -> None:
        self.on_text = on_text
        self.on_reasoning = on_reasoning
        self.reasoning: list[str] = []
        self.thinking: list[dict[str, Any]] = []
        # OpenRouter's `reasoning_details`, merged by index (they go back as they came).
        self.details: dict[int, dict[str, Any]] = {}
        self.text: list[str] = []
        self.calls: dict[int, _PartialCall] = {}
        self.finish_reason: str | None = None
        self.raw_usage: Any = None
        self.emitted = False

    def feed(self, chunk: Any) -> None:
        """Take one chunk: usage, tool-call pieces, the finish reason, a text delta.

        Raises:
            MalformedChunk: a field has the wrong type (a broken or hostile endpoint; the
                lean transport hands over the endpoint's JSON as it came).
        """
        # The checks cost a few `isinstance` calls per chunk; a helper runs only to fail.
        if isinstance(chunk, _NOT_OBJECT):
            _object(chunk, "the chunk")
        usage = _get(chunk, "usage")
        if usage is not None:
            self.raw_usage = usage
        choices = _get(chunk, "choices")
        if not choices:
            return
        if not isinstance(choices, _ARRAY):
            _expect(choices, _ARRAY, "choices")
        choice = choices[0]
        delta = _get(choice, "delta")
        if isinstance(choice, _NOT_OBJECT) or isinstance(delta, _NOT_OBJECT):
            _object(choice, "choices[0]")
            _object(delta, "delta")
        if delta is None:
            return
        tool_calls = _get(delta, "tool_calls")
        if tool_calls:
            for position, tc in enumerate(_expect(tool_calls, _ARRAY, "tool_calls")):
                self._feed_tool_call(position, tc)
        blocks = _get(delta, "thinking_blocks")
        if blocks:
            for block in _expect(blocks, _ARRAY, "thinking_blocks"):
                self._feed_thinking(block)
        details = _get(delta, "reasoning_details")
        if details:
            for position, detail in enumerate(_expect(details, _ARRAY, "reasoning_details")):
                self._feed_detail(position, detail)
        reasoning = _get(delta, "reasoning_content") or _get(delta, "reasoning")
        if isinstance(reasoning, str) and reasoning:
            self.reasoning.append(reasoning)
            if self.on_reasoning is not None:
                self.on_reasoning(reasoning)
        reason = _get(choice, "finish_reason")
        if reason:
            self.finish_reason = _expect(reason, str, "finish_reason")
        text = _get(delta, "content")
        if text:
            if not isinstance(text, str):
                _expect(text, str, "content")
            self.text.append(text)
            self.emitted = True
            self.on_text(text)

    def _feed_tool_call(self, position: int, tc: Any) -> None:
        index = _get(tc, "index")
        call_id = _get(tc, "id")
        if not (isinstance(index, _INDEX) and isinstance(call_id, _TEXT)):
            _expect(index, _INDEX, "tool_calls[].index")
            _expect(call_id, _TEXT, "tool_calls[].id")
        index = index if index is not None else position
        call = self.calls.get(index)
        if call is not None and call_id and call.id and call_id != call.id:
            # Some providers reuse index 0 for every call; a new id is a new call.
            index = max(self.calls) + 1
            call = None
        if call is None:
            call = self.calls[index] = _PartialCall()
        if call_id:
            call.id = call_id
        function = _get(tc, "function")
        if function is not None:
            name = _get(function, "name")
            arguments = _get(function, "arguments")
            if isinstance(arguments, dict):  # some endpoints send the object itself
                arguments = json.dumps(arguments)
            if not (isinstance(name, _TEXT) and isinstance(arguments, _TEXT)):
                _expect(name, _TEXT, "function.name")
                _expect(arguments, _TEXT, "function.arguments")
            if name:
                call.name = name
            if arguments:
                call.arguments.append(arguments)

    def _feed_thinking(self, block: Any) -> None:
        kind = _get(block, "type")
        if kind == "redacted_thinking":
            self.thinking.append({"type": "redacted_thinking", "data": _get(block, "data") or ""})
            return
        if kind != "thinking":
            return
        last = self.thinking[-1] if self.thinking else None
        if last is None or last["type"] != "thinking" or last.get("signature"):
            last = {"type": "thinking", "thinking": ""}
            self.thinking.append(last)
        last["thinking"] += _expect(_get(block, "thinking"), _TEXT, "thinking") or ""
        signature = _expect(_get(block, "signature"), _TEXT, "signature")
        if signature:
            last["signature"] = signature

    def _feed_detail(self, position: int, detail: Any) -> None:
        if not isinstance(detail, dict) or not str(detail.get("type", "")).startswith("reasoning."):
            return
        index = detail.get("index")
        index = index if isinstance(index, int) else len(self.details) + position
        merged = self.details.setdefault(index, {})
        for key, value in detail.items():
            if key in ("text", "summary", "data") and isinstance(value, str):
                merged[key] = merged.get(key, "") + value
            elif value is not None:
                merged[key] = value

    def signed_thinking(self) -> list[dict[str, Any]]:
        """The complete thinking blocks: signed ones and redacted ones (others cannot go back)."""
        return [
            block
            for block in self.thinking
            if block["type"] == "redacted_thinking" or block.get("signature")
        ]

    def finished(self, cost: float | None) -> ModelResponse:
        """The whole reply, with `cost` in USD (None when unknown)."""
        calls = [
            ToolCall(id=call_id, name=call.name, arguments="".join(call.arguments) or "{}")
            for call_id, call in self._identified()
        ]
        finish = self.finish_reason or ("tool_calls" if calls else "stop")
        usage = usage_from(self.raw_usage)
        usage.cost_usd = cost
        return ModelResponse(
            text="".join(self.text),
            tool_calls=calls,
            usage=usage,
            finish_reason=finish,
            reasoning="".join(self.reasoning),
            thinking_blocks=self.signed_thinking() + [d for _, d in sorted(self.details.items())],
        )

    def _identified(self) -> list[tuple[str, _PartialCall]]:
        """The calls in order, each with an id no other has: two results under one id
        would make the provider refuse every later request of the conversation."""
        taken = {call.id for call in self.calls.values()}
        named: list[tuple[str, _PartialCall]] = []
        seen: set[str] = set()
        for index, call in sorted(self.calls.items()):
            call_id = call.id or f"call_{index}"
            suffix = 1
            while call_id in seen or (not call.id and call_id in taken):
                suffix += 1
                call_id = f"{call.id or f'call_{index}'}_{suffix}"
            seen.add(call_id)
            named.append((call_id, call))
        return named

    def cancelled(self) -> ModelResponse:
        """What arrived before the cancel; tool calls whose arguments are unfinished are dropped."""
        calls = []
        for call_id, call in self._identified():
            arguments = "".join(call.arguments) or "{}"
            if call.name and _is_json_object(arguments):
                calls.append(ToolCall(id=call_id, name=call.name, arguments=arguments))
        # The provider reports usage only at the end; a cut-short call has none to give.
        return ModelResponse(
            text="".join(self.text), tool_calls=calls, usage=Usage(), finish_reason="cancelled"
        )


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def usage_from(raw: Any) -> Usage:
    """Token counts from a chunk's usage (dict or object); `input_tokens` includes cached ones."""
    if raw is None:
        return Usage(cost_usd=None)
    details = _get(raw, "prompt_tokens_details")
    cache_read = (_get(details, "cached_tokens") if details is not None else None) or _get(
        raw, "cache_read_input_tokens"
    )
    cache_write = (
        _get(raw, "cache_creation_input_tokens")
        or _get(raw, "_cache_creation_input_tokens")
        or (_get(details, "cache_write_tokens") if details is not None else None)
        or 0
    )
    return Usage(
        input_tokens=_count(_get(raw, "prompt_tokens")),
        output_tokens=_count(_get(raw, "completion_tokens")),
        cache_read_tokens=_count(cache_read),
        cache_write_tokens=_count(cache_write),
    )


def _count(value: Any) -> int:
    """A token count as the endpoint reported it; 0 for anything that is no count
    (text, a negative, infinite or absurd number: past `_MOST_TOKENS`, the cost and the
    context share would overflow a float): the reply matters more than its tally."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if 0 < value <= _MOST_TOKENS else 0


_MOST_TOKENS = 10**12
