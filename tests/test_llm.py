"""LiteLLMClient through the real litellm path, against the local fake server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from model_calls import complete_with, request
from tiller.errors import AuthError, ContextOverflowError, ProviderError
from tiller.llm import LiteLLMClient, preload_in_background, provider_key_env
from tiller.model import ModelRequest, ModelResponse, ToolCall, Usage
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

# litellm trips pydantic deprecations on every streamed chunk, and a pydantic schema
# warning about one of its TypedDicts on failure paths; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm"),
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
]


def complete(
    server: FakeOpenAIServer, client: LiteLLMClient | None = None, **options: Any
) -> ModelResponse:
    return complete_with(client or LiteLLMClient(), server, **options)


def test_streamed_text_reassembles_through_on_text(fake_server: FakeOpenAIServer) -> None:
    """Text deltas reach on_text one by one and join into the response text."""
    fake_server.add(ServerReply(text="hello world", chunk_size=4))
    texts: list[str] = []
    response = complete(fake_server, texts=texts)
    assert texts == ["hell", "o wo", "rld"]
    assert (response.text, response.finish_reason, response.tool_calls) == (
        "hello world",
        "stop",
        [],
    )


def test_parallel_tool_calls_assemble_from_split_chunks(fake_server: FakeOpenAIServer) -> None:
    """Two tool calls streamed in pieces come back whole, in order, with their ids."""
    fake_server.add(
        ServerReply(
            text="Reading.",
            tool_calls=[("read", '{"path": "a.py"}'), ("write", '{"path": "b.py"}')],
            chunk_size=3,
        )
    )
    response = complete(fake_server, tools=TOOLS)
    assert response.tool_calls == [
        ToolCall(id="call_1", name="read", arguments='{"path": "a.py"}'),
        ToolCall(id="call_2", name="write", arguments='{"path": "b.py"}'),
    ]
    assert (response.text, response.finish_reason) == ("Reading.", "tool_calls")


def test_request_streams_with_usage_and_sends_tools(fake_server: FakeOpenAIServer) -> None:
    """The request is streamed, asks for usage, carries the tools and the options."""
    fake_server.add(ServerReply(text="ok"))
    complete(fake_server, tools=TOOLS, temperature=0.25)
    body = fake_server.requests[0].body
    assert (body["stream"], body["stream_options"], body["temperature"]) == (
        True,
        {"include_usage": True},
        0.25,
    )
    assert [t["function"]["name"] for t in body["tools"]] == ["read", "write"]


def test_tools_are_omitted_when_empty(fake_server: FakeOpenAIServer) -> None:
    """No tools: the request has no `tools` key at all."""
    fake_server.add(ServerReply(text="ok"))
    complete(fake_server)
    assert "tools" not in fake_server.requests[0].body


def test_empty_tool_arguments_become_an_empty_object(fake_server: FakeOpenAIServer) -> None:
    """A tool call streamed with no arguments is given `{}`."""
    fake_server.add(ServerReply(tool_calls=[("read", "")]))
    assert complete(fake_server, tools=TOOLS).tool_calls[0].arguments == "{}"


def test_usage_counts_cached_tokens(fake_server: FakeOpenAIServer) -> None:
    """Prompt, completion and cached prompt tokens come through; unknown price is None."""
    fake_server.add(ServerReply(text="ok", usage=(1200, 80, 1000)))
    assert complete(fake_server).usage == Usage(1200, 80, 1000, 0, None)


def test_known_model_cost_comes_from_the_bundled_price_map(fake_server: FakeOpenAIServer) -> None:
    """A priced model gets a USD cost, with cached tokens at the cached rate."""
    fake_server.add(ServerReply(text="ok", usage=(1000, 100, 400)))
    usage = complete(fake_server, model="openai/gpt-4o").usage
    # gpt-4o: $2.50 / M input, $1.25 / M cached input, $10 / M output.
    assert usage.cost_usd == pytest.approx(600 * 2.5e-6 + 400 * 1.25e-6 + 100 * 10e-6)


def test_unknown_model_cost_is_none(fake_server: FakeOpenAIServer) -> None:
    """A model missing from the price map costs None, without an error."""
    fake_server.add(ServerReply(text="ok"))
    assert complete(fake_server, model="openai/no-such-model-anywhere").usage.cost_usd is None


def test_401_is_an_auth_error_naming_the_key_and_not_retried(
    fake_server: FakeOpenAIServer,
) -> None:
    """401 raises AuthError naming OPENAI_API_KEY and --model, after exactly one request."""
    fake_server.add(ServerReply(status=401, error_message="Incorrect API key provided"))
    with pytest.raises(AuthError) as caught:
        complete(fake_server)
    assert str(caught.value) == (
        "Authentication failed for openai/fake-model (HTTP 401): Incorrect API key provided; "
        "set OPENAI_API_KEY, or choose another model with --model."
    )
    assert len(fake_server.requests) == 1


def test_403_is_an_auth_error(fake_server: FakeOpenAIServer) -> None:
    """403 raises AuthError too."""
    fake_server.add(ServerReply(status=403, error_message="forbidden"))
    with pytest.raises(AuthError, match="HTTP 403"):
        complete(fake_server)


def test_missing_api_key_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm's own "no key" failure (before any request) becomes AuthError naming the env var."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cancel = threading.Event()
    with pytest.raises(AuthError, match=r"^No API key for openai/gpt-4o; set OPENAI_API_KEY"):
        LiteLLMClient().complete(
            ModelRequest("openai/gpt-4o", [{"role": "user", "content": "hi"}]),
            on_text=print,
            cancel=cancel,
        )


def test_server_errors_are_retried_until_success(fake_server: FakeOpenAIServer) -> None:
    """500 then 503 then success: three requests, two retry notices."""
    fake_server.add(
        ServerReply(status=500, headers=NOW),
        ServerReply(status=503, headers=NOW),
        ServerReply(text="third time"),
    )
    retries: list[str] = []
    response = complete(fake_server, retries=retries)
    assert response.text == "third time"
    assert len(fake_server.requests) == 3
    assert retries == [
        "Server error (500); retrying in 0.0 s (attempt 2/5)",
        "Server error (503); retrying in 0.0 s (attempt 3/5)",
    ]


def test_the_sdk_does_not_retry_behind_our_back(fake_server: FakeOpenAIServer) -> None:
    """With max_retries=0 a 500 costs exactly one request (the openai SDK would make three)."""
    fake_server.add(ServerReply(status=500, error_message="boom"))
    with pytest.raises(ProviderError, match=r"^openai/fake-model failed \(HTTP 500\): boom$"):
        complete(fake_server, LiteLLMClient(max_retries=0))
    assert len(fake_server.requests) == 1


def test_retries_are_bounded(fake_server: FakeOpenAIServer) -> None:
    """After max_retries the last failure is raised, with the attempt count."""
    fake_server.default = ServerReply(status=502, error_message="bad gateway", headers=NOW)
    with pytest.raises(ProviderError, match=r"failed \(HTTP 502\) after 3 attempts: bad gateway"):
        complete(fake_server, LiteLLMClient(max_retries=2))
    assert len(fake_server.requests) == 3


def test_refused_connections_are_retried() -> None:
    """Nothing listening: each attempt is a "Connection failed" retry, then ProviderError."""
    with FakeOpenAIServer() as server:
        closed = request(server)  # the port is free again once the server stops
    retries: list[str] = []
    with pytest.raises(ProviderError, match="after 2 attempts: Connection error"):
        LiteLLMClient(max_retries=1, backoff_base=0.001).complete(
            closed, on_text=print, cancel=threading.Event(), on_retry=retries.append
        )
    assert [r.split(";")[0] for r in retries] == ["Connection failed"]


def test_timeouts_are_retried(fake_server: FakeOpenAIServer) -> None:
    """A reply slower than the request timeout is retried as "Timed out"."""
    fake_server.add(ServerReply(text="late", delay=5), ServerReply(text="on time"))
    retries: list[str] = []
    response = complete(
        fake_server, LiteLLMClient(backoff_base=0.001), retries=retries, timeout=0.2
    )
    assert response.text == "on time"
    assert [r.split(";")[0] for r in retries] == ["Timed out"]


def test_429_honours_retry_after(fake_server: FakeOpenAIServer) -> None:
    """Retry-After replaces the computed backoff (which would be ~60 s here)."""
    fake_server.add(ServerReply(status=429, headers=NOW), ServerReply(text="ok"))
    retries: list[str] = []
    response = complete(fake_server, LiteLLMClient(backoff_base=60), retries=retries)
    assert response.text == "ok"
    assert retries == ["Rate limited (429); retrying in 0.0 s (attempt 2/5)"]


def test_retry_after_is_reported_and_capped(fake_server: FakeOpenAIServer) -> None:
    """The retry notice states the provider's wait, capped at backoff_max."""
    fake_server.add(ServerReply(status=429, headers={"Retry-After": "7"}), ServerReply(text="ok"))
    capped: list[str] = []
    complete(fake_server, LiteLLMClient(backoff_max=0.01), retries=capped)
    assert capped == ["Rate limited (429); retrying in 0.0 s (attempt 2/5)"]
    fake_server.add(ServerReply(status=429, headers={"Retry-After": "7"}))
    cancel = threading.Event()
    honoured: list[str] = []

    def on_retry(message: str) -> None:
        honoured.append(message)
        cancel.set()

    LiteLLMClient().complete(request(fake_server), on_text=print, cancel=cancel, on_retry=on_retry)
    assert honoured == ["Rate limited (429); retrying in 7.0 s (attempt 2/5)"]


def test_cancel_interrupts_a_backoff_wait(fake_server: FakeOpenAIServer) -> None:
    """A cancel during the wait before a retry returns "cancelled" at once, without retrying."""
    fake_server.add(ServerReply(status=503, headers={"Retry-After": "30"}))
    cancel = threading.Event()
    pressed: list[float] = []

    def on_retry(message: str) -> None:
        pressed.append(time.monotonic())
        cancel.set()

    response = LiteLLMClient().complete(
        request(fake_server), on_text=print, cancel=cancel, on_retry=on_retry
    )
    assert (response.finish_reason, len(fake_server.requests)) == ("cancelled", 1)
    assert time.monotonic() - pressed[0] < 2.0  # the wait would be 30 s


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "Invalid value for 'temperature'"), (404, "The model does not exist")],
)
def test_client_errors_are_not_retried(
    fake_server: FakeOpenAIServer, status: int, message: str
) -> None:
    """400 and 404 raise ProviderError with a one-line message after one request."""
    fake_server.add(ServerReply(status=status, error_message=message))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server)
    assert type(caught.value) is ProviderError
    assert str(caught.value) == f"openai/fake-model failed (HTTP {status}): {message}"
    assert len(fake_server.requests) == 1


def test_context_overflow_is_its_own_error(fake_server: FakeOpenAIServer) -> None:
    """A context-length 400 raises ContextOverflowError, not retried."""
    fake_server.add(
        ServerReply(
            status=400,
            error_message="This model's maximum context length is 8192 tokens. "
            "However, your messages resulted in 9000 tokens.",
        )
    )
    with pytest.raises(ContextOverflowError, match="maximum context length is 8192"):
        complete(fake_server)
    assert len(fake_server.requests) == 1


def test_failure_after_text_is_not_retried(fake_server: FakeOpenAIServer) -> None:
    """A stream that dies after text was shown raises instead of repeating the text."""
    fake_server.add(ServerReply(text="hello world", drop_after=3), ServerReply(text="unused"))
    texts: list[str] = []
    with pytest.raises(ProviderError, match="mid-stream"):
        complete(fake_server, texts=texts)
    assert texts == ["hell", "o wo"]
    assert len(fake_server.requests) == 1


def test_failure_before_text_is_retried(fake_server: FakeOpenAIServer) -> None:
    """A stream that dies before any text is retried from scratch."""
    fake_server.add(ServerReply(text="lost", drop_after=1), ServerReply(text="found"))
    retries: list[str] = []
    response = complete(fake_server, LiteLLMClient(backoff_base=0.001), retries=retries)
    assert response.text == "found"
    assert len(retries) == 1


@pytest.mark.parametrize("model", ["openai/fake-model", "openrouter/fake/model"])
def test_cancel_mid_stream_returns_promptly_and_hangs_up(
    fake_server: FakeOpenAIServer, model: str
) -> None:
    """A cancel while the provider is silent returns "cancelled" and hangs up within 1 s.

    openai/ streams through the openai SDK, openrouter/ through litellm's own HTTP handler.
    """
    client = LiteLLMClient()
    fake_server.add(ServerReply(text="warm"))
    complete(fake_server, client, model=model)  # the import and first call stay untimed
    fake_server.add(ServerReply(text="x" * 40, chunk_size=4, chunk_delay=5))
    cancel = threading.Event()
    pressed: list[float] = []

    def on_text(text: str) -> None:
        pressed.append(time.monotonic())
        cancel.set()  # Esc; the next chunk is 5 s away

    response = client.complete(request(fake_server, model), on_text=on_text, cancel=cancel)
    hung_up = fake_server.wait_for_hangup(1, timeout=5)
    assert (response.text, response.finish_reason, hung_up) == ("xxxx", "cancelled", True)
    assert time.monotonic() - pressed[0] < 1.0  # returned and hung up, not 5 s later


@pytest.mark.parametrize("model", ["deepinfra/meta/llama", "groq/llama", "xai/grok"])
def test_every_litellm_route_answers_once_and_hangs_up_on_cancel(
    fake_server: FakeOpenAIServer, model: str
) -> None:
    """OpenAI-compatible providers, however litellm routes them, answer and hang up on cancel."""
    client = LiteLLMClient()
    fake_server.add(ServerReply(text="hello"))
    first = complete(fake_server, client, model=model)
    fake_server.add(ServerReply(text="x" * 40, chunk_size=4, chunk_delay=5))
    cancel = threading.Event()
    second = client.complete(
        request(fake_server, model), on_text=lambda _: cancel.set(), cancel=cancel
    )
    assert (first.text, second.finish_reason, len(fake_server.requests)) == (
        "hello",
        "cancelled",
        2,
    )
    assert fake_server.wait_for_hangup(1, timeout=5)


def test_cancel_before_the_first_byte_returns_promptly(fake_server: FakeOpenAIServer) -> None:
    """A cancel while the provider has sent nothing yet still returns at once."""
    gate = threading.Event()
    fake_server.add(ServerReply(text="never", gate=gate))
    cancel = threading.Event()
    result: list[ModelResponse] = []
    caller = threading.Thread(
        target=lambda: result.append(
            LiteLLMClient().complete(request(fake_server), on_text=print, cancel=cancel)
        )
    )
    caller.start()
    assert fake_server.held()
    started = time.monotonic()
    cancel.set()
    caller.join(2)
    gate.set()
    assert time.monotonic() - started < 1.0
    assert result[0].finish_reason == "cancelled"
    assert result[0].text == ""


def test_litellm_stays_quiet_on_failures(
    fake_server: FakeOpenAIServer, capfd: pytest.CaptureFixture[str]
) -> None:
    """Failures print nothing to the terminal (litellm's logging is silenced)."""
    fake_server.add(ServerReply(status=500), ServerReply(status=400))
    with pytest.raises(ProviderError):
        complete(fake_server, LiteLLMClient(max_retries=1, backoff_base=0.001))
    assert capfd.readouterr() == ("", "")


def test_context_window_comes_from_the_model_map() -> None:
    """Known models report their input window; unknown ones None, without raising."""
    client = LiteLLMClient()
    assert client.context_window("anthropic/claude-sonnet-4-5") == 200_000
    assert client.context_window("openai/no-such-model-anywhere") is None


@pytest.mark.parametrize(
    ("model", "env"),
    [
        ("anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("openai/gpt-5", "OPENAI_API_KEY"),
        ("openrouter/anthropic/claude-sonnet-4.5", "OPENROUTER_API_KEY"),
        ("gemini/gemini-2.5-pro", "GEMINI_API_KEY"),
        ("gpt-4o", "OPENAI_API_KEY"),
        ("claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("ollama_chat/qwen3", None),
        ("hosted_vllm/llama", None),
    ],
)
def test_provider_key_env(model: str, env: str | None) -> None:
    """Each provider's API-key variable is known; local servers need none."""
    assert provider_key_env(model) == env


def test_import_does_not_load_litellm() -> None:
    """`import tiller.llm` leaves litellm unimported (it costs seconds)."""
    code = "import tiller.llm, sys; assert 'litellm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_preload_in_background_is_idempotent() -> None:
    """Preloading twice gives one thread; afterwards litellm is imported."""
    first = preload_in_background()
    assert preload_in_background() is first
    first.join(30)
    assert "litellm" in sys.modules


@pytest.mark.parametrize(
    ("model", "options", "env", "expected"),
    [
        ("openai/gpt-5", {}, {}, "OPENAI_API_KEY"),
        ("openai/gpt-5", {"api_key": "sk-x"}, {}, None),
        ("openai/gpt-5", {}, {"OPENAI_API_KEY": "sk-x"}, None),
        ("ollama_chat/qwen3", {}, {}, None),
    ],
)
def test_missing_key_env(monkeypatch, model, options, env, expected) -> None:
    """missing_key_env names the variable only when no key can reach the provider."""
    from tiller.llm import missing_key_env

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert missing_key_env(model, options) == expected


LOADING = """
import sys
from tiller.events import EventKind
from tiller.session import Session
from tiller.testing import FakeOpenAIServer, ServerReply

with FakeOpenAIServer() as server:
    server.add(ServerReply(text="one"), ServerReply(text="two"))
    session = Session(
        "openai/fake-model", files={}, skills_dirs=[], transport="litellm",
        api_base=server.base_url, api_key="sk-test",
    )
    kinds = []
    session.subscribe(lambda event: kinds.append(event.kind))
    for prompt in ("a", "b"):
        session.send(prompt)
        loading = [k for k in kinds if k is EventKind.MODEL_CLIENT_LOADING]
        first = kinds.index(EventKind.ASSISTANT_TEXT_START)
        print(len(loading), bool(loading) and kinds.index(loading[0]) < first, end=" ")
        kinds.clear()
    session.close()
"""


@pytest.mark.slow
def test_first_call_says_it_waits_for_litellm(tmp_path: Any) -> None:
    """Only a call that must wait for litellm's import emits MODEL_CLIENT_LOADING, before text."""
    env = {**os.environ, "TILLER_CONFIG_DIR": str(tmp_path), "TILLER_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", LOADING], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["1", "True", "0", "False"]


DOTENV = """
import os
from tiller.llm import preload_in_background

preload_in_background(warm=False).join()
import litellm  # loaded by the preload: the check below is about what it left behind

print(os.environ.get("TILLER_PROBE_FROM_DOTENV"))
"""


@pytest.mark.slow
def test_loading_litellm_reads_no_dotenv_from_the_workspace(tmp_path: Any) -> None:
    """A `.env` in the current directory stays out of the environment when litellm loads."""
    (tmp_path / ".env").write_text("TILLER_PROBE_FROM_DOTENV=leaked\n")
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_MODE"}
    done = subprocess.run(
        [sys.executable, "-c", DOTENV], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert (done.returncode, done.stdout.strip()) == (0, "None")


CANCEL_WHILE_LOADING = """
import os, sys, threading
from tiller.llm import LiteLLMClient, loaded
from tiller.model import ModelRequest

cancel = threading.Event()
# The import event fires in the importing thread as litellm's import begins.
sys.addaudithook(lambda event, args: event == "import" and args[0] == "litellm" and cancel.set())
request = ModelRequest("openai/fake", [{"role": "user", "content": "hi"}])
reply = LiteLLMClient().complete(request, on_text=print, cancel=cancel)
print(reply.finish_reason, loaded(), flush=True)
os._exit(0)  # the import goes on in a daemon thread
"""


@pytest.mark.slow
def test_a_cancel_while_litellm_loads_returns_before_the_import_ends(tmp_path: Any) -> None:
    """The first call waits out litellm's import (seconds) cancellably: a cancel returns at once."""
    env = {**os.environ, "TILLER_CONFIG_DIR": str(tmp_path), "TILLER_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", CANCEL_WHILE_LOADING], capture_output=True, text=True, env=env
    )
    assert (done.returncode, done.stdout.split()) == (0, ["cancelled", "False"])
