"""Prices and context windows read from litellm's bundled JSON map (no litellm import)."""

from __future__ import annotations

import pytest

from tiller import model_map
from tiller.model import Usage


def test_the_map_is_found_inside_the_installed_litellm() -> None:
    """The JSON file is located through the package spec and exists."""
    path = model_map.map_path()
    assert (path is not None and path.name) == model_map.MAP_FILE


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("openai/gpt-4o", 128000),
        ("gpt-4o", 128000),
        ("anthropic/claude-sonnet-4-5", 200000),
        ("openrouter/anthropic/claude-sonnet-4.5", 200000),
        ("openai/fake-model", None),
    ],
)
def test_context_window_by_model(model: str, window: int | None) -> None:
    """Prefixed, bare and OpenRouter names find the map's entry; unknown ones none."""
    assert model_map.context_window(model) == window


def test_cache_reads_and_writes_are_priced_at_their_own_rates() -> None:
    """Claude: 100 plain input, 300 read, 600 written, 10 out at the map's four prices."""
    usage = Usage(
        input_tokens=1000, output_tokens=10, cache_read_tokens=300, cache_write_tokens=600
    )
    expected = 100 * 3e-6 + 300 * 3e-7 + 600 * 3.75e-6 + 10 * 1.5e-5
    assert round(model_map.cost("claude-sonnet-4-5", usage) or 0, 12) == round(expected, 12)


def test_an_unknown_model_has_no_price() -> None:
    """A model the map does not list costs None (shown as unknown), never 0."""
    assert model_map.cost("openai/fake-model", Usage(input_tokens=5, output_tokens=5)) is None


@pytest.mark.parametrize(
    ("model", "expected"), [("openai/gpt-5", True), ("openai/gpt-4o", False), ("x/y", None)]
)
def test_reasoning_support_by_model(model: str, expected: bool | None) -> None:
    """The map says which models reason; it says nothing about models it lacks."""
    assert model_map.supports_reasoning(model) is expected
