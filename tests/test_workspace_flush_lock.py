"""Flush is one critical section per root: an OS lock across conflict check and writes.

Also: a killed flush leaves no torn file, and its temp files are cleaned up
by the next workspace on the root and never listed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tiller.errors import FlushConflict
from tiller.workspace import Workspace
from tiller.workspace.flush_lock import root_lock

FILES = 20


def _seed(root: Path) -> None:
    for index in range(FILES):
        (root / f"f{index:02d}.txt").write_text("base\n")


def _disk(root: Path) -> set[str]:
    return {(root / f"f{index:02d}.txt").read_text() for index in range(FILES)}


def _prepared(root: Path, tag: str) -> Workspace:
    ws = Workspace(root=root)
    for index in range(FILES):
        ws.edit(f"f{index:02d}.txt", "base", tag)
    return ws


def race(contenders: dict[str, Workspace]) -> list[str]:
    """Flush every workspace at once (one thread each, released together); the winners' tags."""
    gate = threading.Barrier(len(contenders))
    won: list[str] = []

    def flush(tag: str, ws: Workspace) -> None:
        gate.wait()
        try:
            ws.flush()
        except FlushConflict:
            return
        won.append(tag)

    threads = [threading.Thread(target=flush, args=item) for item in contenders.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_two_workspaces_flushing_in_threads_one_wins(tmp_path: Path) -> None:
    """Round after round, one of two concurrent flushes wins; the disk holds only its files."""
    outcomes = []
    for round_ in range(15):
        root = tmp_path / f"r{round_}"
        root.mkdir()
        _seed(root)
        won = race({tag: _prepared(root, tag) for tag in ("A", "B")})
        outcomes.append((len(won), _disk(root) == {f"{won[0]}\n"} if won else False))
    assert outcomes == [(1, True)] * 15


def test_workspaces_on_nested_roots_flushing_in_threads_one_wins(tmp_path: Path) -> None:
    """A workspace on a directory and one on its parent flush the same files: one wins."""
    outcomes = []
    for round_ in range(15):
        inner = tmp_path / f"r{round_}" / "sub"
        inner.mkdir(parents=True)
        _seed(inner)
        outer = Workspace(root=inner.parent)
        for index in range(FILES):
            outer.edit(f"sub/f{index:02d}.txt", "base", "A")
        won = race({"A": outer, "B": _prepared(inner, "B")})
        outcomes.append((len(won), _disk(inner) == {f"{won[0]}\n"} if won else False))
    assert outcomes == [(1, True)] * 15


CONTENDER = textwrap.dedent(
    """
    import sys
    from tiller.errors import FlushConflict
    from tiller.workspace import Workspace

    root, tag = sys.argv[1], sys.argv[2]
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        ws = Workspace(root=root)
        for index in range({files}):
            path = f"f{{index:02d}}.txt"
            ws.write(path, ws.read(path) + tag + "\\n")
        print("ready", flush=True)
        sys.stdin.readline()  # go
        try:
            ws.flush()
            print("won", flush=True)
        except FlushConflict:
            print("conflict", flush=True)
    """
).format(files=FILES)


def test_two_processes_flushing_one_root_one_wins(tmp_path: Path) -> None:
    """Two processes flushing 20 files at the same moment: one wins, the disk is never a mix."""
    _seed(tmp_path)
    procs = {
        tag: subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(tmp_path), tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("A", "B")
    }
    results = []
    try:
        for _ in range(8):
            before = (tmp_path / "f00.txt").read_text()
            for proc in procs.values():
                assert proc.stdin is not None
                proc.stdin.write("round\n")
                proc.stdin.flush()
            ready = [proc.stdout.readline().strip() for proc in procs.values() if proc.stdout]
            for proc in procs.values():
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            said = {tag: p.stdout.readline().strip() for tag, p in procs.items() if p.stdout}
            winners = [tag for tag, word in said.items() if word == "won"]
            expected = {before + winners[0] + "\n"} if len(winners) == 1 else set()
            results.append((ready, len(winners), _disk(tmp_path) == expected))
    finally:
        for proc in procs.values():
            assert proc.stdin is not None
            proc.stdin.write("quit\n")
            proc.stdin.close()
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()
    assert results == [(["ready", "ready"], 1, True)] * 8


def test_leftover_temp_files_are_not_listed(tmp_path: Path) -> None:
    """A `.name.<hex>.tiller-tmp` file in the root is never a workspace file."""
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / ".a.txt.0badf00d.tiller-tmp").write_text("half")
    ws = Workspace(root=tmp_path)
    assert (ws.list_dir(), ws.glob("**/*"), list(ws.base_files())) == (
        ["a.txt"],
        ["a.txt"],
        ["a.txt"],
    )


KILLER = textwrap.dedent(
    """
    import json, os, random, signal, sys, threading, time
    from tiller.workspace import Workspace

    root, rounds_wanted = sys.argv[1], int(sys.argv[2])
    COUNT = 80

    def content(round_, index):
        return f"round {round_} file {index}\\n" * 100

    def flush(round_):
        ws = Workspace(root=root)
        for index in range(COUNT):
            ws.write(f"d{index % 7}/f{index}.txt", content(round_, index))
        return ws

    first = flush(0)
    start = time.perf_counter()
    first.flush()
    span = time.perf_counter() - start  # how long one flush takes: kills land within it
    rng = random.Random(1234)
    kills = torn = leftovers = stray_before = 0
    round_ = 0
    while kills < rounds_wanted and round_ < rounds_wanted * 10:
        round_ += 1
        ws = flush(round_)
        pid = os.fork()
        if pid == 0:
            delay = rng.uniform(0, span * 1.2)
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
            ws.flush()
            os._exit(0)
        rng.random()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            kills += 1
        for directory, _, names in os.walk(root):
            stray_before += sum(name.endswith(".tiller-tmp") for name in names)
        Workspace(root=root)  # the next workspace on the root cleans up
        for directory, _, names in os.walk(root):
            leftovers += sum(name.endswith(".tiller-tmp") for name in names)
        for index in range(COUNT):
            with open(os.path.join(root, f"d{index % 7}/f{index}.txt")) as handle:
                text = handle.read()
            number = int(text.split(" ", 2)[1]) if text.startswith("round ") else -1
            torn += text != content(number, index)
    print(json.dumps({"kills": kills, "torn": torn, "leftovers": leftovers,
                      "stray_before": stray_before}))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_nine_during_flush_leaves_no_torn_or_temp_file(tmp_path: Path) -> None:
    """20+ SIGKILLs at random points of an 80-file flush: no torn file, no temp file left."""
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path), "20"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(done.stdout)
    assert (report["kills"] >= 20, report["torn"], report["leftovers"]) == (True, 0, 0)


def test_flushes_on_sibling_roots_do_not_wait_for_each_other(tmp_path: Path) -> None:
    """Holding the flush lock of one directory does not block its sibling's."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with root_lock(str(tmp_path / "a")), root_lock(str(tmp_path / "b")) as intent:
        assert intent.name.endswith(".intent")
