"""Benchmark MCP tools: a real SDK server (tests/fixtures/mcp_server.py) over stdio and
streamable HTTP on 127.0.0.1, called through Tiller's tool adapter.

Prints one JSON line per transport:

- `ready_s`: from starting the connection to the tools being listed (stdio includes
  starting the server's interpreter; HTTP connects to a server already listening);
- `first_call_s`: the first tool call after that;
- `calls_100_s`: 100 more calls, one after another, from an engine thread.

Targets (issue 18): first call <= 0.7 s after the server starts; 100 calls 0.2-0.3 s.

    .venv/bin/python bench/mcp_tools.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from isolation import isolated_dirs

from tiller.mcp import McpServerConfig, McpServers
from tiller.tools.base import ToolContext

FIXTURE = str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mcp_server.py")


def measure(config: McpServerConfig) -> dict[str, object]:
    servers = McpServers([config], approval_mode=lambda: "allow")
    try:
        started = time.perf_counter()
        servers.start()
        servers.wait_ready()
        ready = time.perf_counter() - started
        tool = next(t for t in servers.tools() if t.remote == "add")
        started = time.perf_counter()
        tool.run({"a": 1, "b": 2}, ToolContext())
        first = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(100):
            tool.run({"a": i, "b": 1}, ToolContext())
        hundred = time.perf_counter() - started
    finally:
        servers.close()
    return {
        "bench": "mcp",
        "transport": config.transport,
        "ready_s": round(ready, 3),
        "first_call_s": round(first, 4),
        "calls_100_s": round(hundred, 3),
    }


def main() -> None:
    stdio = McpServerConfig(name="fx", command=sys.executable, args=(FIXTURE,))
    print(json.dumps(measure(stdio)), flush=True)
    process = subprocess.Popen(
        [sys.executable, FIXTURE, "--http"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().split()[1]
        http = McpServerConfig(name="web", transport="http", url=f"http://127.0.0.1:{port}/mcp")
        print(json.dumps(measure(http)), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    with isolated_dirs("mcp_tools"):
        main()
