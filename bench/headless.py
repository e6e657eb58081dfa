"""`tiller run` as a subprocess against the local server: start-up, CPU per round, exit.

Prints one JSON line per path: the wall time of a 1-round and a 100-round
scripted task (in-memory tools only), the wall time and the CPU time (user +
system, of the `tiller` process, all its threads) per round, the exit time (from
the answer reaching stdout to the process being gone), and the targets (issue 15).

The per-round figures are taken between the second and the last model request of
the 100-round runs, as the server receives them (the process's CPU time read from
/proc then): what a 1-round run also pays (start-up, and the first call's one-time
loading) is not in them, nor is exit. (Taking the difference of whole runs instead
left them to the ~0.1 s spread of importing litellm, ~1 ms a round.)

    .venv/bin/python bench/headless.py [--path default|litellm|openai|all]

- `default`: `openai/fake-model` with no transport chosen: `auto` picks the lean
  client (targets: one round <= 0.8 s, <= 3 ms CPU per round);
- `litellm`: `anthropic/claude-sonnet-4-5` on the server's Anthropic Messages
  endpoint (`auto` picks litellm; targets: one round <= 3.0 s, <= 10 ms CPU per
  round, exit <= 0.1 s);
- `openai`: the default model with `TILLER_TRANSPORT=litellm`, litellm on an
  OpenAI-compatible route, for comparison.

The litellm rows also give a bare `python -c "import litellm"` (wall and CPU,
median), the floor under their one-round time on this machine. The `litellm` row
also gives litellm's own CPU per call for the same conversation with no Tiller
around it (`bench/litellm_call.py`, median), the floor under its CPU per round.

Tiller only: no peer is installed or run here (peers' figures are in issue 15).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation import isolated_dirs

from tiller.testing.server import FakeOpenAIServer, ServerReply

TILLER = str(Path(sys.executable).with_name("tiller"))
READ = ServerReply(
    tool_calls=[("read_file", json.dumps({"file_path": "README.md"}))], chunk_size=64
)
DONE = ServerReply(text="done", chunk_size=64)
REPEATS = 5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class RunPath:
    """One way to run: the model, where its endpoint is, the transport setting, targets."""

    name: str
    model: str
    anthropic: bool
    transport: str | None
    one_round_target_s: float | None
    cpu_ms_target: float | None
    exit_target_s: float | None


PATHS = {
    "default": RunPath("default", "openai/fake-model", False, None, 0.8, 3.0, 0.1),
    "litellm": RunPath("litellm", "anthropic/claude-sonnet-4-5", True, None, 3.0, 10.0, 0.1),
    "openai": RunPath(
        "litellm-openai-route", "openai/fake-model", False, "litellm", None, None, None
    ),
}


class RoundClock:
    """When the second and the last model request of a run arrive: the `tiller` process's
    CPU time (user + system, every thread) and the wall clock."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def mark(self, request: int, rounds: int) -> None:
        if self.pid is None or request not in (1, rounds - 1):
            return
        reading = (process_cpu_s(self.pid), time.perf_counter())
        if request == 1:
            self.first = reading
        if request == rounds - 1:
            self.last = reading

    def per_round(self, rounds: int) -> tuple[float, float]:
        """(CPU seconds, wall seconds) per round between the second and the last request."""
        assert self.first is not None and self.last is not None and rounds > 2
        return (
            (self.last[0] - self.first[0]) / (rounds - 2),
            (self.last[1] - self.first[1]) / (rounds - 2),
        )


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process, all threads, from /proc (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        # The command name may hold spaces: the fields are counted after its ")".
        fields = handle.read().rpartition(b")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def responder_for(rounds: int, clock: RoundClock | None = None) -> Any:
    """Tool calls until the request carries `rounds - 1` tool results, then an answer."""

    def respond(body: dict[str, Any]) -> ServerReply:
        messages = body["messages"]
        results = sum(1 for m in messages if m.get("role") == "tool")
        # Anthropic Messages: tool results are user content blocks.
        results += sum(
            1
            for m in messages
            if isinstance(m.get("content"), list)
            for block in m["content"]
            if isinstance(block, dict) and block.get("type") == "tool_result"
        )
        if clock is not None:
            clock.mark(results, rounds)
        return READ if results < rounds - 1 else DONE

    return respond


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float
    exit_s: float
    round_cpu_s: float | None  # per round, between the second and the last request
    round_wall_s: float | None
    connections: int  # opened to the server by the run


def timed_run(path: RunPath, rounds: int, root: Path, env: dict[str, str]) -> Timing:
    clock = RoundClock()
    with FakeOpenAIServer(responder=responder_for(rounds, clock)) as server:
        base = server.root_url if path.anthropic else server.base_url
        command = [TILLER, "run", "-m", path.model, "--api-base", base]
        command += ["--root", str(root), "--max-turns", str(rounds + 1), "go"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        clock.pid = process.pid  # set before the process can have sent its first request
        assert process.stdout is not None
        process.stdout.read(1)  # the answer is the only thing printed, just before exiting
        answered = time.perf_counter()
        _out, err = process.communicate()
        ended = time.perf_counter()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        connections = server.connections_accepted
    if process.returncode != 0:
        raise SystemExit(f"tiller run failed: {err.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    round_cpu, round_wall = clock.per_round(rounds) if rounds > 2 else (None, None)
    return Timing(ended - started, cpu, ended - answered, round_cpu, round_wall, connections)


def measure(path: RunPath) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "README.md").write_text("# bench\n" + "line\n" * 50)
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-bench",
            "ANTHROPIC_API_KEY": "sk-bench",
        }
        for name in ("TILLER_MODEL", "TILLER_TRANSPORT"):
            env.pop(name, None)
        if path.transport:
            env["TILLER_TRANSPORT"] = path.transport
        ones = [timed_run(path, 1, root, env) for _ in range(REPEATS)]
        hundreds = [timed_run(path, 100, root, env) for _ in range(REPEATS)]
        alone = litellm_alone(path, root, env) if path.anthropic else None
    row = summary(path, ones, hundreds)
    if path.model.startswith("anthropic/") or path.transport == "litellm":
        row.update(bare_import())
    if alone is not None:
        row["litellm_call_alone_cpu_ms"] = alone
    return row


def litellm_alone(path: RunPath, root: Path, env: dict[str, str]) -> float:
    """litellm's CPU per call (median of runs) for the chat-completions bodies of a
    100-round run, replayed with no Tiller around it (`bench/litellm_call.py`)."""
    script = Path(__file__).with_name("litellm_call.py")
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        bodies = Path(tmp) / "bodies.jsonl"
        # The same conversation as the path's own runs, sent by the lean client, whose
        # bodies are chat-completions JSON as `litellm.completion` takes it.
        with FakeOpenAIServer(responder=responder_for(100), record_to=bodies) as server:
            command = [TILLER, "run", "-m", "openai/fake-model", "--api-base", server.base_url]
            command += ["--root", str(root), "--max-turns", "101", "go"]
            subprocess.run(command, env=env, check=True, capture_output=True)
        for _ in range(REPEATS):
            with FakeOpenAIServer(responder=responder_for(100)) as server:
                replay = [sys.executable, str(script), str(bodies), server.root_url, path.model]
                done = subprocess.run(replay, env=env, check=True, capture_output=True)
            figures.append(json.loads(done.stdout)["cpu_ms_per_call"])
    return round(statistics.median(figures), 2)


def bare_import() -> dict[str, float]:
    """`python -c "import litellm"` on its own (with the local price map, as Tiller sets)."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    walls, cpus = [], []
    for _ in range(REPEATS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import litellm"], env=env, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return {
        "bare_import_litellm_s": round(statistics.median(walls), 3),
        "bare_import_litellm_cpu_s": round(statistics.median(cpus), 3),
    }


def summary(path: RunPath, ones: list[Timing], hundreds: list[Timing]) -> dict[str, Any]:
    one = statistics.median(t.wall_s for t in ones)
    hundred = statistics.median(t.wall_s for t in hundreds)
    cpu_one = statistics.median(t.cpu_s for t in ones)
    round_wall = statistics.median(t.round_wall_s or 0.0 for t in hundreds)
    round_cpu = statistics.median(t.round_cpu_s or 0.0 for t in hundreds)
    return {
        "bench": "headless",
        "path": path.name,
        "model": path.model,
        "one_round_s": round(one, 3),
        "one_round_target_s": path.one_round_target_s,
        "one_round_cpu_s": round(cpu_one, 3),
        "hundred_rounds_s": round(hundred, 3),
        "ms_per_round": round(round_wall * 1000, 2),
        "cpu_ms_per_round": round(round_cpu * 1000, 2),
        "cpu_ms_per_round_target": path.cpu_ms_target,
        "exit_s": round(statistics.median(t.exit_s for t in ones + hundreds), 3),
        "connections_per_100_rounds": max(t.connections for t in hundreds),
        "exit_target_s": path.exit_target_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", choices=(*PATHS, "all"), default="all")
    chosen = parser.parse_args().path
    for name in PATHS if chosen == "all" else (chosen,):
        print(json.dumps(measure(PATHS[name])), flush=True)


if __name__ == "__main__":
    with isolated_dirs("headless"):
        main()
