"""100 sessions x 5 rounds against the local server with 200 ms per call.

Prints one JSON line: wall time, the ideal (5 x 200 ms when every session runs
at once), throughput as a fraction of the ideal (target >= 0.8) and peak memory
per session.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import tracemalloc

from tiller import SessionManager
from tiller.llm import preload
from tiller.testing.server import FakeOpenAIServer, ServerReply

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "100"))
ROUNDS = 5
LATENCY = 0.2


def main() -> None:
    preload()
    tool_round = ServerReply(tool_calls=[("list_dir", "{}")], delay=LATENCY)
    answer = ServerReply(text="done", delay=LATENCY)
    replies = ([tool_round] * (ROUNDS - 1) + [answer]) * SESSIONS
    with FakeOpenAIServer(replies) as server:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        manager = SessionManager(
            model="openai/fake-model",
            api_base=server.base_url,
            api_key="sk-bench",
            skills_dirs=[],
            files={"README.md": "bench\n"},
        )
        ids = [f"s{i}" for i in range(SESSIONS)]
        for id_ in ids:
            manager.start(id_)
        started = time.perf_counter()
        futures = [manager.submit(id_, "go") for id_ in ids]
        replies_ok = sum(f.result().stop_reason == "completed" for f in futures)
        wall = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        manager.close_all()
    ideal = ROUNDS * LATENCY
    print(
        json.dumps(
            {
                "bench": "concurrency",
                "sessions": SESSIONS,
                "rounds": ROUNDS,
                "latency_s": LATENCY,
                "completed": replies_ok,
                "wall_s": round(wall, 3),
                "ideal_s": ideal,
                "throughput_vs_ideal": round(ideal / wall, 3),
                "target": 0.8,
                "peak_python_kib_per_session": round(peak / SESSIONS / 1024, 1),
                "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
