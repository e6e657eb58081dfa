"""Render a git-style unified diff with syntax highlighting, unified or side by side."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")
ADDED_BG = "on #1f3a24"
REMOVED_BG = "on #48222a"
THEME = "monokai"


@dataclass
class Line:
    """One line of a hunk: kind is ' ', '+' or '-'; numbers are None on the other side."""

    kind: str
    text: str
    old: int | None
    new: int | None


@dataclass
class Hunk:
    header: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class FileDiff:
    """The parsed diff of one file."""

    path: str
    hunks: list[Hunk] = field(default_factory=list)
    binary: bool = False

    @property
    def stats(self) -> tuple[int, int]:
        added = sum(line.kind == "+" for hunk in self.hunks for line in hunk.lines)
        removed = sum(line.kind == "-" for hunk in self.hunks for line in hunk.lines)
        return added, removed


def parse_diff(text: str) -> list[FileDiff]:
    """Split a multi-file git diff into files, hunks and numbered lines."""
    files: list[FileDiff] = []
    hunk: Hunk | None = None
    old = new = 0
    for raw in text.splitlines():
        if raw.startswith("diff --git "):
            path = raw.split(" b/", 1)[-1] if " b/" in raw else raw[11:]
            files.append(FileDiff(path))
            hunk = None
        elif not files:
            continue
        elif raw.startswith("GIT binary patch") or raw.startswith("Binary files"):
            files[-1].binary = True
        elif (match := _HUNK.match(raw)) is not None:
            old, new = int(match.group(1)), int(match.group(2))
            hunk = Hunk(raw)
            files[-1].hunks.append(hunk)
        elif hunk is not None and raw[:1] in (" ", "+", "-"):
            kind, body = raw[0], raw[1:]
            hunk.lines.append(
                Line(kind, body, old if kind != "+" else None, new if kind != "-" else None)
            )
            old += kind != "+"
            new += kind != "-"
    return files


def _highlighted(path: str, texts: list[str]) -> list[Text]:
    """Each text highlighted for `path`'s language (one lexer pass over them all)."""
    if not texts:
        return []
    lexer = Syntax.guess_lexer(path, "\n".join(texts))
    syntax = Syntax("", lexer, theme=THEME, background_color="default")
    lines = syntax.highlight("\n".join(texts)).split("\n", allow_blank=True)
    lines = lines[: len(texts)]
    while len(lines) < len(texts):
        lines.append(Text(texts[len(lines)]))
    for line in lines:
        line.rstrip()
        line.no_wrap = True
    return lines


def _number(value: int | None, width: int) -> Text:
    return Text(f"{value:>{width}}" if value is not None else " " * width, style="dim")


def render_unified(diff: FileDiff) -> RenderableType:
    """Line numbers (old, new), the +/- marker and highlighted code on a tinted background."""
    lines = [line for hunk in diff.hunks for line in hunk.lines]
    code = iter(_highlighted(diff.path, [line.text for line in lines]))
    width = len(str(max((line.old or line.new or 0 for line in lines), default=0)))
    out: list[RenderableType] = []
    for hunk in diff.hunks:
        out.append(Text(hunk.header, style="cyan dim"))
        for line in hunk.lines:
            body = next(code)
            background = {"+": ADDED_BG, "-": REMOVED_BG}.get(line.kind, "")
            row = Text.assemble(
                _number(line.old, width),
                " ",
                _number(line.new, width),
                Text(f" {line.kind} ", style="bold green" if line.kind == "+" else "bold red"),
                body,
            )
            if background:
                row.pad_right(200)
                row.stylize(background)
            row.no_wrap = True
            row.overflow = "crop"
            out.append(row)
    return Group(*out)


def _pairs(lines: list[Line]) -> list[tuple[Line | None, Line | None]]:
    """Side-by-side rows: context on both sides, each removed run next to the added run."""
    rows: list[tuple[Line | None, Line | None]] = []
    removed: list[Line] = []
    added: list[Line] = []

    def flush() -> None:
        for index in range(max(len(removed), len(added))):
            rows.append(
                (
                    removed[index] if index < len(removed) else None,
                    added[index] if index < len(added) else None,
                )
            )
        removed.clear()
        added.clear()

    for line in lines:
        if line.kind == "-":
            if added:
                flush()
            removed.append(line)
        elif line.kind == "+":
            added.append(line)
        else:
            flush()
            rows.append((line, line))
    flush()
    return rows


def render_split(diff: FileDiff) -> RenderableType:
    """Old on the left, new on the right."""
    lines = [line for hunk in diff.hunks for line in hunk.lines]
    texts = _highlighted(diff.path, [line.text for line in lines])
    highlighted = dict(zip(map(id, lines), texts, strict=True))
    table = Table.grid(expand=True, padding=(0, 1))
    table.add_column(justify="right", style="dim", no_wrap=True)
    table.add_column(ratio=1, no_wrap=True, overflow="crop")
    table.add_column(justify="right", style="dim", no_wrap=True)
    table.add_column(ratio=1, no_wrap=True, overflow="crop")
    for hunk in diff.hunks:
        table.add_row("", Text(hunk.header, style="cyan dim"), "", "")
        for left, right in _pairs(hunk.lines):
            cells: list[RenderableType] = []
            for line, number, background in (
                (left, left.old if left else None, REMOVED_BG),
                (right, right.new if right else None, ADDED_BG),
            ):
                if line is None:
                    cells += ["", ""]
                    continue
                body = highlighted[id(line)].copy()
                if line.kind != " ":
                    body.pad_right(200)
                    body.stylize(background)
                cells += [str(number), body]
            table.add_row(*cells)
    return table
