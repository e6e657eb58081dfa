"""`tiller run` as a subprocess against the local server: start-up and cost per round.

Prints one JSON line: the wall time of a 1-round and a 100-round scripted task
(in-memory tools only), the cost per extra round (target <= 20 ms), and the
time of a bare `import litellm` for comparison (a one-round run cannot beat it).

    .venv/bin/python bench/headless.py [--transport litellm|openai]

`--transport openai` runs `tiller` with `TILLER_TRANSPORT=openai`: the lean
OpenAI-compatible client, which never imports litellm.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tiller.testing.server import FakeOpenAIServer, ServerReply

TILLER = str(Path(sys.executable).with_name("tiller"))
READ = ServerReply(
    tool_calls=[("read_file", json.dumps({"file_path": "README.md"}))], chunk_size=64
)
DONE = ServerReply(text="done", chunk_size=64)
REPEATS = 3


def responder_for(rounds: int) -> Any:
    """Tool calls until the request carries `rounds - 1` tool results, then an answer."""

    def respond(body: dict[str, Any]) -> ServerReply:
        results = sum(1 for m in body["messages"] if m.get("role") == "tool")
        return READ if results < rounds - 1 else DONE

    return respond


def timed_run(rounds: int, root: Path, env: dict[str, str]) -> float:
    with FakeOpenAIServer(responder=responder_for(rounds)) as server:
        command = [TILLER, "run", "-m", "openai/fake-model", "--api-base", server.base_url]
        command += ["--root", str(root), "--max-turns", str(rounds + 1), "go"]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"tiller run failed: {done.stderr}")
    return elapsed


def bare_import() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import litellm"],
        check=True,
        capture_output=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("litellm", "openai"), default="litellm")
    transport = parser.parse_args().transport
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "README.md").write_text("# bench\n" + "line\n" * 50)
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "TILLER_DATA_DIR": str(root / ".data")}
        env.pop("TILLER_MODEL", None)
        env["TILLER_TRANSPORT"] = transport
        one = statistics.median(timed_run(1, root, env) for _ in range(REPEATS))
        hundred = statistics.median(timed_run(100, root, env) for _ in range(REPEATS))
    per_round = (hundred - one) / 99
    print(
        json.dumps(
            {
                "bench": "headless",
                "transport": transport,
                "one_round_s": round(one, 3),
                "hundred_rounds_s": round(hundred, 3),
                "ms_per_round": round(per_round * 1000, 2),
                "target_ms_per_round": 20.0,
                "bare_litellm_import_s": round(
                    statistics.median(bare_import() for _ in range(REPEATS)), 3
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
