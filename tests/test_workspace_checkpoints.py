"""Workspace checkpoints (undo/redo), change listeners and thread safety."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tiller.workspace import Workspace


def test_undo_restores_last_checkpoint() -> None:
    """undo() puts the overlay back as it was at the last checkpoint."""
    ws = Workspace({"a.txt": "a\n"})
    ws.checkpoint()
    ws.write("a.txt", "changed\n")
    ws.write("b.txt", "b\n")
    assert (ws.undo(), ws.files()) == (True, {"a.txt": "a\n"})


def test_redo_reapplies_undone_turn() -> None:
    """redo() brings back what undo() took away."""
    ws = Workspace({"a.txt": "a\n"})
    ws.checkpoint()
    ws.write("a.txt", "changed\n")
    ws.undo()
    assert (ws.redo(), ws.files()) == (True, {"a.txt": "changed\n"})


def test_undo_restores_deleted_base_file(tmp_path: Path) -> None:
    """Undoing a turn that deleted a base file makes it readable again."""
    (tmp_path / "a.txt").write_text("a\n")
    ws = Workspace(root=tmp_path)
    ws.checkpoint()
    ws.delete("a.txt")
    ws.undo()
    assert (ws.read("a.txt"), ws.changes()) == ("a\n", [])


def test_undo_walks_back_turn_by_turn() -> None:
    """Each undo goes back one checkpoint."""
    ws = Workspace()
    ws.checkpoint()
    ws.write("a.txt", "1")
    ws.checkpoint()
    ws.write("a.txt", "2")
    ws.checkpoint()
    ws.write("a.txt", "3")
    seen = []
    while ws.undo():
        seen.append(ws.files().get("a.txt"))
    assert seen == ["2", "1", None]


@pytest.mark.parametrize("method", ["undo", "redo"])
def test_nothing_to_undo_or_redo(method: str) -> None:
    """undo()/redo() return False when their stack is empty."""
    ws = Workspace({"a.txt": "a"})
    assert (getattr(ws, method)(), ws.files()) == (False, {"a.txt": "a"})


def test_new_checkpoint_clears_redo() -> None:
    """A checkpoint after an undo drops the redo stack."""
    ws = Workspace()
    ws.checkpoint()
    ws.write("a.txt", "a")
    ws.undo()
    ws.checkpoint()
    assert (ws.can_redo, ws.redo(), ws.files()) == (False, False, {})


def test_undo_of_turn_without_changes_is_consistent() -> None:
    """Undoing an empty turn changes nothing and can be redone, then earlier turns undone."""
    ws = Workspace()
    ws.checkpoint()
    ws.write("a.txt", "a")
    ws.checkpoint()
    results = [ws.undo(), ws.files(), ws.can_redo, ws.redo(), ws.files(), ws.undo(), ws.undo()]
    assert results == [True, {"a.txt": "a"}, True, True, {"a.txt": "a"}, True, True]


def test_can_undo_and_can_redo() -> None:
    """The properties follow the stacks."""
    ws = Workspace()
    states = [(ws.can_undo, ws.can_redo)]
    ws.checkpoint()
    states.append((ws.can_undo, ws.can_redo))
    ws.undo()
    states.append((ws.can_undo, ws.can_redo))
    assert states == [(False, False), (True, False), (False, True)]


def test_subscribe_reports_changes() -> None:
    """Subscribers get (path, action) for writes, edits, deletes, undo and redo."""
    ws = Workspace({"a.txt": "a\n"})
    events: list[tuple[str, str]] = []
    ws.subscribe(lambda path, action: events.append((path, action)))
    ws.checkpoint()
    ws.write("b.txt", "b\n")
    ws.edit("a.txt", "a", "A")
    ws.delete("b.txt")
    ws.undo()
    ws.redo()
    assert events == [
        ("b.txt", "write"),
        ("a.txt", "edit"),
        ("b.txt", "delete"),
        ("a.txt", "undo"),
        ("a.txt", "redo"),
    ]


def test_flush_is_reported(tmp_path: Path) -> None:
    """Subscribers hear about flushed paths."""
    ws = Workspace(root=tmp_path)
    events: list[tuple[str, str]] = []
    ws.subscribe(lambda path, action: events.append((path, action)))
    ws.write("a.txt", "a\n")
    ws.flush()
    assert events == [("a.txt", "write"), ("a.txt", "flush")]


def test_unsubscribe_stops_reports() -> None:
    """The function returned by subscribe() removes the listener."""
    ws = Workspace()
    events: list[tuple[str, str]] = []
    unsubscribe = ws.subscribe(lambda path, action: events.append((path, action)))
    unsubscribe()
    ws.write("a.txt", "a")
    assert events == []


def test_on_change_attribute() -> None:
    """The on_change attribute is called like a subscriber."""
    ws = Workspace()
    events: list[tuple[str, str]] = []
    ws.on_change = lambda path, action: events.append((path, action))
    ws.write("a.txt", "a")
    assert events == [("a.txt", "write")]


def test_failing_listener_does_not_break_writes() -> None:
    """A listener that raises is ignored; the write stands."""
    ws = Workspace()

    def broken(path: str, action: str) -> None:
        raise RuntimeError("boom")

    ws.subscribe(broken)
    ws.write("a.txt", "a")
    assert ws.files() == {"a.txt": "a"}


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    """Threads writing, editing and searching one workspace lose no write."""
    (tmp_path / "shared.txt").write_text("")
    ws = Workspace(root=tmp_path)
    start = threading.Barrier(6)

    def writer(worker: int) -> None:
        start.wait()
        for index in range(100):
            ws.write(f"w{worker}/f{index}.txt", f"{worker}-{index}\n")
            ws.edit(f"w{worker}/f{index}.txt", f"{worker}-{index}", f"done {worker}-{index}")

    def reader(_: int) -> None:
        start.wait()
        for _ in range(20):
            ws.grep("done")
            ws.glob("**/*.txt")
            ws.changes()

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(writer, n) for n in range(4)]
        futures += [pool.submit(reader, n) for n in range(2)]
        for future in futures:
            future.result()
    assert (len(ws.files()), len(ws.grep("^done", max_results=None))) == (400, 400)
