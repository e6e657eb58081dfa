"""Work out what a parsed v4a patch does to the files, without changing any.

`plan_patch` reads through two callbacks and checks every operation before
anything is written, so a patch applies completely or not at all. Hunk context
is matched exactly first, then ignoring trailing whitespace, then ignoring all
leading and trailing whitespace; the looser matches are reported in the plan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from tiller.errors import BinaryFileError, FileNotFoundInWorkspace
from tiller.tools.patch_format import AddFile, DeleteFile, Hunk, PatchError, PatchOp, UpdateFile

_PASSES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("", lambda line: line),
    ("after ignoring trailing whitespace", str.rstrip),
    ("after ignoring leading and trailing whitespace (indentation)", str.strip),
)
"""Matching passes, strictest first: (how the match was loosened, line normaliser)."""


@dataclass(frozen=True, slots=True)
class PatchPlan:
    """The effect of a patch.

    Attributes:
        changes: `(path, content)` for every path the patch touches, in the order
            first touched; content None means the file is deleted.
        summary: one line per operation: `A path`, `M path`, `D path`, `R old -> new`.
        notes: where a hunk matched only loosely, one sentence each.
    """

    changes: tuple[tuple[str, str | None], ...]
    summary: tuple[str, ...]
    notes: tuple[str, ...]


def plan_patch(
    ops: list[PatchOp],
    read: Callable[[str], str],
    exists: Callable[[str], bool],
    key: Callable[[str, bool], str] | None = None,
) -> PatchPlan:
    """Check `ops` against the files and compute the new contents.

    Operations see the effect of earlier ones in the same patch (add then
    update the same file, for example).

    Args:
        ops: the parsed patch.
        read: a file's text; raises `FileNotFoundInWorkspace`, `BinaryFileError`
            or another `WorkspaceError`.
        exists: whether a path exists; may raise `WorkspaceError` for a bad path.
        key: `key(path, removing)` gives the one name of the file a path names
            (`./a.txt` is `a.txt`), so two spellings cannot both be added;
            `removing` is true for a deleted or moved-away path. Paths are used
            as written without it.

    Raises:
        PatchError: an operation does not fit the files (context not found, a file
            to add exists, a file to update or delete is missing).
        WorkspaceError: `read` or `exists` refused a path.
    """
    view = _View(read, exists)
    summary: list[str] = []
    notes: list[str] = []
    for op in ops:
        if key is not None:
            op = _keyed(op, key)
        if isinstance(op, AddFile):
            if view.exists(op.path):
                raise PatchError(
                    f"Cannot add {op.path}: it already exists (use '*** Update File:' to "
                    "change it, or delete it first)"
                )
            view.pending[op.path] = op.content
            summary.append(f"A {op.path}")
        elif isinstance(op, DeleteFile):
            if not view.exists(op.path):
                raise PatchError(f"Cannot delete {op.path}: no such file{view.gone(op.path)}")
            with contextlib.suppress(BinaryFileError):  # binary files may go
                view.read(op.path)  # but directories are refused here
            view.pending[op.path] = None
            summary.append(f"D {op.path}")
        else:
            content = _update(op, view, notes)
            target = op.move_to or op.path
            if target != op.path:
                if view.exists(target):
                    raise PatchError(f"Cannot move {op.path} to {target}: {target} already exists")
                view.pending[op.path] = None
                summary.append(f"R {op.path} -> {target}")
            else:
                summary.append(f"M {op.path}")
            view.pending[target] = content
    return PatchPlan(tuple(view.pending.items()), tuple(summary), tuple(notes))


def _keyed(op: PatchOp, key: Callable[[str, bool], str]) -> PatchOp:
    """`op` with its paths replaced by their one name."""
    if isinstance(op, AddFile):
        return replace(op, path=key(op.path, False))
    if isinstance(op, DeleteFile):
        return replace(op, path=key(op.path, True))
    move_to = None if op.move_to is None else key(op.move_to, False)
    path = key(op.path, move_to is not None)
    return replace(op, path=path, move_to=None if move_to == path else move_to)


class _View:
    """The files as the patch has left them so far."""

    def __init__(self, read: Callable[[str], str], exists: Callable[[str], bool]) -> None:
        self._read = read
        self._exists = exists
        self.pending: dict[str, str | None] = {}

    def exists(self, path: str) -> bool:
        if path in self.pending:
            return self.pending[path] is not None
        return self._exists(path)

    def gone(self, path: str) -> str:
        """A note for a path this patch already deleted or moved away, else ""."""
        if path in self.pending and self.pending[path] is None:
            return " (it was deleted or moved earlier in this patch)"
        return ""

    def read(self, path: str) -> str:
        if path in self.pending:
            content = self.pending[path]
            if content is None:
                raise FileNotFoundInWorkspace(f"{path} was deleted earlier in this patch")
            return content
        return self._read(path)


def _update(op: UpdateFile, view: _View, notes: list[str]) -> str:
    if not view.exists(op.path):
        hint = view.gone(op.path) or " (use '*** Add File:' to create it)"
        raise PatchError(f"Cannot update {op.path}: no such file{hint}")
    content = view.read(op.path)
    eol = "\r\n" if "\r\n" in content and content.count("\r\n") == content.count("\n") else "\n"
    lines = content.split(eol)
    trailing_eol = lines[-1] == ""
    if trailing_eol:
        lines.pop()
    cursor = 0
    for number, hunk in enumerate(op.hunks, 1):
        cursor = _apply_hunk(op.path, number, hunk, lines, cursor, notes)
    if not lines:
        return ""
    return eol.join(lines) + (eol if trailing_eol else "")


def _apply_hunk(
    path: str, number: int, hunk: Hunk, lines: list[str], cursor: int, notes: list[str]
) -> int:
    """Apply `hunk` to `lines` in place at or after `cursor`; returns the next cursor."""
    where = f"{path} hunk {number} (patch line {hunk.line})"
    for anchor in hunk.anchors:
        found_anchor = _find_anchor(lines, anchor, cursor)
        if found_anchor is None:
            raise PatchError(f"{where}: could not find the line '@@ {anchor}' in {path}")
        cursor = found_anchor
    old = hunk.old
    if not old:
        at = cursor if hunk.anchors and not hunk.end_of_file else len(lines)
        lines[at:at] = hunk.new
        return at + len(hunk.new)
    found = _find_block(lines, old, cursor, hunk.end_of_file)
    if found is None:
        raise PatchError(_not_found(where, hunk, lines, cursor))
    at, loosened = found
    if loosened:
        notes.append(f"{where} matched only {loosened}; check the result.")
    replacement: list[str] = []
    index = at
    for kind, text in hunk.lines:
        if kind == " ":
            replacement.append(lines[index])  # keep the file's own whitespace
            index += 1
        elif kind == "-":
            index += 1
        else:
            replacement.append(text)
    lines[at : at + len(old)] = replacement
    return at + len(replacement)


def _find_anchor(lines: list[str], anchor: str, cursor: int) -> int | None:
    """The index just past the line `anchor` names, searching forward from `cursor`.

    As in OpenAI's reference implementation, an anchor already passed (a second
    hunk in the same function) leaves the cursor where it is.
    """
    for _, normal in _PASSES[::2]:
        wanted = normal(anchor)
        if any(normal(line) == wanted for line in lines[:cursor]):
            return cursor
        for index in range(cursor, len(lines)):
            if normal(lines[index]) == wanted:
                return index + 1
    return None


def _find_block(
    lines: list[str], old: list[str], cursor: int, end_of_file: bool
) -> tuple[int, str] | None:
    """Where `old` occurs at or after `cursor`, and how loosely it matched."""
    size = len(old)
    for loosened, normal in _PASSES:
        wanted = [normal(line) for line in old]
        have = [normal(line) for line in lines]
        if end_of_file:
            at = len(lines) - size
            if at >= cursor and have[at:] == wanted:
                return at, loosened
            continue
        for at in range(cursor, len(lines) - size + 1):
            if have[at : at + size] == wanted:
                return at, loosened
    if end_of_file:
        found = _find_block(lines, old, cursor, end_of_file=False)
        if found is not None:
            at, loosened = found
            away = "away from the end of the file despite '*** End of File'"
            return at, f"{loosened}, {away}" if loosened else away
    return None


def _not_found(where: str, hunk: Hunk, lines: list[str], cursor: int) -> str:
    expected = "\n".join(hunk.old)
    after = f" after the line '@@ {hunk.anchors[-1]}'" if hunk.anchors else ""
    message = f"Context not found: {where} expects these lines{after}:\n{expected}\n"
    earlier = _find_block(lines[:cursor], hunk.old, 0, end_of_file=False) if cursor else None
    if earlier is not None:
        message += (
            f"They occur at line {earlier[0] + 1}, before the previous hunk; list hunks "
            "in file order.\n"
        )
    else:
        message += _closest(hunk.old, lines, cursor)
    return message + "Read the file again and rebuild the hunk from its current text."


def _closest(old: list[str], lines: list[str], cursor: int) -> str:
    """Where the hunk's leading lines match longest (whitespace aside), and what differs next."""
    wanted = [line.strip() for line in old]
    have = [line.strip() for line in lines]
    best_at, best_size = -1, 0
    for at in range(cursor, len(have)):
        size = 0
        while size < len(wanted) and at + size < len(have) and have[at + size] == wanted[size]:
            size += 1
        if size > best_size:
            best_at, best_size = at, size
    if best_size == 0:
        return ""
    differs = best_at + best_size
    if differs >= len(lines):
        found = "the file ends"
    else:
        found = f"line {differs + 1} is {lines[differs]!r}"
    return (
        f"The closest match starts at line {best_at + 1}, but then {found} where the hunk "
        f"expects {old[best_size]!r}.\n"
    )
