"""litellm's own CPU per call for the calls of a `tiller run`, with no Tiller around it.

Replays the chat-completions bodies a run sent (as the local server recorded them)
through `litellm.completion` against the server's Anthropic Messages endpoint, in this
process, and prints one JSON line: the process's CPU time per call between the second
and the last call (what `bench/headless.py` measures per round for Tiller). Each stream
is read as Tiller reads a native Anthropic one: up to the chunk that carries the finish
reason, then closed. The process-wide settings are the public ones Tiller sets too.

    .venv/bin/python bench/litellm_call.py BODIES.jsonl API_BASE MODEL
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any

from isolation import isolated_dirs


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def call(litellm: Any, body: dict[str, Any], api_base: str, model: str) -> None:
    stream = litellm.completion(
        model=model,
        messages=body["messages"],
        tools=body.get("tools"),
        api_base=api_base,
        api_key=os.environ["ANTHROPIC_API_KEY"],
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].finish_reason is not None:
            break
    stream.close()


def main() -> None:
    bodies_path, api_base, model = sys.argv[1:4]
    with open(bodies_path, encoding="utf-8") as handle:
        bodies = [json.loads(line)["body"] for line in handle]
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.disable_token_counter = True
    litellm.disable_streaming_logging = True
    call(litellm, bodies[0], api_base, model)
    started = cpu_s()
    for body in bodies[1:-1]:
        call(litellm, body, api_base, model)
    per_call = (cpu_s() - started) / (len(bodies) - 2)
    print(json.dumps({"cpu_ms_per_call": round(per_call * 1000, 2), "calls": len(bodies)}))


if __name__ == "__main__":
    with isolated_dirs("litellm-call"):
        main()
