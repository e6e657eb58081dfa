"""Prices, context windows and reasoning support from litellm's bundled model map.

litellm ships its price and context-window map as JSON inside the package
(`model_prices_and_context_window_backup.json`). The lean transport reads that
file directly, once and lazily (~30 ms), so it can price a call and size the
context window without importing litellm (~3 s). A model the map does not know
has no price and no window: None, shown as "unknown" / "$?".
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

from tiller.model import Usage

__all__ = [
    "context_window",
    "cost",
    "load_in_background",
    "lookup",
    "map_path",
    "supports_reasoning",
]

MAP_FILE = "model_prices_and_context_window_backup.json"
# Prefixes litellm writes in front of a model the map lists by its bare name.
_STRIPPED = (
    "openai",
    "openrouter",
    "hosted_vllm",
    "lm_studio",
    "llamafile",
    "text-completion-openai",
)

_lock = threading.Lock()
_entries: dict[str, dict[str, Any]] | None = None
_found: dict[str, dict[str, Any] | None] = {}


def map_path() -> Path | None:
    """Where the installed litellm keeps its map (found without importing litellm)."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / MAP_FILE
        if path.is_file():
            return path
    return None


def _load() -> dict[str, dict[str, Any]]:
    global _entries
    with _lock:
        if _entries is None:
            path = map_path()
            try:
                data = json.loads(path.read_bytes()) if path is not None else {}
            except (OSError, ValueError):
                data = {}  # a damaged install prices nothing rather than failing a call
            _entries = {k: v for k, v in data.items() if isinstance(v, dict)}
        return _entries


def load_in_background() -> None:
    """Start reading the map on a daemon thread, so the first call's price is ready."""
    if _entries is None:
        threading.Thread(target=_load, name="tiller-model-map", daemon=True).start()


def _candidates(model: str) -> list[str]:
    """Names to try for `model`, most specific first (`openai/gpt-4o`, then `gpt-4o`)."""
    names = [model]
    provider, _, rest = model.partition("/")
    if rest:  # the map lists most models by their bare name (`gpt-4o`, `claude-sonnet-4-5`)
        names.append(rest)
        if provider == "openrouter":
            # OpenRouter names a model `vendor/name`, with dots where the map has dashes.
            _vendor, _, name = rest.partition("/")
            if name:
                names += [name, name.replace(".", "-")]
    return names


def lookup(model: str) -> dict[str, Any] | None:
    """The map's entry for `model`, or None when litellm's map does not list it."""
    if model not in _found:
        entries = _load()
        _found[model] = next((entries[n] for n in _candidates(model) if n in entries), None)
    return _found[model]


def context_window(model: str) -> int | None:
    """The model's input window in tokens; None when unknown."""
    entry = lookup(model)
    value = entry and (entry.get("max_input_tokens") or entry.get("max_tokens"))
    return int(value) if isinstance(value, int | float) and value > 0 else None


def supports_reasoning(model: str) -> bool | None:
    """Whether the model takes a reasoning setting; None when the map does not say."""
    entry = lookup(model)
    if entry is None:
        return None
    return bool(entry.get("supports_reasoning", False))


def cost(model: str, usage: Usage) -> float | None:
    """USD for one call's `usage` at the map's prices; None when the model has no price.

    `usage.input_tokens` counts cached tokens too: cache reads and writes are
    priced at their own rates (when the map has them), the rest as input.
    """
    entry = lookup(model)
    if entry is None:
        return None
    input_price = _price(entry, "input_cost_per_token")
    output_price = _price(entry, "output_cost_per_token")
    if input_price is None or output_price is None:
        return None
    read_price = _price(entry, "cache_read_input_token_cost")
    write_price = _price(entry, "cache_creation_input_token_cost")
    read = usage.cache_read_tokens
    write = usage.cache_write_tokens
    plain = max(usage.input_tokens - read - write, 0)
    return (
        plain * input_price
        + read * (input_price if read_price is None else read_price)
        + write * (input_price if write_price is None else write_price)
        + usage.output_tokens * output_price
    )


def _price(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
