"""A hostile or broken provider on every route: a clear error or the right answer, never a
crash, a leak or a hang.

Routes: litellm's native Anthropic client, litellm through the openai SDK, litellm's own
HTTP handler (`openrouter/`), and the lean `openai` transport.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest

from model_calls import request
from tiller.connection_reuse import EVENT_TOO_BIG
from tiller.errors import ProviderError
from tiller.llm import LiteLLMClient
from tiller.model import ModelClient, ModelResponse, Usage
from tiller.openai_http import OpenAIHTTPClient
from tiller.session import Session
from tiller.testing import FakeOpenAIServer, ServerReply

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm"),
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
]

CLAUDE = "anthropic/claude-sonnet-4-5"


def _litellm(**kwargs: Any) -> ModelClient:
    return LiteLLMClient(**{"max_retries": 0, **kwargs})


def _lean(**kwargs: Any) -> ModelClient:
    return OpenAIHTTPClient(**{"max_retries": 0, **kwargs})


ROUTES = [
    pytest.param(_litellm, CLAUDE, id="litellm-anthropic"),
    pytest.param(_litellm, "openai/fake-model", id="litellm-sdk"),
    pytest.param(_litellm, "openrouter/fake/model", id="litellm-handler"),
    pytest.param(_lean, "openai/fake-model", id="openai"),
]
# The routes that speak chat-completions (the native Anthropic one sends Messages events).
CHAT_ROUTES = ROUTES[1:]

Make = Callable[..., ModelClient]


def _path(model: str) -> str:
    return "/v1/messages" if model == CLAUDE else "/v1/chat/completions"


def complete(
    server: FakeOpenAIServer, client: ModelClient, model: str, **options: Any
) -> ModelResponse:
    base = server.root_url if model == CLAUDE else server.base_url
    call = request(server, model=model, api_base=base, **options)
    return client.complete(call, on_text=lambda text: None, cancel=threading.Event())


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_redirect_to_another_host_is_refused_and_takes_no_key_along(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A provider redirecting a call to another host gets neither the key nor the conversation."""
    with FakeOpenAIServer([ServerReply(text="stolen")]) as elsewhere:
        location = f"http://localhost:{elsewhere.port}{_path(model)}"
        fake_server.add(ServerReply(status=307, headers={"Location": location}))
        with pytest.raises(ProviderError) as caught:
            complete(fake_server, make(), model)
        assert (len(elsewhere.requests), "redirected" in str(caught.value)) == (0, True)


# The routes that send through a handler (litellm's SDK route refuses `ssl_verify` outright).
@pytest.mark.parametrize(("make", "model"), [ROUTES[0], ROUTES[2]])
def test_a_redirect_is_refused_with_an_ssl_verify_option_too(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """`ssl_verify` (litellm's own option) keeps the redirect guard: the key stays home."""
    with FakeOpenAIServer([ServerReply(text="stolen")]) as elsewhere:
        location = f"http://localhost:{elsewhere.port}{_path(model)}"
        fake_server.add(ServerReply(status=307, headers={"Location": location}))
        with pytest.raises(ProviderError):
            complete(fake_server, make(), model, ssl_verify=False)
        assert len(elsewhere.requests) == 0


def _sse(*events: object) -> ServerReply:
    """A 200 whose event stream is `events` (JSON-encoded unless given as text), as sent."""
    lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
    body = "".join(f"data: {line}\n\n" for line in lines)
    return ServerReply(raw_body=body, content_type="text/event-stream")


def _chunk(delta: Any, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [choice], **extra}  # fmt: skip


def _call(
    index: Any = 0, call_id: Any = "call_a", name: Any = "read", arguments: Any = "{}"
) -> dict[str, Any]:
    function = {"name": name, "arguments": arguments}
    return _chunk({"tool_calls": [{"index": index, "id": call_id, "function": function}]})


MALFORMED = {
    "choices-object": {"choices": {"0": {}}},
    "chunk-array": [1, 2],
    "delta-array": {"choices": [{"index": 0, "delta": [1]}]},
    "content-number": _chunk({"content": 5}),
    "tool-calls-number": _chunk({"tool_calls": 5}),
    "index-text": _call(index="z"),
    "name-number": _call(name=7),
    "arguments-number": _call(arguments=5),
}


@pytest.mark.parametrize("event", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_stream_chunk_is_a_provider_error(
    fake_server: FakeOpenAIServer, event: Any
) -> None:
    """A chunk with a field of the wrong type is a provider error, not a crash (the lean
    client reads the JSON itself; litellm's routes validate, or drop, such chunks)."""
    fake_server.add(_sse(event, _chunk({}, "stop"), "[DONE]"))
    with pytest.raises(ProviderError):
        complete(fake_server, _lean(), "openai/fake-model")


def test_tool_arguments_sent_as_an_object_are_taken_as_its_json(
    fake_server: FakeOpenAIServer,
) -> None:
    """Arguments streamed as a JSON object rather than a string are kept (as litellm does)."""
    fake_server.add(_sse(_call(arguments={"path": "a.py"}), _chunk({}, "tool_calls"), "[DONE]"))
    response = complete(fake_server, _lean(), "openai/fake-model")
    assert [call.arguments for call in response.tool_calls] == ['{"path": "a.py"}']


def test_an_error_event_that_is_only_text_is_a_provider_error_saying_it(
    fake_server: FakeOpenAIServer,
) -> None:
    """`{"error": "overloaded"}` in the stream is a provider error with that text, not a crash."""
    fake_server.add(_sse({"error": "overloaded"}))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, _lean(), "openai/fake-model")
    assert str(caught.value) == "openai/fake-model failed: overloaded"


def test_usage_that_is_no_count_reads_as_zero_and_the_reply_arrives(
    fake_server: FakeOpenAIServer,
) -> None:
    """Token counts that are text, negative or infinite read as 0; the answer still arrives."""
    usage = '{"prompt_tokens": "many", "completion_tokens": -5, "prompt_tokens_details": ' \
        '{"cached_tokens": 1e400}, "cost": NaN}'  # fmt: skip
    finish = json.dumps(_chunk({}, "stop"))[:-1] + f', "usage": {usage}}}'
    fake_server.add(_sse(_chunk({"content": "ok"}), finish, "[DONE]"))
    response = complete(fake_server, _lean(), "openai/fake-model")
    assert (response.text, response.usage) == ("ok", Usage(cost_usd=None))


@pytest.mark.parametrize(("make", "model"), CHAT_ROUTES)
def test_tool_calls_streamed_with_one_id_get_distinct_ids(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """Two calls under one id would answer with two results of that id, which a provider
    refuses on every later request; the second call gets an id of its own."""
    fake_server.add(
        _sse(_call(0, "call_a"), _call(1, "call_a"), _call(2, ""), _chunk({}, "tool_calls"))
    )
    response = complete(fake_server, make(), model)
    ids = [call.id for call in response.tool_calls]
    assert (len(ids), len(set(ids))) == (3, 3)


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", "[" * 5000 + "]" * 5000])
def test_a_past_call_with_unreadable_arguments_does_not_end_the_conversation(
    fake_server: FakeOpenAIServer, arguments: str
) -> None:
    """A call whose arguments were no JSON object (it failed, as its result says) goes back to
    native Anthropic as an object holding that text: litellm could not convert it, and every
    later request of the conversation failed."""
    fake_server.add(ServerReply(text="next"))
    failed = {"id": "call_1", "type": "function",
              "function": {"name": "read_file", "arguments": arguments}}  # fmt: skip
    call = request(fake_server, model=CLAUDE, api_base=fake_server.root_url)
    call = dataclasses.replace(
        call,
        messages=[
            *call.messages,
            {"role": "assistant", "content": "", "tool_calls": [failed]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Invalid arguments"},
            {"role": "user", "content": "go on"},
        ],
    )
    response = _litellm().complete(call, on_text=lambda text: None, cancel=threading.Event())
    assert response.text == "next"


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_retry_after_that_is_no_number_is_ignored(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """`Retry-After: nan` is no wait: the usual backoff applies, and the notice says its wait."""
    fake_server.add(ServerReply(status=429, headers={"Retry-After": "nan"}), ServerReply(text="ok"))
    retries: list[str] = []
    base = fake_server.root_url if model == CLAUDE else fake_server.base_url
    client = make(max_retries=1, backoff_base=0.001)
    client.complete(
        request(fake_server, model=model, api_base=base),
        on_text=lambda text: None,
        cancel=threading.Event(),
        on_retry=retries.append,
    )
    assert retries == ["Rate limited (429); retrying in 0.0 s (attempt 2/2)"]


@pytest.mark.parametrize(("make", "model"), CHAT_ROUTES)
def test_a_stream_event_that_never_ends_fails_the_call_past_its_size_limit(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """An event line that goes on without end fails the call once past `MAX_EVENT_BYTES`,
    rather than filling memory until someone cancels."""
    fake_server.add(ServerReply(endless_line=1 << 20))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, make(), model)
    assert str(caught.value) == f"{model} failed: {EVENT_TOO_BIG}"


@pytest.mark.parametrize(("make", "model"), CHAT_ROUTES)
def test_an_event_stream_opening_with_a_byte_order_mark_loses_no_event(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A UTF-8 byte order mark before the first event (SSE allows one) hides no text."""
    reply = _sse(_chunk({"role": "assistant", "content": "marked"}), _chunk({}, "stop"), "[DONE]")
    fake_server.add(dataclasses.replace(reply, raw_body="\ufeff" + (reply.raw_body or "")))
    assert complete(fake_server, make(), model).text == "marked"


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_provider_error_message_reaches_the_terminal_without_control_characters(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """Escape sequences in a provider's error text (clear the screen, retitle the terminal,
    a carriage return over the message) are dropped from the error Tiller shows."""
    fake_server.add(ServerReply(status=400, error_message="\x1b[2J\x1b]0;owned\x07bad\rfake\x9b"))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, make(), model)
    assert [c for c in str(caught.value) if unicodedata.category(c) == "Cc"] == []


@pytest.mark.parametrize(("make", "model"), CHAT_ROUTES)
def test_a_token_count_past_any_float_reads_as_zero_and_the_session_goes_on(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """Usage of 10**400 tokens (valid JSON) is no count: cost and context share are figured
    without an OverflowError out of the engine, and the answer arrives."""
    absurd = "1" + "0" * 400
    usage = f'"usage": {{"prompt_tokens": {absurd}, "completion_tokens": {absurd}}}'
    finish = json.dumps(_chunk({}, "stop"))[:-1] + f", {usage}}}"
    fake_server.add(_sse(_chunk({"role": "assistant", "content": "ok"}), finish, "[DONE]"))
    session = Session(
        model, client=make(), skills_dirs=[], api_base=fake_server.base_url, api_key="sk-test"
    )
    try:
        reply = session.send("hi")
    finally:
        session.close()
    assert (reply.stop_reason, reply.text, reply.usage.input_tokens) == ("completed", "ok", 0)


@pytest.mark.parametrize(("make", "model"), CHAT_ROUTES)
def test_a_stream_cut_before_its_finish_is_an_error_keeping_the_text(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A body that ends cleanly with neither a finish reason nor `[DONE]` (a proxy cut it) is
    no complete reply: the error keeps what streamed instead of passing it off as the answer."""
    fake_server.add(_sse(_chunk({"role": "assistant", "content": "half an ans"})))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, make(), model)
    assert caught.value.partial_text == "half an ans"


def test_a_200_carrying_a_json_error_says_the_providers_message(
    fake_server: FakeOpenAIServer,
) -> None:
    """A 200 whose JSON body is an error (as some proxies send) shows the provider's reason."""
    error = {"error": {"message": "Insufficient credits", "code": 402}}
    fake_server.add(ServerReply(raw_body=json.dumps(error), content_type="application/json"))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, _lean(), "openai/fake-model")
    assert str(caught.value) == "openai/fake-model failed (HTTP 402): Insufficient credits"


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_call_id_another_provider_would_refuse_does_not_end_the_conversation(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A provider's own id format (`functions.read_file:0`, over 40 characters) goes back in
    a form every provider takes: OpenAI and Anthropic refused every later request."""
    odd = "functions.read_file:0" + "x" * 40
    read = json.dumps({"file_path": "a.txt"})
    fake_server.add(
        ServerReply(tool_calls=[("read_file", read)], tool_call_ids=[odd]), ServerReply(text="ok")
    )
    base = fake_server.root_url if model == CLAUDE else fake_server.base_url
    session = Session(model, client=make(), skills_dirs=[], api_base=base, api_key="sk-test")
    try:
        reply = session.send("read a.txt")
    finally:
        session.close()
    assert (reply.stop_reason, reply.text) == ("completed", "ok")


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_made_up_tool_name_does_not_end_the_conversation(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A call to a tool no one has, under a name no provider takes back
    (`multi_tool_use.parallel`), is an unknown tool and the conversation goes on."""
    fake_server.add(
        ServerReply(tool_calls=[("multi_tool_use.parallel", "{}")]), ServerReply(text="ok")
    )
    base = fake_server.root_url if model == CLAUDE else fake_server.base_url
    session = Session(model, client=make(), skills_dirs=[], api_base=base, api_key="sk-test")
    try:
        reply = session.send("go")
    finally:
        session.close()
    assert (reply.stop_reason, reply.text) == ("completed", "ok")
