"""100 sessions x 5 rounds against the local server with 200 ms per call.

Every session makes exactly ROUNDS model calls: the server's responder answers
a request with a `list_dir` tool call until that conversation holds ROUNDS - 1
tool results, then with the final text. The ideal wall time is ROUNDS x LATENCY
(every session waiting on the server at once); throughput is ideal / wall, and
the wall clock starts once every session exists (creating them is reported
separately as `start_cpu_ms_per_session`).

The server runs in its own process by default (BENCH_SERVER=thread runs it in
this one): a real provider does not spend this interpreter's CPU, and an
in-process server would take GIL time from the sessions being measured.

Memory is measured without slowing the timed run: the kernel's peak-RSS mark
(VmHWM) is reset just before the sessions are created and read after they
finish, so peak RSS over the resident baseline, divided by the sessions, is
what a session costs at its peak (Linux only). A separate, smaller pass under
tracemalloc (BENCH_TRACE_SESSIONS sessions) gives the Python heap per session.
litellm is imported and warmed first (`preload()`, as the TUI does at start-up),
then one untimed session makes one real call: the first real call still
imports ~500 modules of the openai SDK (`openai.resources`, ~0.5 s of CPU) that
`preload()` does not reach; that one-off cost is reported as `warmup_call_s`,
not spread over the timed run.

`cpu_ms_per_call` is this process's CPU time over the run divided by the model
calls; `cpu_s / wall_s` near 1 means the run is bound by one core (the GIL),
and `cpu_bound_ceiling` (ideal / cpu_s) is then the best throughput that CPU
cost allows however the threads are scheduled.

`server_cpu_ms_per_call` is the server process's CPU time over the run divided
by the model calls (None when the server runs in this process): the fake
server's own cost, which a busy machine inflates along with ours.

The default (`--transport auto`, as a session with no transport chosen) drives
an `openai/` model through the lean OpenAI-compatible client (litellm is neither
imported nor warmed; target >= 0.8 of ideal); `--transport litellm` forces
litellm on the same route, `openai` names the lean client explicitly.

Prints one JSON line. Environment: BENCH_SESSIONS (100), BENCH_ROUNDS (5),
BENCH_LATENCY (0.2), BENCH_TRACE_SESSIONS (10; 0 skips the tracemalloc pass),
BENCH_SERVER (`process` or `thread`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from isolation import isolated_dirs

from tiller import Session, SessionManager
from tiller.llm import preload
from tiller.testing.server import FakeOpenAIServer, ServerReply

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "100"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
LATENCY = float(os.environ.get("BENCH_LATENCY", "0.2"))
TRACE_SESSIONS = int(os.environ.get("BENCH_TRACE_SESSIONS", "10"))
SERVER = os.environ.get("BENCH_SERVER", "process")
TARGET = 0.8


def respond(body: dict[str, Any]) -> ServerReply:
    """A tool round until the conversation has ROUNDS - 1 tool results, then the answer."""
    done = sum(1 for message in body.get("messages", []) if message.get("role") == "tool")
    if done < ROUNDS - 1:
        return ServerReply(tool_calls=[("list_dir", "{}")], delay=LATENCY)
    return ServerReply(text="done", delay=LATENCY)


def _serve(conn: Connection) -> None:
    """Server process: report the base URL, request count and CPU time; serve until told to stop."""
    with FakeOpenAIServer(responder=respond) as server:
        conn.send(server.base_url)
        while (command := conn.recv()) in ("count", "cpu"):
            conn.send(len(server.requests) if command == "count" else time.process_time())


@contextmanager
def local_server() -> Iterator[tuple[str, Any, Any]]:
    """The base URL of a running server, and functions returning its request count and CPU time.

    The CPU time is None for a server in this process (it is in `cpu_s` then).
    """
    if SERVER == "thread":
        with FakeOpenAIServer(responder=respond) as server:
            yield server.base_url, lambda: len(server.requests), lambda: None
        return
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(theirs,), daemon=True)
    process.start()
    try:
        base_url = ours.recv()

        def count() -> int:
            ours.send("count")
            return int(ours.recv())

        def cpu() -> float:
            ours.send("cpu")
            return float(ours.recv())

        yield base_url, count, cpu
    finally:
        ours.send("stop")
        process.join(5)


def _status_kib(field: str) -> int | None:
    """A `kB` field of /proc/self/status (Linux), e.g. VmRSS or VmHWM."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run(base_url: str, sessions: int, transport: str) -> dict[str, Any]:
    """Create `sessions` sessions, then send each "go" at once and wait for all replies."""
    manager = SessionManager(
        model="openai/fake-model",
        api_base=base_url,
        api_key="sk-bench",
        transport=transport,
        skills_dirs=[],
        files={"README.md": "bench\n"},
    )
    ids = [f"s{i}" for i in range(sessions)]
    cpu_start = time.process_time()
    for id_ in ids:
        manager.start(id_)
    cpu_started = time.process_time()
    started = time.perf_counter()
    futures = [manager.submit(id_, "go") for id_ in ids]
    replies = [future.result() for future in futures]
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    manager.close_all()
    reasons = Counter(
        reply.stop_reason if reply.rounds == ROUNDS else f"{reply.stop_reason}/{reply.rounds}"
        for reply in replies
    )
    return {
        "wall": wall,
        "cpu": cpu,
        "start_cpu": cpu_started - cpu_start,
        "reasons": dict(reasons),
    }


def warm_up(base_url: str, transport: str) -> float:
    """One real call through a throwaway session; returns its wall time."""
    started = time.perf_counter()
    Session(
        "openai/fake-model",
        api_base=base_url,
        api_key="sk-bench",
        transport=transport,
        skills_dirs=[],
        max_turns=1,
    ).send("warm up")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("auto", "litellm", "openai"), default="auto")
    transport = parser.parse_args().transport
    if transport == "litellm":
        preload()
    with local_server() as (base_url, request_count, server_cpu):
        warmup = warm_up(base_url, transport)
        before = request_count()
        server_cpu_before = server_cpu()
        rss_before = _status_kib("VmRSS")
        peak_reset = _reset_peak_rss()
        timed = run(base_url, SESSIONS, transport)
        peak = _status_kib("VmHWM") if peak_reset else None
        calls = request_count() - before
        server_cpu_after = server_cpu()

        heap_kib = None
        if TRACE_SESSIONS:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            run(base_url, TRACE_SESSIONS, transport)
            heap_kib = (tracemalloc.get_traced_memory()[1] - base) / TRACE_SESSIONS / 1024
            tracemalloc.stop()

    ideal = ROUNDS * LATENCY
    wall, cpu = timed["wall"], timed["cpu"]
    rss_growth = None if peak is None or rss_before is None else peak - rss_before
    result = {
        "bench": "concurrency",
        "sessions": SESSIONS,
        "rounds": ROUNDS,
        "latency_s": LATENCY,
        "server": SERVER,
        "transport": transport,
        "litellm_imported": "litellm" in sys.modules,
        "cpus": os.cpu_count(),
        "stop_reasons": timed["reasons"],
        "model_calls": calls,
        "wall_s": round(wall, 3),
        "ideal_s": ideal,
        "throughput_vs_ideal": round(ideal / wall, 3),
        "target": TARGET,
        "warmup_call_s": round(warmup, 3),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_call": round(1000 * cpu / max(1, calls), 2),
        "cpu_bound_ceiling": round(ideal / cpu, 3) if cpu else None,
        "server_cpu_ms_per_call": None
        if server_cpu_before is None or server_cpu_after is None
        else round(1000 * (server_cpu_after - server_cpu_before) / max(1, calls), 2),
        "start_cpu_ms_per_session": round(1000 * timed["start_cpu"] / SESSIONS, 2),
        "peak_rss_kib_per_session": None if rss_growth is None else round(rss_growth / SESSIONS),
        "python_heap_kib_per_session": None if heap_kib is None else round(heap_kib, 1),
        "heap_sample_sessions": TRACE_SESSIONS,
    }
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    with isolated_dirs("concurrency"):
        main()
