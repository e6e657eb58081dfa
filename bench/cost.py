"""What prompt caching saves over a long session, priced with litellm's Claude prices.

A scripted 40-round coding session (the real system prompt and tools; each round
reads a file of 1-3k tokens) runs twice through litellm's native Anthropic route
against the local server, which emulates Anthropic's cache accounting: once with
Tiller's breakpoints, once with caching off. Both are priced by litellm for
`anthropic/claude-sonnet-4-5` (cache reads 0.1x, cache writes 1.25x input).

Prints one JSON line `cost.session`: dollars cached and uncached, their ratio
(target <= 0.3), and the share of input tokens read from the cache in every round
after the second (target >= 0.8), and how many rounds read less than the round before had cached
(`prefix_invalidations`, target 0). The lowest single round is shown too: the
third round's new file is still a large part of a short prompt.

    .venv/bin/python bench/cost.py
"""

from __future__ import annotations

import itertools
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from isolation import isolated_dirs

from tiller import Session
from tiller.testing.server import FakeOpenAIServer, ServerReply

MODEL = "anthropic/claude-sonnet-4-5"
ROUNDS = 40
RATIO_TARGET = 0.3
READ_SHARE_TARGET = 0.8
OUTPUT_TOKENS = 150
WORDS = ("def", "return", "self", "value", "data", "result", "index", "count", "path", "item")


def source_file(rng: random.Random, tokens: int) -> str:
    """Plausible code of about `tokens` tokens (four characters each)."""
    lines, size = [], 0
    while size < tokens * 4:
        line = "    " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def script(count: int) -> list[ServerReply]:
    """Read a different file each round, with a sentence of commentary; then answer."""
    replies = [
        ServerReply(
            text=f"Looking at module {i} to see how it handles the data path.",
            tool_calls=[("read_file", json.dumps({"file_path": f"src/mod{i}.py"}))],
            usage=(0, OUTPUT_TOKENS, 0),
            chunk_size=64,
        )
        for i in range(count - 1)
    ]
    replies.append(ServerReply(text="Done: the data path is consistent.", usage=(0, 80, 0)))
    return replies


def run(root: Path, caching: bool) -> dict[str, Any]:
    """One session of `ROUNDS` rounds; its cost and the per-round cache accounts."""
    with FakeOpenAIServer(script(ROUNDS)) as server:
        session = Session(
            MODEL,
            root=root,
            api_base=server.root_url,
            api_key="sk-ant-bench",
            skills_dirs=[],
            max_turns=ROUNDS,
            prompt_caching=caching,
        )
        try:
            reply = session.send("Review how every module handles the data path.")
        finally:
            session.close()
        accounts = server.cache_accounts
    totals = [
        (
            a.cache_read_input_tokens,
            a.input_tokens + a.cache_read_input_tokens + a.cache_creation_input_tokens,
        )
        for a in accounts
    ]
    # A round that reads less than the previous round cached found its prefix changed.
    invalidated = sum(
        now.cache_read_input_tokens
        < before.cache_read_input_tokens + before.cache_creation_input_tokens
        for before, now in itertools.pairwise(accounts)
    )
    return {
        "stop_reason": reply.stop_reason,
        "rounds": reply.rounds,
        "cost_usd": reply.usage.cost_usd,
        "input_tokens": reply.usage.input_tokens,
        "cache_read_tokens": reply.usage.cache_read_tokens,
        "cache_write_tokens": reply.usage.cache_write_tokens,
        "totals": totals,
        "invalidated": invalidated,
    }


def main() -> None:
    rng = random.Random(14)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        for i in range(ROUNDS):
            (root / "src" / f"mod{i}.py").write_text(source_file(rng, rng.randint(1000, 3000)))
        cached = run(root, caching=True)
        uncached = run(root, caching=False)
    later_totals = cached["totals"][2:]
    later = [read / total for read, total in later_totals]
    ratio = cached["cost_usd"] / uncached["cost_usd"]
    share = sum(r for r, _ in later_totals) / max(1, sum(t for _, t in later_totals))
    record = {
        "name": "cost.session",
        "model": MODEL,
        "rounds": cached["rounds"],
        "stop_reasons": [cached["stop_reason"], uncached["stop_reason"]],
        "cached_usd": round(cached["cost_usd"], 4),
        "uncached_usd": round(uncached["cost_usd"], 4),
        "ratio": round(ratio, 3),
        "ratio_target": RATIO_TARGET,
        "input_tokens": cached["input_tokens"],
        "cache_read_tokens": cached["cache_read_tokens"],
        "cache_write_tokens": cached["cache_write_tokens"],
        "read_share_after_round_2": round(share, 3),
        "min_round_read_share_after_round_2": round(min(later), 3) if later else None,
        "read_share_target": READ_SHARE_TARGET,
        "prefix_invalidations": cached["invalidated"],
        "ok": ratio <= RATIO_TARGET and share >= READ_SHARE_TARGET and not cached["invalidated"],
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    with isolated_dirs("cost"):
        main()
