"""Result lines: appended whole from many threads, and a torn tail never breaks a resume."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tiller.batch.results import ResultWriter
from tiller.batch.tasks import (
    ResultsFileError,
    TaskFileError,
    TaskResult,
    finished_ids,
    latest_results,
    load_tasks,
)


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


def test_a_line_torn_within_its_first_bytes_is_skipped(tmp_path: Path) -> None:
    """A writer cut off after `{"i` left a torn line, not a foreign one."""
    out = tmp_path / "r.jsonl"
    out.write_text('{"i\n' + json.dumps({"id": "a", "status": "completed"}) + "\n")
    assert finished_ids(out) == {"a"}


def test_a_line_torn_inside_a_utf8_character_is_skipped(tmp_path: Path) -> None:
    """A tail cut in the middle of a multi-byte character is a torn line, not a crash."""
    out = tmp_path / "r.jsonl"
    whole = json.dumps({"id": "a", "status": "completed"}) + "\n"
    torn = json.dumps({"id": "b", "status": "completed", "answer": "é"}, ensure_ascii=False)
    out.write_bytes(whole.encode() + torn.encode()[:-3])
    assert finished_ids(out) == {"a"}


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "a", "repo": ".", "prompt": "a task, not a result"}\n',
        b"\x89PNG\r\n\x1a\n\x00\x00binary\n",
        b"# some notes\n",
    ],
    ids=["a-tasks-line", "binary", "text"],
)
def test_a_file_that_is_not_a_results_file_is_refused(tmp_path: Path, content: bytes) -> None:
    """Resuming into a file holding other lines says which line, instead of appending to it."""
    out = tmp_path / "r.jsonl"
    out.write_bytes(json.dumps({"id": "z", "status": "completed"}).encode() + b"\n" + content)
    with pytest.raises(ResultsFileError) as caught:
        finished_ids(out)
    assert str(caught.value).startswith(f"{out} line 2 is not a result line")


def test_a_tasks_line_that_is_not_utf8_is_named_by_its_number(tmp_path: Path) -> None:
    """A tasks file with a Latin-1 byte lists that line like any other malformed one."""
    tasks = tmp_path / "t.jsonl"
    good = json.dumps({"id": "a", "repo": ".", "prompt": "p"}).encode()
    tasks.write_bytes(good + b"\n" + b'{"id": "caf\xe9", "repo": ".", "prompt": "p"}\n')
    with pytest.raises(TaskFileError) as caught:
        load_tasks(tasks)
    assert caught.value.problems == ["line 2: not UTF-8 (byte 0xe9 at column 12)"]


def test_a_commit_that_reads_as_a_git_option_is_refused(tmp_path: Path) -> None:
    """`commit` goes on git's command line: one starting with '-' is a malformed line."""
    tasks = tmp_path / "t.jsonl"
    line = {
        "id": "a",
        "repo": "https://example.invalid/r.git",
        "prompt": "p",
        "commit": "--orphan=x",
    }
    tasks.write_text(json.dumps(line) + "\n")
    with pytest.raises(TaskFileError) as caught:
        load_tasks(tasks)
    assert caught.value.problems == ["line 1: 'commit' must name a commit, not start with '-'"]


def test_a_result_field_of_the_wrong_type_reads_as_its_default(tmp_path: Path) -> None:
    """A hand-edited line (`duration_s: "slow"`) neither breaks a report nor a resume."""
    out = tmp_path / "r.jsonl"
    line = {"id": "a", "status": "error", "duration_s": "slow", "files_changed": 5, "error": 7}
    out.write_text(json.dumps(line) + "\n")
    [result] = latest_results(out)
    assert (result.duration_s, result.files_changed, result.error) == (0.0, [], None)


def test_every_result_field_is_read_back() -> None:
    """A field added to TaskResult is also read from results files."""
    result = TaskResult(id="a", status="completed", rounds=2, answer="x", usage={"c": 1})
    assert TaskResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
