"""Where a litellm stream ends: at the finish chunk on native Anthropic, unless litellm
has a callback that must see the whole call (issue 15, CPU per round)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from model_calls import complete_with
from tiller.llm import LiteLLMClient, _StreamPump, preload_in_background
from tiller.testing import FakeOpenAIServer, ServerReply

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm"),
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
]

CLAUDE = "anthropic/claude-sonnet-4-5"


def chunk(finish: str | None) -> Any:
    return SimpleNamespace(choices=[SimpleNamespace(finish_reason=finish)])


def drain(pump: _StreamPump) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    while not items or items[-1][0] == "chunk":
        item = pump.get(threading.Event(), 10.0)
        assert item is not None
        items.append(item)
    return items


def test_the_pump_stops_pulling_after_the_last_chunk() -> None:
    """After the chunk `last` accepts, the stream is closed and never resumed."""
    resumed: list[str] = []
    first, finish = chunk(None), chunk("stop")

    def stream() -> Iterator[Any]:
        try:
            yield first
            yield finish
            resumed.append("after the finish chunk")
        except GeneratorExit:
            resumed.append("closed")
            raise

    pump = _StreamPump(stream, last=lambda c: c.choices[0].finish_reason is not None)
    items = drain(pump)
    pump._thread.join(10)
    assert (items, resumed) == ([("chunk", first), ("chunk", finish), ("end", None)], ["closed"])


def test_without_last_the_pump_reads_to_the_end() -> None:
    """With no `last`, every chunk the stream yields is handed over."""
    chunks = [chunk("stop"), chunk(None)]
    items = drain(_StreamPump(lambda: iter(chunks)))
    assert items == [("chunk", chunks[0]), ("chunk", chunks[1]), ("end", None)]


def test_an_anthropic_call_ending_early_keeps_usage_and_cost(
    fake_server: FakeOpenAIServer,
) -> None:
    """Ending at the finish chunk still gives the stream's usage and its cost."""
    fake_server.add(ServerReply(text="hello there", chunk_size=4, usage=(120, 7, 100)))
    response = complete_with(
        LiteLLMClient(max_retries=0), fake_server, model=CLAUDE, api_base=fake_server.root_url
    )
    usage = response.usage
    assert (response.text, response.finish_reason) == ("hello there", "stop")
    assert (usage.output_tokens, usage.cost_usd is not None and usage.cost_usd > 0) == (7, True)


def test_an_anthropic_call_asking_for_a_usage_chunk_reads_it(
    fake_server: FakeOpenAIServer,
) -> None:
    """With `stream_options` given, the usage chunk after the finish chunk is still read."""
    fake_server.add(ServerReply(text="hello there", chunk_size=4, usage=(120, 7, 100)))
    response = complete_with(
        LiteLLMClient(max_retries=0),
        fake_server,
        model=CLAUDE,
        api_base=fake_server.root_url,
        stream_options={"include_usage": True},
    )
    assert (response.text, response.usage.output_tokens) == ("hello there", 7)


def test_a_litellm_success_callback_still_sees_the_whole_call(
    fake_server: FakeOpenAIServer,
) -> None:
    """A success callback registered with litellm gets the assembled response."""
    # Imported as Tiller imports it (with the local price map, no fetch at import).
    preload_in_background(warm=False).join()
    import litellm

    seen: list[str] = []
    called = threading.Event()

    def on_success(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        seen.append(response.choices[0].message.content)
        called.set()

    fake_server.add(ServerReply(text="hello there", chunk_size=4))
    previous = litellm.success_callback
    litellm.success_callback = [on_success]
    try:
        complete_with(
            LiteLLMClient(max_retries=0), fake_server, model=CLAUDE, api_base=fake_server.root_url
        )
        assert called.wait(10)
    finally:
        litellm.success_callback = previous
    assert seen == ["hello there"]
