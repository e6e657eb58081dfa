"""Calls reuse their connection on every transport (issue 15: a handshake per round was
~2 ms of CPU on litellm's paths, and a round trip or two against a real provider)."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from model_calls import complete_with, request
from tiller.connection_reuse import DRAIN_BYTES, ReusingTransport
from tiller.llm import LiteLLMClient
from tiller.model import ModelClient
from tiller.openai_http import OpenAIHTTPClient
from tiller.testing import FakeOpenAIServer, ServerReply

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm"),
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
]

CLAUDE = "anthropic/claude-sonnet-4-5"
HANG_GUARD = 30.0  # far below the 120 s stall limit a drain that ignored its own would wait


def _litellm(**kwargs: Any) -> ModelClient:
    return LiteLLMClient(max_retries=0, **kwargs)


def _lean(**kwargs: Any) -> ModelClient:
    return OpenAIHTTPClient(max_retries=0, **kwargs)


# (make a client, model id): native Anthropic through litellm's handler (it stops reading
# at `message_stop`), litellm through the openai SDK (it stops at `[DONE]`), litellm's own
# handler for an OpenAI-compatible provider (it reads on to the body's end), the lean client.
ROUTES = [
    pytest.param(_litellm, CLAUDE, id="litellm-anthropic"),
    pytest.param(_litellm, "openai/fake-model", id="litellm-sdk"),
    pytest.param(_litellm, "openrouter/fake/model", id="litellm-handler"),
    pytest.param(_lean, "openai/fake-model", id="openai"),
]


def complete(server: FakeOpenAIServer, client: ModelClient, model: str) -> str:
    base = server.root_url if model == CLAUDE else server.base_url
    return complete_with(client, server, model=model, api_base=base).text


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_three_calls_share_one_connection(
    fake_server: FakeOpenAIServer, make: Callable[..., ModelClient], model: str
) -> None:
    """Three calls in a row open one connection to the provider, not three."""
    fake_server.add(*(ServerReply(text=f"answer {n}") for n in range(3)))
    client = make()
    for _ in range(3):
        complete(fake_server, client, model)
    assert fake_server.connections_accepted == 1


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_body_left_open_after_its_last_event_costs_the_connection_not_the_call(
    fake_server: FakeOpenAIServer, make: Callable[..., ModelClient], model: str
) -> None:
    """A provider that never ends a finished stream's body: the call returns its answer,
    the connection is hung up, and the next call opens a new one."""
    fake_server.add(ServerReply(text="first", hold_end=True), ServerReply(text="second"))
    client = make(stall_timeout=120.0)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(complete, fake_server, client, model).result(HANG_GUARD)
        second = pool.submit(complete, fake_server, client, model).result(HANG_GUARD)
    hung_up = fake_server.wait_for_hangup(timeout=HANG_GUARD)
    assert (first, second, hung_up, fake_server.connections_accepted) == (
        "first",
        "second",
        True,
        2,
    )


@pytest.mark.parametrize(("make", "model"), ROUTES)
def test_a_body_trickling_on_after_its_last_event_costs_the_connection_not_the_call(
    fake_server: FakeOpenAIServer, make: Callable[..., ModelClient], model: str
) -> None:
    """A provider that keeps sending comment bytes after a finished stream's last event
    (so no read ever times out): the call returns its answer and the connection is hung up."""
    fake_server.add(ServerReply(text="first", trickle_end=0.05), ServerReply(text="second"))
    client = make(stall_timeout=120.0)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(complete, fake_server, client, model).result(HANG_GUARD)
        second = pool.submit(complete, fake_server, client, model).result(HANG_GUARD)
    hung_up = fake_server.wait_for_hangup(timeout=HANG_GUARD)
    assert (first, second, hung_up) == ("first", "second", True)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(transport=ReusingTransport(httpx.HTTPTransport())) as client:
        yield client


def _first_bytes_then_close(http: httpx.Client, server: FakeOpenAIServer) -> bytes:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with http.stream("POST", server.base_url + "/chat/completions", json=body) as response:
        return next(response.iter_raw())  # then closed with the rest unread


def test_a_response_closed_with_its_end_unread_leaves_the_connection_idle(
    fake_server: FakeOpenAIServer, http: httpx.Client
) -> None:
    """Closing a short stream early reads its tail: the next request reuses the connection."""
    fake_server.add(ServerReply(text="short"), ServerReply(text="short"))
    for _ in range(2):
        _first_bytes_then_close(http, fake_server)
    assert fake_server.connections_accepted == 1


class EndlessBody(httpx.SyncByteStream):
    """A response body that never ends, counting what was read of it: like httpcore's
    stream, a new iteration goes on where the last one stopped."""

    PART = 1024

    def __init__(self) -> None:
        self.read = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while not self.closed:
            self.read += self.PART
            yield b"x" * self.PART

    def close(self) -> None:
        self.closed = True


def test_a_response_with_more_than_the_budget_left_is_closed_unread() -> None:
    """A body abandoned with more than `DRAIN_BYTES` left is read no further than that."""
    body = EndlessBody()
    inner = httpx.MockTransport(lambda request: httpx.Response(200, stream=body))
    with (
        httpx.Client(transport=ReusingTransport(inner)) as http,
        http.stream("GET", "http://provider.invalid/") as response,
    ):
        next(response.iter_raw())
    assert (body.closed, body.read <= DRAIN_BYTES + 2 * EndlessBody.PART) == (True, True)


def test_a_hung_up_response_is_not_read_on(fake_server: FakeOpenAIServer) -> None:
    """A cancel's hang-up still ends the call at once: finishing a dead socket fails fast."""
    gate = threading.Event()
    fake_server.add(ServerReply(text="slow " * 50, chunk_delay=0.05), ServerReply(text="next"))
    cancel = threading.Event()
    client = _litellm()
    texts: list[str] = []

    def on_text(text: str) -> None:
        texts.append(text)
        gate.set()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(
            client.complete,
            request(fake_server, model="openai/fake-model"),
            on_text=on_text,
            cancel=cancel,
        )
        gate.wait(HANG_GUARD)
        cancel.set()
        cancelled = call.result(HANG_GUARD).finish_reason
    after = complete(fake_server, client, "openai/fake-model")
    assert (cancelled, fake_server.wait_for_hangup(timeout=HANG_GUARD), after) == (
        "cancelled",
        True,
        "next",
    )


class BytewiseBody(httpx.SyncByteStream):
    """A response body handed over one byte at a time (a provider flushing every byte)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        for index in range(len(self.data)):
            yield self.data[index : index + 1]


def test_an_event_stream_sent_a_byte_at_a_time_ends_at_done_without_its_byte_order_mark() -> None:
    """Split anywhere, the mark opening an event stream is dropped and the body ends for its
    reader right after the `data: [DONE]` event (what follows is no reply)."""
    events = b'data: {"n": "[DONE]"}\n\ndata: [DONE]\n\n'
    body = BytewiseBody(b"\xef\xbb\xbf" + events + b": keep-alive\n" * 4)
    headers = {"content-type": "text/event-stream"}
    inner = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, stream=body))
    with (
        httpx.Client(transport=ReusingTransport(inner)) as http,
        http.stream("GET", "http://provider.invalid/") as response,
    ):
        read = b"".join(response.iter_raw())
    assert read == events
