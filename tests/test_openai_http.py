"""OpenAIHTTPClient (the lean `openai` transport) against the local fake server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from model_calls import complete_with, request
from tiller import Session
from tiller.connection_reuse import EVENT_TOO_BIG
from tiller.errors import AuthError, ContextOverflowError, ProviderError
from tiller.model import ModelRequest, ModelResponse, ToolCall, Usage
from tiller.openai_http import OpenAIHTTPClient
from tiller.testing import FakeOpenAIServer, ServerReply

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
    for name in ("read", "write")
]
NOW = {"Retry-After": "0"}


def complete(
    server: FakeOpenAIServer, client: OpenAIHTTPClient | None = None, **options: Any
) -> ModelResponse:
    return complete_with(client or OpenAIHTTPClient(), server, **options)


def test_streamed_text_reaches_on_text_chunk_by_chunk(fake_server: FakeOpenAIServer) -> None:
    """Text deltas reach on_text one by one."""
    fake_server.add(ServerReply(text="hello world", chunk_size=4))
    texts: list[str] = []
    complete(fake_server, texts=texts)
    assert texts == ["hell", "o wo", "rld"]


def test_streamed_text_joins_into_the_response(fake_server: FakeOpenAIServer) -> None:
    """The response carries the whole text and the finish reason."""
    fake_server.add(ServerReply(text="hello world", chunk_size=4))
    response = complete(fake_server)
    assert (response.text, response.finish_reason, response.tool_calls) == (
        "hello world",
        "stop",
        [],
    )


def test_tool_calls_assemble_from_split_chunks(fake_server: FakeOpenAIServer) -> None:
    """Two tool calls streamed in pieces come back whole, in order, with their ids."""
    fake_server.add(
        ServerReply(tool_calls=[("read", '{"path": "a.py"}'), ("write", '{"path": "b.py"}')])
    )
    response = complete(fake_server, tools=TOOLS)
    assert (response.tool_calls, response.finish_reason) == (
        [
            ToolCall(id="call_1", name="read", arguments='{"path": "a.py"}'),
            ToolCall(id="call_2", name="write", arguments='{"path": "b.py"}'),
        ],
        "tool_calls",
    )


def test_request_body_is_what_the_endpoint_expects(fake_server: FakeOpenAIServer) -> None:
    """Model without its prefix, streamed with usage, tools and options; no transport key."""
    fake_server.add(ServerReply(text="ok"))
    complete(fake_server, tools=TOOLS, temperature=0.25, transport="openai")
    body = fake_server.requests[0].body
    assert {k: v for k, v in body.items() if k not in ("messages", "tools")} == {
        "model": "fake-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.25,
    }


def test_api_key_goes_in_the_authorization_header(fake_server: FakeOpenAIServer) -> None:
    """The api_key option is sent as a bearer token."""
    fake_server.add(ServerReply(text="ok"))
    complete(fake_server)
    assert fake_server.requests[0].headers["Authorization"] == "Bearer sk-test"


def test_usage_counts_cached_tokens(fake_server: FakeOpenAIServer) -> None:
    """Prompt, completion and cached prompt tokens come through; unknown price is None."""
    fake_server.add(ServerReply(text="ok", usage=(1200, 80, 1000)))
    assert complete(fake_server).usage == Usage(1200, 80, 1000, 0, None)


def test_cancel_mid_stream_returns_promptly_and_hangs_up(fake_server: FakeOpenAIServer) -> None:
    """A cancel while the endpoint is silent returns "cancelled" and hangs up within 1 s."""
    client = OpenAIHTTPClient()
    fake_server.add(ServerReply(text="warm"))
    complete(fake_server, client)  # the first call's set-up stays untimed
    # The server holds the second chunk for 5 s; only a hang-up ends the response early.
    fake_server.add(ServerReply(text="x" * 40, chunk_size=4, chunk_delay=5))
    cancel = threading.Event()
    pressed: list[float] = []

    def on_text(text: str) -> None:
        pressed.append(time.monotonic())
        cancel.set()

    response = client.complete(request(fake_server), on_text=on_text, cancel=cancel)
    hung_up = fake_server.wait_for_hangup(1, timeout=5)
    assert (response.text, response.finish_reason, hung_up) == ("xxxx", "cancelled", True)
    assert time.monotonic() - pressed[0] < 1.0  # returned and hung up, not 5 s later


def test_cancel_before_the_first_byte_returns_promptly(fake_server: FakeOpenAIServer) -> None:
    """A cancel while the server holds the reply (nothing sent yet) returns at once."""
    gate = threading.Event()
    fake_server.add(ServerReply(text="never", gate=gate))
    cancel = threading.Event()
    result: list[ModelResponse] = []
    caller = threading.Thread(
        target=lambda: result.append(
            OpenAIHTTPClient().complete(request(fake_server), on_text=print, cancel=cancel)
        )
    )
    caller.start()
    assert fake_server.held()
    cancel.set()
    caller.join(2)
    gate.set()
    assert [(r.text, r.finish_reason) for r in result] == [("", "cancelled")]


def test_server_errors_are_retried_until_success(fake_server: FakeOpenAIServer) -> None:
    """500 then 503 then success: two retry notices, then the answer."""
    fake_server.add(
        ServerReply(status=500, headers=NOW),
        ServerReply(status=503, headers=NOW),
        ServerReply(text="third time"),
    )
    retries: list[str] = []
    response = complete(fake_server, retries=retries)
    assert (response.text, retries) == (
        "third time",
        [
            "Server error (500); retrying in 0.0 s (attempt 2/5)",
            "Server error (503); retrying in 0.0 s (attempt 3/5)",
        ],
    )


def test_429_honours_retry_after(fake_server: FakeOpenAIServer) -> None:
    """Retry-After replaces the computed backoff (which would be ~60 s here)."""
    fake_server.add(ServerReply(status=429, headers=NOW), ServerReply(text="ok"))
    retries: list[str] = []
    complete(fake_server, OpenAIHTTPClient(backoff_base=60), retries=retries)
    assert retries == ["Rate limited (429); retrying in 0.0 s (attempt 2/5)"]


def test_retry_after_seconds_are_reported(fake_server: FakeOpenAIServer) -> None:
    """The retry notice states the provider's wait (cancelled during that wait)."""
    fake_server.add(ServerReply(status=429, headers={"Retry-After": "7"}))
    cancel = threading.Event()
    notices: list[str] = []

    def on_retry(message: str) -> None:
        notices.append(message)
        cancel.set()

    OpenAIHTTPClient().complete(
        request(fake_server), on_text=print, cancel=cancel, on_retry=on_retry
    )
    assert notices == ["Rate limited (429); retrying in 7.0 s (attempt 2/5)"]


def test_retries_are_bounded(fake_server: FakeOpenAIServer) -> None:
    """After max_retries the last failure is raised, with the attempt count."""
    fake_server.default = ServerReply(status=502, error_message="bad gateway", headers=NOW)
    with pytest.raises(ProviderError, match=r"failed \(HTTP 502\) after 3 attempts: bad gateway"):
        complete(fake_server, OpenAIHTTPClient(max_retries=2))


def test_failure_after_text_is_not_retried(fake_server: FakeOpenAIServer) -> None:
    """A stream that dies after text was shown raises instead of repeating the text."""
    fake_server.add(ServerReply(text="hello world", drop_after=3), ServerReply(text="unused"))
    with pytest.raises(ProviderError, match="mid-stream"):
        complete(fake_server)


def test_failure_before_text_is_retried(fake_server: FakeOpenAIServer) -> None:
    """A stream that dies before any text is retried from scratch."""
    fake_server.add(ServerReply(text="lost", drop_after=1), ServerReply(text="found"))
    assert complete(fake_server, OpenAIHTTPClient(backoff_base=0.001)).text == "found"


def test_401_is_an_auth_error_naming_the_key(fake_server: FakeOpenAIServer) -> None:
    """401 raises AuthError naming OPENAI_API_KEY and --model."""
    fake_server.add(ServerReply(status=401, error_message="Incorrect API key provided"))
    with pytest.raises(AuthError) as caught:
        complete(fake_server)
    assert str(caught.value) == (
        "Authentication failed for openai/fake-model (HTTP 401): Incorrect API key provided; "
        "set OPENAI_API_KEY, or choose another model with --model."
    )


def test_missing_key_for_the_public_api_is_an_auth_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No key and OpenRouter's own endpoint: AuthError naming OPENROUTER_API_KEY, no request."""
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(AuthError, match=r"^No API key for openrouter/x/y; set OPENROUTER_API_KEY"):
        OpenAIHTTPClient().complete(
            ModelRequest("openrouter/x/y", [{"role": "user", "content": "hi"}]),
            on_text=print,
            cancel=threading.Event(),
        )


def test_context_overflow_is_its_own_error(fake_server: FakeOpenAIServer) -> None:
    """A context-length 400 raises ContextOverflowError."""
    fake_server.add(
        ServerReply(
            status=400,
            error_message="This model's maximum context length is 8192 tokens. "
            "However, your messages resulted in 9000 tokens.",
        )
    )
    with pytest.raises(ContextOverflowError, match="maximum context length is 8192"):
        complete(fake_server)


def test_client_errors_are_not_retried(fake_server: FakeOpenAIServer) -> None:
    """A 404 raises a plain ProviderError with the endpoint's message, after one request."""
    fake_server.add(ServerReply(status=404, error_message="The model does not exist"))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server)
    assert (str(caught.value), len(fake_server.requests)) == (
        "openai/fake-model failed (HTTP 404): The model does not exist",
        1,
    )


def test_refused_connection_is_a_provider_error() -> None:
    """Nothing listening: "Connection failed" retries, then ProviderError."""
    with FakeOpenAIServer() as server:
        closed = request(server)  # the port is free again once the server stops
    with pytest.raises(ProviderError, match="after 2 attempts: Connection error"):
        OpenAIHTTPClient(max_retries=1, backoff_base=0.001).complete(
            closed, on_text=print, cancel=threading.Event()
        )


def test_timeouts_are_retried(fake_server: FakeOpenAIServer) -> None:
    """A reply slower than the request timeout is retried as "Timed out"."""
    fake_server.add(ServerReply(text="late", delay=5), ServerReply(text="on time"))
    retries: list[str] = []
    complete(fake_server, OpenAIHTTPClient(backoff_base=0.001), retries=retries, timeout=0.2)
    assert [r.split(";")[0] for r in retries] == ["Timed out"]


def test_context_window_comes_from_litellms_bundled_map() -> None:
    """A model litellm's JSON map lists has its window; an unknown one has none."""
    client = OpenAIHTTPClient()
    assert (client.context_window("openai/gpt-4o"), client.context_window("openai/m")) == (
        128000,
        None,
    )


def test_session_round_trip_with_a_tool_call(fake_server: FakeOpenAIServer) -> None:
    """transport="openai": a tool call runs, its result goes back, the answer comes home."""
    fake_server.add(
        ServerReply(tool_calls=[("read_file", json.dumps({"file_path": "a.txt"}))]),
        ServerReply(text="It says hi."),
    )
    session = Session(
        "openai/fake-model",
        api_base=fake_server.base_url,
        api_key="sk-test",
        transport="openai",
        skills_dirs=[],
        files={"a.txt": "hi\n"},
    )
    reply = session.send("read a.txt")
    tool_result = fake_server.requests[1].body["messages"][-1]
    assert (reply.text, reply.rounds, tool_result["role"], "hi" in tool_result["content"]) == (
        "It says hi.",
        2,
        "tool",
        True,
    )


def test_session_with_the_openai_transport_never_imports_litellm() -> None:
    """The lean path leaves litellm unloaded (its import alone costs seconds)."""
    code = (
        "import sys, threading\n"
        "from tiller import Session\n"
        "from tiller.testing import FakeOpenAIServer, ServerReply\n"
        "with FakeOpenAIServer([ServerReply(text='ok')]) as server:\n"
        "    s = Session('openai/m', api_base=server.base_url, api_key='k', transport='openai',"
        " skills_dirs=[])\n"
        "    assert s.send('hi').text == 'ok'\n"
        "print('litellm' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_default_transport_prices_a_known_model_without_importing_litellm() -> None:
    """auto on `openai/gpt-4o`: lean client, cost and window from the JSON map, no litellm."""
    code = (
        "import sys\n"
        "from tiller import Session\n"
        "from tiller.testing import FakeOpenAIServer, ServerReply\n"
        "with FakeOpenAIServer([ServerReply(text='ok', usage=(100, 10, 0))]) as server:\n"
        "    s = Session('openai/gpt-4o', api_base=server.base_url, api_key='k', skills_dirs=[])\n"
        "    s.send('hi')\n"
        "    print(s.transport, round(s.usage.cost_usd, 9), s.context_window)\n"
        "    s.close()\n"
        "print('litellm' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [
        "openai",
        str(round(100 * 2.5e-6 + 10 * 1e-5, 9)),
        "128000",
        "False",
    ]


def test_a_stream_event_that_never_ends_is_refused_past_its_size_limit(
    fake_server: FakeOpenAIServer,
) -> None:
    """An event line that goes on and on fails the call once it passes `MAX_EVENT_BYTES`
    (memory stays bounded), read in linear time (no re-joining of all that came so far)."""
    fake_server.add(ServerReply(endless_line=1 << 20))
    with pytest.raises(ProviderError) as caught:
        complete_with(OpenAIHTTPClient(max_retries=0), fake_server)
    assert str(caught.value) == f"openai/fake-model failed: {EVENT_TOO_BIG}"
