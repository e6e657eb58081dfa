"""The v4a patch format of OpenAI's `apply_patch`, parsed into file operations.

```
*** Begin Patch
*** Add File: path        (then the new lines, each prefixed with `+`)
*** Delete File: path
*** Update File: path
*** Move to: new/path     (optional, right after Update File)
@@ def anchor():          (optional; stack several to narrow the location)
 context
-removed
+added
*** End of File           (optional: the hunk ends at the end of the file)
*** End Patch
```

Parsing is pure; `tiller.tools.patch_plan` works out what the operations do
to the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tiller.errors import ToolError

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File:"
UPDATE = "*** Update File:"
DELETE = "*** Delete File:"
MOVE = "*** Move to:"
END_OF_FILE = "*** End of File"

# Models trained on unified diffs sometimes send `@@ -3,7 +3,8 @@ def f():`; the
# numbers are ignored and the trailing text kept as the anchor.
_UNIFIED_HEADER = re.compile(r"@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(.*)")


class PatchError(ToolError):
    """A patch is malformed or does not apply; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Hunk:
    """One `@@` section of an update.

    Attributes:
        anchors: the text of the `@@ ...` lines before it, outermost first; each
            names a line (a class or function) the change lies after.
        lines: `(kind, text)` pairs; kind is `" "` (context), `"-"` or `"+"`.
        end_of_file: the hunk's old lines end at the end of the file.
        line: the 1-based patch line where the hunk starts, for messages.
    """

    anchors: tuple[str, ...]
    lines: tuple[tuple[str, str], ...]
    end_of_file: bool = False
    line: int = 0

    @property
    def old(self) -> list[str]:
        """The lines the hunk expects in the file: context and removed lines."""
        return [text for kind, text in self.lines if kind != "+"]

    @property
    def new(self) -> list[str]:
        """The lines that replace them: context and added lines."""
        return [text for kind, text in self.lines if kind != "-"]


@dataclass(frozen=True, slots=True)
class AddFile:
    """Create `path` with `content`; the file must not exist."""

    path: str
    content: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class DeleteFile:
    """Delete `path`; the file must exist."""

    path: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class UpdateFile:
    """Apply `hunks` to `path`, in order, then move it to `move_to` if given."""

    path: str
    hunks: tuple[Hunk, ...]
    move_to: str | None = None
    line: int = 0


PatchOp = AddFile | DeleteFile | UpdateFile


def parse_patch(text: str) -> list[PatchOp]:
    """Parse a v4a patch into its file operations, in patch order.

    Blank lines around the envelope and between file sections are ignored, as
    are `\\r` line ends. A bare empty line inside a hunk counts as an empty
    context line.

    Raises:
        PatchError: the patch is malformed; the message names the line and
            what was expected there.
    """
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    filled = [number for number, line in enumerate(lines) if line.strip()]
    if not filled:
        raise PatchError(f"The patch is empty; it must start with {BEGIN!r}")
    first, last = filled[0], filled[-1]
    if lines[first].strip() != BEGIN:
        raise PatchError(_at(first + 1, f"expected {BEGIN!r}, got {lines[first]!r}"))
    if last == first or lines[last].strip() != END:
        raise PatchError(
            _at(last + 1, f"the patch must end with {END!r}; the last line is {lines[last]!r}")
        )
    return _Parser(lines[first + 1 : last], first + 2).parse()


def _at(line: int, message: str) -> str:
    return f"Malformed patch, line {line}: {message}"


def _is_section_end(line: str) -> bool:
    """Whether `line` ends the current file section (any `***` directive line)."""
    return line.startswith("***")


class _Parser:
    """Walks the lines between `*** Begin Patch` and `*** End Patch`."""

    def __init__(self, lines: list[str], first_line: int) -> None:
        self.lines = lines
        self.first_line = first_line
        self.index = 0

    @property
    def number(self) -> int:
        """The 1-based patch line number of the current line."""
        return self.first_line + self.index

    def parse(self) -> list[PatchOp]:
        ops: list[PatchOp] = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if not line.strip():
                self.index += 1
            elif line.startswith(ADD):
                ops.append(self._add(self._path(ADD)))
            elif line.startswith(DELETE):
                ops.append(self._delete(self._path(DELETE)))
            elif line.startswith(UPDATE):
                ops.append(self._update(self._path(UPDATE)))
            elif line.strip() == END:
                raise PatchError(_at(self.number, f"{END!r} before the end; send one patch"))
            elif line.startswith("***"):
                raise PatchError(
                    _at(
                        self.number,
                        f"unknown directive {line!r}; expected {ADD!r}, {UPDATE!r}, "
                        f"{DELETE!r} or {END!r}",
                    )
                )
            else:
                raise PatchError(
                    _at(
                        self.number,
                        f"expected a file section ({ADD!r}, {UPDATE!r} or {DELETE!r}), "
                        f"got {line!r}",
                    )
                )
        if not ops:
            raise PatchError("The patch has no file sections")
        return ops

    def _path(self, directive: str) -> str:
        path = self.lines[self.index][len(directive) :].strip()
        if not path:
            raise PatchError(_at(self.number, f"missing a path after {directive!r}"))
        return path

    def _add(self, path: str) -> AddFile:
        start = self.number
        self.index += 1
        content: list[str] = []
        blank: int | None = None
        while self.index < len(self.lines) and not _is_section_end(self.lines[self.index]):
            line = self.lines[self.index]
            if line.startswith("+"):
                if blank is not None:
                    raise PatchError(_at(blank, _ADD_LINE.format(path=path, line="")))
                content.append(line[1:])
            elif not line.strip():
                # Blank lines are fine only as separators before the next section.
                blank = self.number if blank is None else blank
            else:
                raise PatchError(_at(self.number, _ADD_LINE.format(path=path, line=line)))
            self.index += 1
        text = "".join(f"{line}\n" for line in content)
        return AddFile(path, text, start)

    def _delete(self, path: str) -> DeleteFile:
        start = self.number
        self.index += 1
        while self.index < len(self.lines) and not _is_section_end(self.lines[self.index]):
            line = self.lines[self.index]
            if line.strip():
                raise PatchError(
                    _at(self.number, f"'{DELETE} {path}' takes no lines after it; got {line!r}")
                )
            self.index += 1
        return DeleteFile(path, start)

    def _update(self, path: str) -> UpdateFile:
        start = self.number
        self.index += 1
        move_to = None
        if self.index < len(self.lines) and self.lines[self.index].startswith(MOVE):
            move_to = self._path(MOVE)
            self.index += 1
        hunks: list[Hunk] = []
        anchors: list[str] = []
        body: list[tuple[str, str]] = []
        opened = False  # an `@@` header (or the section start) began a hunk
        hunk_line = self.number

        def close(end_of_file: bool) -> None:
            nonlocal anchors, body, opened
            if not end_of_file:
                # Blank lines before the next section are separators, not context.
                while body and body[-1] == (" ", ""):
                    body.pop()
            if not any(kind != " " for kind, _ in body):
                raise PatchError(
                    _at(hunk_line, f"the hunk for {path} has no '+' or '-' lines; nothing to do")
                )
            hunks.append(Hunk(tuple(anchors), tuple(body), end_of_file, hunk_line))
            anchors, body, opened = [], [], False

        while self.index < len(self.lines):
            line = self.lines[self.index]
            if line.startswith("***"):
                if line.rstrip() == END_OF_FILE:
                    if not body:
                        raise PatchError(_at(self.number, f"{END_OF_FILE!r} must follow a hunk"))
                    close(end_of_file=True)
                    self.index += 1
                    continue
                if line.startswith(MOVE):
                    raise PatchError(
                        _at(self.number, f"{MOVE!r} must come right after '{UPDATE} {path}'")
                    )
                break
            if line.startswith("@@"):
                if body:
                    close(end_of_file=False)
                if not opened:
                    hunk_line, opened = self.number, True
                anchor = _anchor(line)
                if anchor:
                    anchors.append(anchor)
            elif not opened and not line.strip():
                pass  # blank lines between hunks or sections
            elif line == "" or line[0] in " -+":
                if not opened:
                    if hunks:
                        raise PatchError(
                            _at(self.number, f"expected '@@' to start the next hunk, got {line!r}")
                        )
                    hunk_line, opened = self.number, True
                body.append((" ", "") if line == "" else (line[0], line[1:]))
            else:
                raise PatchError(
                    _at(
                        self.number,
                        "expected a hunk line starting with ' ' (context), '-' (remove) or "
                        f"'+' (add), or an '@@' header; got {line!r}",
                    )
                )
            self.index += 1
        if body:
            close(end_of_file=False)
        elif anchors:
            raise PatchError(_at(hunk_line, f"the '@@' header for {path} has no lines after it"))
        if not hunks and move_to is None:
            raise PatchError(_at(start, f"'{UPDATE} {path}' has no hunks"))
        return UpdateFile(path, tuple(hunks), move_to, start)


_ADD_LINE = (
    "every line of '*** Add File: {path}' must start with '+' "
    "(a lone '+' for an empty line); got {line!r}"
)


def _anchor(line: str) -> str:
    """The anchor text of an `@@` header line ("" for a bare `@@`)."""
    unified = _UNIFIED_HEADER.fullmatch(line.rstrip())
    if unified:
        return unified.group(1)
    return line[2:].removeprefix(" ").rstrip() if line[2:].strip() else ""
