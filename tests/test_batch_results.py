"""Result lines: appended whole from many threads, and a torn tail never breaks a resume."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tiller.batch.results import ResultWriter
from tiller.batch.tasks import TaskResult, finished_ids


def test_lines_from_many_threads_are_never_interleaved(tmp_path: Path) -> None:
    """8 threads x 10 large results: 80 lines, each one whole JSON object."""
    out = tmp_path / "r.jsonl"
    go = threading.Event()
    big = "x" * 100_000  # far beyond a pipe buffer or a page: one write must still hold it

    with ResultWriter(out) as writer:

        def write_some(worker: int) -> None:
            go.wait()
            for n in range(10):
                writer.write(TaskResult(id=f"{worker}-{n}", status="completed", patch=big))

        threads = [threading.Thread(target=write_some, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:
            thread.join()
    lines = out.read_text().splitlines()
    ids = {json.loads(line)["id"] for line in lines}
    assert (len(lines), len(ids)) == (80, 80)


def test_a_torn_last_line_is_skipped_and_the_next_line_starts_clean(tmp_path: Path) -> None:
    """A file cut mid-line: resume ignores the fragment and the next result is its own line."""
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"id": "a", "status": "completed"}) + '\n{"id": "b", "sta')
    with ResultWriter(out) as writer:
        writer.write(TaskResult(id="c", status="error"))
    assert (finished_ids(out), out.read_text().splitlines()[-1]) == (
        {"a", "c"},
        json.dumps(TaskResult(id="c", status="error").to_dict(), separators=(",", ":")),
    )


def test_a_cancelled_result_runs_again_on_resume(tmp_path: Path) -> None:
    """Only results other than `cancelled` count as finished."""
    out = tmp_path / "r.jsonl"
    with ResultWriter(out) as writer:
        writer.write(TaskResult(id="a", status="cancelled"))
        writer.write(TaskResult(id="b", status="turn_limit"))
    assert finished_ids(out) == {"b"}
