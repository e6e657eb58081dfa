"""Provider faults on every transport: stalls, dropped connections, odd 200s, bad text.

Each test runs against the local server on the litellm transport (both of its
HTTP paths: the openai SDK for `openai/`, litellm's own handler for
`openrouter/`) and on the lean `openai` transport.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from model_calls import complete_with
from tiller.errors import ProviderError
from tiller.llm import LiteLLMClient
from tiller.model import ModelClient, ModelRequest, ModelResponse
from tiller.openai_http import OpenAIHTTPClient
from tiller.testing import FakeOpenAIServer, ServerReply

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm"),
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
]

# Seconds of silence that count as a stall; the good reply must come sooner even under load.
STALL = 1.0
NEVER = threading.Event()  # a gate nobody opens: the server accepts and stays silent


def _litellm(**kwargs: Any) -> ModelClient:
    return LiteLLMClient(backoff_base=0.001, **kwargs)


def _lean(**kwargs: Any) -> ModelClient:
    return OpenAIHTTPClient(backoff_base=0.001, **kwargs)


# (make a client, model id): litellm through the openai SDK, litellm's own HTTP handler, lean.
TRANSPORTS = [
    pytest.param(_litellm, "openai/fake-model", id="litellm-sdk"),
    pytest.param(_litellm, "openrouter/fake/model", id="litellm-handler"),
    pytest.param(_lean, "openai/fake-model", id="openai"),
]

Make = Callable[..., ModelClient]


def complete(
    server: FakeOpenAIServer, client: ModelClient, model: str, **options: Any
) -> ModelResponse:
    return complete_with(client, server, model=model, **options)


@pytest.mark.parametrize(("make", "model"), TRANSPORTS)
def test_a_provider_that_never_answers_is_a_stall_and_is_retried(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """No byte for stall_timeout: the attempt is hung up, a "Stalled" retry notice, then success."""
    fake_server.add(ServerReply(text="never", gate=NEVER), ServerReply(text="ok"))
    retries: list[str] = []
    response = complete(fake_server, make(stall_timeout=STALL), model, retries=retries)
    hung_up = fake_server.wait_for_hangup(1, timeout=5)
    assert (response.text, [r.split(";")[0] for r in retries], hung_up) == ("ok", ["Stalled"], True)


@pytest.mark.parametrize(("make", "model"), TRANSPORTS)
def test_a_stream_that_stalls_after_text_is_an_error_keeping_the_text(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A stall after text streamed is not retried; the error names the stall and keeps the text."""
    fake_server.add(ServerReply(text="hello world", stall_after=2), ServerReply(text="unused"))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, make(stall_timeout=STALL), model)
    assert (str(caught.value), caught.value.partial_text, len(fake_server.requests)) == (
        f"{model} failed mid-stream: no data from the provider for {STALL:g} s",
        "hell",
        1,
    )


@pytest.mark.parametrize(("make", "model"), TRANSPORTS)
@pytest.mark.parametrize(
    "lost",
    [ServerReply(close_without_reply=True), ServerReply(drop_after=0), ServerReply(drop_after=1)],
    ids=["before-headers", "after-headers", "after-first-event"],
)
def test_a_connection_lost_before_any_text_is_retried_as_connection_lost(
    fake_server: FakeOpenAIServer, make: Make, model: str, lost: ServerReply
) -> None:
    """A connection dropped before text streamed is retried, labelled "Connection lost"."""
    fake_server.add(lost, ServerReply(text="found"))
    retries: list[str] = []
    response = complete(fake_server, make(), model, retries=retries)
    assert (response.text, [r.split(";")[0] for r in retries]) == ("found", ["Connection lost"])


@pytest.mark.parametrize(("make", "model"), TRANSPORTS)
def test_a_connection_lost_after_text_is_an_error_keeping_the_text(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """A drop after text streamed says "connection lost" (no HTTP status) and keeps the text."""
    fake_server.add(ServerReply(text="hello world", drop_after=3), ServerReply(text="unused"))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, make(), model)
    message = str(caught.value)
    assert (
        message.startswith(f"{model} failed mid-stream: connection lost ("),
        "HTTP" in message,
        caught.value.partial_text,
    ) == (True, False, "hello wo")


@pytest.mark.parametrize(("make", "model"), TRANSPORTS)
@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (
            ServerReply(raw_body="<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "The provider answered with HTML, not JSON (a proxy error page?)",
        ),
        (
            ServerReply(raw_body="upstream unavailable", content_type="text/plain"),
            "The provider answered with text/plain, not a chat-completions stream",
        ),
    ],
    ids=["html", "text"],
)
def test_a_200_that_is_not_a_stream_is_a_provider_error(
    fake_server: FakeOpenAIServer, make: Make, model: str, reply: ServerReply, said: str
) -> None:
    """A 200 carrying a web page or plain text is a clear error, not an empty answer."""
    fake_server.add(reply, ServerReply(text="unused"))
    with pytest.raises(ProviderError) as caught:
        complete(fake_server, make(), model)
    assert (str(caught.value), len(fake_server.requests)) == (f"{model} failed: {said}", 1)


@pytest.mark.parametrize(("make", "model"), TRANSPORTS)
def test_lone_surrogates_are_sent_escaped(
    fake_server: FakeOpenAIServer, make: Make, model: str
) -> None:
    """Text that is not UTF-8 (a file name's escaped byte, a stray surrogate) goes out escaped."""
    fake_server.add(ServerReply(text="ok"))
    tool = {
        "type": "function",
        "function": {"name": "read", "description": "read caf\udce9.txt", "parameters": {}},
    }
    call = ModelRequest(
        model,
        [{"role": "user", "content": "open caf\udce9.txt and \ud800"}],
        tools=[tool],
        options={"api_base": fake_server.base_url, "api_key": "sk-test"},
    )
    response = make().complete(call, on_text=print, cancel=threading.Event())
    body = fake_server.requests[0].body
    assert (
        response.text,
        body["messages"][-1]["content"],
        body["tools"][0]["function"]["description"],
    ) == ("ok", "open caf\\xe9.txt and \\ud800", "read caf\\xe9.txt")
