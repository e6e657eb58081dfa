"""Property: random edit, undo, redo, disk-change, read and flush steps never lose a disk edit.

A small model tracks, per path, the disk content each overlay change was based
on (what the workspace last read, pinned at the first change and carried
through undo and redo). Checked after every step: a non-forced flush only
overwrites files whose disk content is still that base; `conflicts()` names
every changed file whose disk content moved on; and at the end `diff()` of
the non-conflicting files applies with `git apply --check` to the disk, the
whole `diff()` to the tree of bases it was made from.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiller.errors import EditError, FileNotFoundInWorkspace, FlushConflict
from tiller.workspace import Workspace

PATHS = ["a.txt", "d/c.txt", "d/e.txt"]
ALIASES = {"link.txt": "a.txt"}
"""`link.txt` is a symlink to `a.txt` in the root: the same file under another name."""

# Steps come in rounds shaped like a session: maybe a checkpoint, an agent change, maybe
# a user change on disk, maybe an undo or redo, maybe a read, maybe a flush. Few paths,
# so rounds collide on the same file often.
PATH = st.sampled_from([*PATHS, *ALIASES])
ROUND = st.tuples(
    st.sampled_from([("checkpoint", ""), ("", "")]),
    st.tuples(st.sampled_from(["write", "edit", "delete"]), PATH),
    st.one_of(st.just(("", "")), st.tuples(st.sampled_from(["disk", "disk", "rm"]), PATH)),
    st.sampled_from([("undo", ""), ("undo", ""), ("redo", ""), ("", "")]),
    st.one_of(st.just(("", "")), st.tuples(st.just("read"), PATH)),
    st.sampled_from([("flush", ""), ("", ""), ("", "")]),
)
OPS = st.lists(ROUND, min_size=1, max_size=8).map(
    lambda rounds: [step for round_ in rounds for step in round_ if step[0]]
)

Content = str | None


@dataclass
class Model:
    """What the workspace should believe: overlay, bases, and undo/redo stacks of both."""

    files: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    seen: dict[str, Content] = field(default_factory=dict)
    undo: list[tuple[dict[str, str], set[str], dict[str, Content]]] = field(default_factory=list)
    redo: list[tuple[dict[str, str], set[str], dict[str, Content]]] = field(default_factory=list)

    def state(self) -> tuple[dict[str, str], set[str], dict[str, Content]]:
        touched = set(self.files) | self.deleted
        return dict(self.files), set(self.deleted), {p: self.seen[p] for p in touched}

    def restore(self, state: tuple[dict[str, str], set[str], dict[str, Content]]) -> None:
        self.files, self.deleted = dict(state[0]), set(state[1])
        self.seen.update(state[2])

    def changed(self) -> list[str]:
        out = []
        for path in set(self.files) | self.deleted:
            new = self.files.get(path)
            if new != self.seen.get(path) and not (new is None and self.seen.get(path) is None):
                out.append(path)
        return sorted(out)


class Run:
    """One example: a real root, a workspace on it, and the model."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for index, path in enumerate(PATHS[:2]):
            self._put(path, f"base {index}\n")
        for alias, target in ALIASES.items():
            (root / alias).symlink_to(target)
        self.ws = Workspace(root=root)
        self.model = Model()
        self.counter = 0

    def _put(self, path: str, text: str | None) -> None:
        file = self.root / path
        if text is None:
            file.unlink(missing_ok=True)
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)

    def disk(self, path: str) -> Content:
        file = self.root / path
        return file.read_text() if file.is_file() else None

    def fresh(self, who: str) -> str:
        self.counter += 1
        return f"{who} {self.counter}\n"

    def _touch(self, path: str) -> None:
        if path not in self.model.seen:
            self.model.seen[path] = self.disk(path)

    def _visible(self, path: str) -> Content:
        m = self.model
        if path in m.files:
            return m.files[path]
        return None if path in m.deleted else self.disk(path)

    def step(self, op: str, name: str) -> None:
        """Run one step through `name` (maybe an alias) and mirror it on its real path."""
        m, ws = self.model, self.ws
        path = ALIASES.get(name, name)
        if op == "delete" and name in ALIASES:
            return  # deleting through a link is refused; test_workspace_symlinks covers it
        if op == "read":
            expected = self._visible(path)
            try:
                got: Content = ws.read(name)
            except FileNotFoundInWorkspace:
                got = None
            if path not in m.files and path not in m.deleted and expected is not None:
                m.seen[path] = expected
            assert got == expected
        elif op == "write":
            text = self.fresh("agent")
            ws.write(name, text)
            self._touch(path)
            m.files[path] = text
            m.deleted.discard(path)
        elif op == "edit":
            current = self._visible(path)
            if current is None:
                return
            text = current + self.fresh("edit")
            try:
                ws.edit(name, current, text)
            except EditError:
                return
            if path not in m.files and path not in m.deleted:
                m.seen[path] = current
            self._touch(path)
            m.files[path] = text
        elif op == "delete":
            if self._visible(path) is None:
                return
            ws.delete(path)
            self._touch(path)
            m.files.pop(path, None)
            if m.seen[path] is not None:
                m.deleted.add(path)
        elif op == "disk":
            self._put(path, self.fresh("user"))
        elif op == "rm":
            self._put(path, None)
        elif op == "checkpoint":
            ws.checkpoint()
            m.undo.append(m.state())
            m.redo.clear()
        elif op == "undo" and m.undo:
            assert ws.undo()
            m.redo.append(m.state())
            m.restore(m.undo.pop())
        elif op == "redo" and m.redo:
            assert ws.redo()
            m.undo.append(m.state())
            m.restore(m.redo.pop())
        elif op == "flush":
            self.flush()
        self.check_conflicts()

    def unsafe(self) -> list[str]:
        """Changed paths whose disk content is no longer what the change was based on."""
        return [p for p in self.model.changed() if self.disk(p) != self.model.seen.get(p)]

    def check_conflicts(self) -> None:
        assert set(self.unsafe()) <= set(self.ws.conflicts())

    def flush(self) -> None:
        m = self.model
        before = {path: self.disk(path) for path in PATHS}
        try:
            written = self.ws.flush()
        except FlushConflict:
            assert {path: self.disk(path) for path in PATHS} == before
            return
        for path in written:
            assert before[path] == m.seen.get(path), f"{path}: a disk edit was overwritten"
        flushed = {path: self.disk(path) for path in written}
        for path in written:
            m.files.pop(path, None)
            m.deleted.discard(path)
        m.seen.update(flushed)
        for stack in (m.undo, m.redo):
            for _, _, bases in stack:
                for path in written:
                    if path in bases:
                        bases[path] = flushed[path]

    def check_diff_applies(self, scratch: Path) -> None:
        """The non-conflicting diff applies to the disk; the whole diff to the bases it names."""
        clean = [p for p in self.model.changed() if p not in self.ws.conflicts()]
        _git_apply_check(self.root, self.ws.diff(clean) if clean else "")
        for path in PATHS:
            text = self.model.seen[path] if path in self.model.changed() else self.disk(path)
            if text is not None:
                (scratch / path).parent.mkdir(parents=True, exist_ok=True)
                (scratch / path).write_text(text)
        _git_apply_check(scratch, self.ws.diff())


def _git_apply_check(tree: Path, patch: str) -> None:
    if not patch:
        return
    done = subprocess.run(
        ["git", "apply", "--check", "-"], cwd=tree, input=patch, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{done.stderr}\n{patch}"


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=OPS)
def test_no_disk_edit_is_ever_overwritten(ops: list[tuple[str, str]]) -> None:
    """Flush never overwrites a disk edit; conflicts() is truthful; the diff applies."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "root").mkdir()
        (Path(tmp) / "base").mkdir()
        run = Run(Path(tmp) / "root")
        for op, path in ops:
            run.step(op, path)
        run.check_diff_applies(Path(tmp) / "base")
