"""What the model layer costs on top of raw HTTP, against the local fake server.

Prints one JSON line per measurement:

- `engine.call_json`: one non-streamed call, litellm vs a raw httpx POST of the
  same request (target: <= 10 ms over raw).
- `engine.call_stream`: one short streamed call, `LiteLLMClient` vs raw httpx
  with SSE parsing (target: <= 10 ms over raw).
- `engine.round`: the engine's own cost per round (prompt assembly, history
  conversion, tool dispatch, events) with the scripted model, at a 100-round
  history (target: <= 2 ms).
- `engine.chunk`: a 2,000-chunk streamed reply, wall and CPU per chunk for
  `LiteLLMClient`, for litellm with its per-chunk streaming logging left on
  (litellm's default), and for raw SSE parsing (target: <= 0.5 ms per chunk).

The server runs in a subprocess so process CPU time is the client's alone
(the pump thread and litellm's worker threads included).

    .venv/bin/python bench/engine.py
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from isolation import isolated_dirs

from tiller.llm import LiteLLMClient, preload
from tiller.model import ModelRequest

MODEL = "openai/fake-model"
MESSAGES = [{"role": "user", "content": "Say hello."}]
SHORT = {"text": "Hello there, how can I help?", "chunk_size": 8}
CHUNKS = 2000
LONG = {"text": "x" * CHUNKS, "chunk_size": 1}
CALLS = 60
CALL_TARGET_MS = 10.0
CHUNK_TARGET_MS = 0.5


def emit(record: dict[str, Any]) -> None:
    """Print one measurement as a JSON line."""
    print(json.dumps(record), flush=True)


@contextmanager
def serve(reply: dict[str, Any]) -> Iterator[str]:
    """Run the fake server in a subprocess answering every request with `reply`; yields its URL."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.json"
        script.write_text(json.dumps({"default": reply}))
        proc = subprocess.Popen(
            [sys.executable, "-m", "tiller.testing.server", "--script", str(script)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            yield proc.stdout.readline().split()[1]
        finally:
            proc.terminate()
            proc.wait(5)


def body(stream: bool) -> dict[str, Any]:
    extra = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    return {"model": "fake-model", "messages": MESSAGES, **extra}


def raw_json(http: httpx.Client, url: str) -> None:
    http.post(url + "/chat/completions", json=body(False)).json()


def raw_stream(http: httpx.Client, url: str) -> int:
    """Stream and parse the SSE events the way any client must; returns the chunk count."""
    count = 0
    with http.stream("POST", url + "/chat/completions", json=body(True)) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                json.loads(line[6:])
                count += 1
    return count


def client_call(client: LiteLLMClient, url: str) -> None:
    request = ModelRequest(MODEL, MESSAGES, options={"api_base": url, "api_key": "sk-bench"})
    client.complete(request, on_text=lambda _: None, cancel=threading.Event())


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """(median wall ms, mean CPU ms) over `n` calls after two warm-ups."""
    fn()
    fn()
    settle()
    walls = []
    cpu = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - started)
    return statistics.median(walls) * 1e3, (time.process_time() - cpu) / n * 1e3


def settle() -> None:
    """Let litellm's logging threads finish the previous calls' work, so it is not billed here."""
    gc.collect()
    time.sleep(0.3)


def litellm_stream(url: str) -> None:
    import litellm

    stream = litellm.completion(
        model=MODEL,
        messages=MESSAGES,
        api_base=url,
        api_key="sk-bench",
        max_retries=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass


def call_json() -> None:
    """One non-streamed call: litellm.completion vs a raw httpx POST."""
    preload()  # configures litellm (offline, quiet, streaming logging off) before we use it
    import litellm

    with serve(SHORT) as url, httpx.Client() as http:
        raw_ms, raw_cpu = timed(lambda: raw_json(http, url), CALLS)
        lite_ms, lite_cpu = timed(
            lambda: litellm.completion(
                model=MODEL, messages=MESSAGES, api_base=url, api_key="sk-bench", max_retries=0
            ),
            CALLS,
        )
    emit(
        {
            "bench": "engine.call_json",
            "calls": CALLS,
            "raw_httpx_ms": round(raw_ms, 2),
            "litellm_ms": round(lite_ms, 2),
            "overhead_ms": round(lite_ms - raw_ms, 2),
            "raw_cpu_ms": round(raw_cpu, 2),
            "litellm_cpu_ms": round(lite_cpu, 2),
            "target_overhead_ms": CALL_TARGET_MS,
        }
    )


def call_stream() -> None:
    """One short streamed call: LiteLLMClient.complete vs bare litellm vs raw httpx + SSE."""
    preload()
    client = LiteLLMClient(max_retries=0)
    with serve(SHORT) as url, httpx.Client() as http:
        raw_ms, raw_cpu = timed(lambda: raw_stream(http, url), CALLS)
        bare_ms, bare_cpu = timed(lambda: litellm_stream(url), CALLS)
        client_ms, client_cpu = timed(lambda: client_call(client, url), CALLS)
    emit(
        {
            "bench": "engine.call_stream",
            "calls": CALLS,
            "raw_httpx_ms": round(raw_ms, 2),
            "bare_litellm_ms": round(bare_ms, 2),
            "client_ms": round(client_ms, 2),
            "overhead_ms": round(client_ms - raw_ms, 2),
            "raw_cpu_ms": round(raw_cpu, 2),
            "bare_litellm_cpu_ms": round(bare_cpu, 2),
            "client_cpu_ms": round(client_cpu, 2),
            "target_overhead_ms": CALL_TARGET_MS,
        }
    )


def chunk_cost() -> None:
    """Per-chunk cost of a 2,000-chunk reply: ours, litellm's default, raw SSE."""
    preload()  # configures litellm (offline, quiet, streaming logging off) before we use it
    import litellm

    client = LiteLLMClient(max_retries=0)
    with serve(LONG) as url, httpx.Client() as http:
        raw_ms, raw_cpu = timed(lambda: raw_stream(http, url), 3)
        ours_ms, ours_cpu = timed(lambda: client_call(client, url), 3)
        litellm.disable_streaming_logging = False  # litellm's default, for comparison
        try:
            default_ms, default_cpu = timed(lambda: client_call(client, url), 3)
        finally:
            litellm.disable_streaming_logging = True
    per = 1 / (CHUNKS + 3)  # + role, finish and usage chunks
    emit(
        {
            "bench": "engine.chunk",
            "chunks": CHUNKS,
            "client_wall_ms_per_chunk": round(ours_ms * per, 3),
            "client_cpu_ms_per_chunk": round(ours_cpu * per, 3),
            "litellm_default_wall_ms_per_chunk": round(default_ms * per, 3),
            "litellm_default_cpu_ms_per_chunk": round(default_cpu * per, 3),
            "raw_sse_wall_ms_per_chunk": round(raw_ms * per, 3),
            "raw_sse_cpu_ms_per_chunk": round(raw_cpu * per, 3),
            "overhead_cpu_ms_per_chunk": round((ours_cpu - raw_cpu) * per, 3),
            "target_ms_per_chunk": CHUNK_TARGET_MS,
        }
    )


def engine_round() -> None:
    """Per-round engine overhead with the scripted model, history already 100 rounds deep."""
    from tiller.session import Session
    from tiller.testing.scripted import ScriptedModel, Step

    rounds = 100
    files = {f"src/m{i}.py": f"x = {i}\n" for i in range(50)}

    def step() -> Step:
        return Step(tool_calls=[("read_file", {"file_path": "src/m1.py"})])

    samples = []
    for _ in range(3):
        model = ScriptedModel()
        session = Session(model, files=files, skills_dirs=[], max_turns=rounds + 1)
        model.add(*[step() for _ in range(rounds)], "warm")
        session.send("build a 100-round history")
        model.add(*[step() for _ in range(rounds)], "done")
        started = time.perf_counter()
        session.send("measure")
        samples.append((time.perf_counter() - started) / (rounds + 1))
    emit(
        {
            "bench": "engine.round",
            "history_rounds_at_start": rounds,
            "ms_per_round": round(statistics.median(samples) * 1000, 3),
            "target_ms": 2.0,
        }
    )


def main() -> None:
    engine_round()
    started = time.perf_counter()
    preload()
    emit({"bench": "engine.import_litellm", "s": round(time.perf_counter() - started, 2)})
    call_json()
    call_stream()
    chunk_cost()


if __name__ == "__main__":
    with isolated_dirs("engine"):
        main()
