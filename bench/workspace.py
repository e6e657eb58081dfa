"""Benchmark the workspace on a synthetic 20,000-file (~100 MB) repository.

Prints one JSON line per figure (`{"figure": ..., "seconds": ..., "target_s": ...}`):
the first full grep with RE2 (cold workspace; target 1 s), a warm grep, a
capped grep, glob("**/*.py"), diff() of 1,000 modified files, and flush() of
them under the per-root lock (target 2 s).

    .venv/bin/python bench/workspace.py [--files 20000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from isolation import isolated_dirs

from tiller.workspace import Workspace

WORDS = [
    "request",
    "response",
    "handler",
    "session",
    "client",
    "server",
    "config",
    "value",
    "result",
    "index",
    "buffer",
    "stream",
    "token",
    "parser",
    "record",
    "cache",
    "entry",
    "user",
    "account",
    "order",
    "item",
    "price",
    "queue",
    "worker",
    "task",
    "event",
    "message",
    "payload",
    "header",
    "status",
    "error",
    "retry",
    "timeout",
]
MARKER = "FIXME(perf)"
PATTERN = r"FIXME\(perf\): \w+"


def _name(rng: random.Random) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))


def _function(rng: random.Random, mark: bool) -> list[str]:
    name = _name(rng)
    args = ", ".join(_name(rng) for _ in range(rng.randint(0, 3)))
    lines = [f"def {name}({args}):", f'    """Return the {_name(rng)} for a {_name(rng)}."""']
    for _ in range(rng.randint(3, 12)):
        target = _name(rng)
        choice = rng.random()
        if choice < 0.3:
            lines.append(f"    {target} = {_name(rng)}.get({rng.randint(0, 999)!r}, None)")
        elif choice < 0.5:
            lines.append(f"    if {target} is None:")
            lines.append(f'        raise ValueError("missing {target}")')
        elif choice < 0.7:
            lines.append(f"    for {target} in {_name(rng)}:")
            lines.append(f"        {_name(rng)}.append({target} * {rng.randint(2, 9)})")
        else:
            lines.append(f"    # {' '.join(rng.choice(WORDS) for _ in range(rng.randint(4, 10)))}")
    if mark:
        lines.append(f"    # {MARKER}: {_name(rng)} is slow here")
    lines.append(f"    return {_name(rng)}")
    lines.append("")
    return lines


def build_repo(root: Path, count: int, marked: int, seed: int = 7) -> int:
    """Write `count` files (~5 KB each) plus ignored clutter; returns total bytes."""
    rng = random.Random(seed)
    marked_files = set(rng.sample(range(count), marked))
    total = 0
    (root / ".gitignore").write_text("build/\n*.pyc\n__pycache__/\n.venv/\n*.log\n")
    for index in range(count):
        package = f"pkg{index % 20:02d}"
        module = f"mod{(index // 20) % 25:02d}"
        folder = root / "src" / package / module if index % 10 else root / "tests" / package
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".py" if index % 7 else rng.choice([".md", ".txt", ".cfg"])
        lines = [f'"""Module {index}: {_name(rng)}."""', "", "import os", "import sys", ""]
        while sum(len(line) + 1 for line in lines) < rng.randint(3500, 6500):
            lines.extend(_function(rng, index in marked_files and rng.random() < 0.1))
        if index in marked_files:
            lines.append(f"# {MARKER}: {_name(rng)}")
        data = ("\n".join(lines) + "\n").encode()
        (folder / f"file_{index:05d}{suffix}").write_bytes(data)
        total += len(data)
    for index in range(200):
        ignored = root / "build" / f"lib{index % 10}"
        ignored.mkdir(parents=True, exist_ok=True)
        (ignored / f"gen_{index}.py").write_text(f"# {MARKER}: generated\n" * 50)
        (root / "src" / "pkg01" / f"cache_{index}.pyc").write_bytes(b"\0\1" * 500)
    return total


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--modified", type=int, default=1_000)
    parser.add_argument("--keep", action="store_true", help="keep the temp repo")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tiller-bench-"))
    try:
        build_start = time.perf_counter()
        total = build_repo(tmp, args.files, marked=max(1, args.files // 100))
        build_seconds = time.perf_counter() - build_start

        ws = Workspace(root=tmp)
        grep_s, hits = timed(lambda: ws.grep(PATTERN, max_results=100_000))
        warm_grep_s, _ = timed(lambda: ws.grep(PATTERN, max_results=100_000))
        capped_s, capped = timed(lambda: ws.grep(PATTERN))
        glob_s, py_files = timed(lambda: ws.glob("**/*.py"))

        rng = random.Random(11)
        targets = rng.sample(sorted(py_files), args.modified)
        for path in targets:
            text = ws.read(path)
            ws.write(path, text.replace("import sys\n", "import sys\nimport json\n", 1) + "# end\n")
        diff_s, patch = timed(ws.diff)
        flush_s, flushed = timed(ws.flush)

        figures = [
            ("build", build_seconds, None, {"files": args.files, "mb": round(total / 1e6, 1)}),
            ("grep_re2", grep_s, 1.0, {"files": args.files, "hits": len(hits)}),
            ("grep_re2_warm", warm_grep_s, None, {}),
            ("grep_re2_capped", capped_s, None, {"hits": len(capped)}),
            ("glob", glob_s, None, {"hits": len(py_files)}),
            ("diff", diff_s, None, {"files": args.modified, "kb": len(patch) // 1000}),
            ("flush_locked", flush_s, 2.0, {"files": len(flushed)}),
        ]
        for name, seconds, target, extra in figures:
            line = {"figure": name, "seconds": round(seconds, 3), "target_s": target, **extra}
            print(json.dumps(line))
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    with isolated_dirs("workspace"):
        main()
