"""Benchmark the session journal: bytes written for repeated edits of a big file.

A 1 MB file (20,000 lines) is edited 100 times by the model through `edit_file`
(one small change per round, the scripted model standing in for a provider);
prints one JSON line with the journal's size (target <= 5 MB; the format-1
journal re-appended the whole file on every edit, ~100 MB), the seconds the
100 rounds took, and the seconds `restore_session` needs to replay it.

    .venv/bin/python bench/journal.py [--edits 100] [--size 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from isolation import isolated_dirs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiller-bench-journal-") as temp:
        os.environ["TILLER_DATA_DIR"] = str(Path(temp) / "data")
        result = run(Path(temp), args.edits, args.size)
    print(json.dumps(result))


def run(temp: Path, edits: int, size: int) -> dict[str, object]:
    from tiller.journal import Journal, journal_path, restore_session
    from tiller.session import Session
    from tiller.testing.scripted import ScriptedModel, Step, call

    root = temp / "project"
    root.mkdir()
    width = 50
    lines = [f"{i:08d} " + "x" * (width - 10) + "\n" for i in range(size // width)]
    (root / "big.txt").write_text("".join(lines))
    steps: list[Step | str] = []
    for i in range(edits):
        old = lines[(i * 197) % len(lines)]
        steps.append(
            call("edit_file", file_path="big.txt", old_string=old, new_string=f"edit {i}\n")
        )
    steps.append("done")
    session = Session(ScriptedModel(steps), root=root, max_turns=edits + 1)
    Journal.attach(session)
    start = time.perf_counter()
    reply = session.send("edit it")
    rounds_s = time.perf_counter() - start
    session.close()
    assert reply.stop_reason == "completed", reply
    start = time.perf_counter()
    restored = restore_session(session.id, client=ScriptedModel(), journal=False)
    restore_s = time.perf_counter() - start
    assert restored.files() == session.files()
    journal_bytes = journal_path(session.id).stat().st_size
    return {
        "bench": "journal_big_file_edits",
        "file_bytes": len("".join(lines)),
        "edits": edits,
        "journal_bytes": journal_bytes,
        "target_bytes": 5_000_000,
        "rounds_s": round(rounds_s, 3),
        "restore_s": round(restore_s, 3),
    }


if __name__ == "__main__":
    with isolated_dirs("journal"):
        main()
