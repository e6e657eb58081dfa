"""Render a git-style unified diff with syntax highlighting, unified or side by side.

Colours come from a `Palette` built from the Textual theme (`palette_for`), so
the tints stay readable on light themes as on dark ones.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.color import Color as RichColor
from rich.color import ColorParseError
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text

from tiller.terminal_text import code_line, cut_line, visible

if TYPE_CHECKING:
    from textual.theme import Theme

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")
_SIMILARITY = re.compile(r"^similarity index (\d+)%$")
ADDED_BG = "on #24452e"
REMOVED_BG = "on #441e27"
THEME = "monokai"


@dataclass(frozen=True)
class Palette:
    """The styles a diff is drawn with (Rich style strings).

    Attributes:
        added_bg: the background of added lines (`on COLOUR`, or "" for none).
        removed_bg: the background of removed lines.
        added: the colour of `+` markers, added counts and A markers.
        removed: the colour of `-` markers, removed counts and D markers.
        changed: the colour of M markers.
        warning: the colour of the changed-on-disk marker.
        hunk: the style of `@@` hunk headers.
        syntax: the Pygments (or Rich ANSI) theme for code.
    """

    added_bg: str = ADDED_BG
    removed_bg: str = REMOVED_BG
    added: str = "#8ad4a1"
    removed: str = "#d17e92"
    changed: str = "#ffc473"
    warning: str = "#ffc473"
    hunk: str = "#57a5e2"
    syntax: str = THEME


DARK = Palette()


def _colour(value: str | None) -> str | None:
    """A theme value as a Rich colour, or None when Rich cannot draw it (e.g. `ansi_red 50%`)."""
    if not value:
        return None
    value = value.removeprefix("ansi_")
    try:
        RichColor.parse(value)
    except ColorParseError:
        return None
    return value


def _palette(name: str, dark: bool, values: dict[str, str]) -> Palette:

    def pick(key: str, fallback: str) -> str:
        return _colour(values.get(key)) or fallback

    ansi = name.startswith("ansi")
    added_bg = _colour(values.get("success-muted"))
    removed_bg = _colour(values.get("error-muted"))
    return Palette(
        added_bg=f"on {added_bg}" if added_bg else "",
        removed_bg=f"on {removed_bg}" if removed_bg else "",
        added=pick("text-success", "green"),
        removed=pick("text-error", "red"),
        changed=pick("text-warning", "yellow"),
        warning=pick("text-warning", "yellow"),
        hunk=pick("text-primary", "cyan"),
        syntax=("ansi_dark" if dark else "ansi_light") if ansi else (THEME if dark else "default"),
    )


_PALETTES: dict[tuple[str, bool], Palette] = {}


def palette_for(theme: Theme) -> Palette:
    """The diff palette for a Textual theme: its muted success/error colours as tints."""
    key = (theme.name, theme.dark)
    palette = _PALETTES.get(key)
    if palette is None:
        variables = theme.to_color_system().generate()
        palette = _PALETTES[key] = _palette(theme.name, theme.dark, variables)
    return palette


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
    """The parsed diff of one file.

    Attributes:
        path: the file's (new) path.
        old_path: where a renamed file came from, else None.
        similarity: a rename's similarity in percent.
        kind: `added`, `modified`, `deleted` or `renamed`.
    """

    path: str
    hunks: list[Hunk] = field(default_factory=list)
    binary: bool = False
    old_path: str | None = None
    similarity: int | None = None
    kind: str = "modified"

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
    # Only "\n" ends a diff line: `splitlines` would also split at a form feed, a
    # lone "\r" or U+2028 inside a line, and the rest of that line would vanish.
    for raw in text.split("\n"):
        if raw.startswith("diff --git "):
            files.append(FileDiff(_git_header_path(raw[len("diff --git ") :])))
            hunk = None
        elif not files or (hunk is None and _file_header(files[-1], raw)):
            continue
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


def _file_header(diff: FileDiff, raw: str) -> bool:
    """Take one extended header line (before the first hunk); False if it is none."""
    if raw.startswith("GIT binary patch") or raw.startswith("Binary files"):
        diff.binary = True
    elif raw.startswith("new file mode"):
        diff.kind = "added"
    elif raw.startswith("deleted file mode"):
        diff.kind = "deleted"
    elif raw.startswith("rename from "):
        diff.kind, diff.old_path = "renamed", unquote(raw[len("rename from ") :])
    elif raw.startswith("rename to "):
        diff.path = unquote(raw[len("rename to ") :])
    elif raw.startswith("+++ b/") or raw.startswith('+++ "b/'):
        diff.path = unquote(raw[len("+++ ") :].removesuffix("\t"))[2:]
    elif (match := _SIMILARITY.match(raw)) is not None:
        diff.similarity = int(match.group(1))
    else:
        return False
    return True


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def unquote(name: str) -> str:
    """A path as git writes it (C-quoted with octal bytes when special) back to the name."""
    match = _QUOTED.fullmatch(name)
    if match is None:
        return name
    out = bytearray()
    body, index = match.group(1), 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            index += 1
        elif body[index + 1 : index + 4].isdigit() and len(body[index + 1 : index + 4]) == 3:
            out.append(int(body[index + 1 : index + 4], 8) & 0xFF)
            index += 4
        else:
            out.append(_C_ESCAPES.get(body[index + 1 : index + 2], 92))
            index += 2
    return out.decode("utf-8", "surrogateescape")


def _git_header_path(rest: str) -> str:
    """The new path of a `diff --git a/X b/Y` line (quoted names, spaces in names)."""
    quoted = _QUOTED.match(rest)
    if quoted is not None:  # "a/X" then b/Y or "b/Y"
        return unquote(rest[quoted.end() + 1 :])[2:]
    half = (len(rest) - 1) // 2  # unquoted a/X b/X: the same name twice
    if rest[half : half + 3] == " b/" and rest[2:half] == rest[half + 3 :]:
        return rest[half + 3 :]
    return rest.split(" b/", 1)[-1] if " b/" in rest else rest


MAX_LINE_CHARS = 2_000
"""Characters of one diff line drawn; the rest is counted (a minified file is one line)."""
MAX_HIGHLIGHT_CHARS = 200_000
"""Above this much text a file's diff is drawn without syntax colours (lexing takes seconds)."""


def shown_line(text: str) -> str:
    """A line of a file as drawn: `code_line`, cut at `MAX_LINE_CHARS` with the rest counted."""
    return code_line(cut_line(text, MAX_LINE_CHARS))


MAX_DRAWN_LINES = 1500
"""Diff lines drawn for one file; more take seconds to lay out (the rest: export the patch)."""


def clip(diff: FileDiff, limit: int = MAX_DRAWN_LINES) -> tuple[FileDiff, int]:
    """`diff` cut to its first `limit` lines (across hunks), and how many lines were left out."""
    total = sum(len(hunk.lines) for hunk in diff.hunks)
    if total <= limit:
        return diff, 0
    kept: list[Hunk] = []
    room = limit
    for hunk in diff.hunks:
        if room <= 0:
            break
        kept.append(Hunk(hunk.header, hunk.lines[:room]))
        room -= len(hunk.lines)
    clipped = FileDiff(diff.path, kept, diff.binary, diff.old_path, diff.similarity, diff.kind)
    return clipped, total - limit


def clipped_note(left_out: int) -> Text:
    """What to say under a clipped diff."""
    return Text(
        f"… {left_out} more diff line(s) not drawn; Ctrl+X exports the whole patch.", style="dim"
    )


def file_title(diff: FileDiff, palette: Palette = DARK) -> Text:
    """`path  +added -removed`, a rename as `R old → new  92%`."""
    added, removed = diff.stats
    title = Text()
    if diff.old_path is not None:
        title.append("R ", style=f"bold {palette.changed}")
        title.append(visible(diff.old_path), style="bold")
        title.append(" → ", style="dim")
        title.append(visible(diff.path), style="bold")
        title.append(f"  {diff.similarity or 0}% similar", style="dim")
    else:
        title.append(visible(diff.path), style="bold")
    title.append("  ")
    title.append(f"+{added}", style=palette.added)
    title.append(" ")
    title.append(f"-{removed}", style=palette.removed)
    return title


def _highlighted(path: str, texts: list[str], palette: Palette = DARK) -> list[Text]:
    """Each text highlighted for `path`'s language (one lexer pass over them all)."""
    if not texts:
        return []
    if sum(map(len, texts)) > MAX_HIGHLIGHT_CHARS:
        return [Text(text, no_wrap=True) for text in texts]
    lexer = Syntax.guess_lexer(path, "\n".join(texts))
    syntax = Syntax("", lexer, theme=palette.syntax, background_color="default")
    lines = syntax.highlight("\n".join(texts)).split("\n", allow_blank=True)
    lines = lines[: len(texts)]
    while len(lines) < len(texts):
        lines.append(Text(texts[len(lines)]))
    for line in lines:
        line.rstrip()
        line.no_wrap = True
        # The theme's own background would hide the added/removed tints (and clash with
        # the app's background): keep the token colours only.
        line.style = ""
        line.spans = [Span(span.start, span.end, _foreground(span.style)) for span in line.spans]
    return lines


def _foreground(style: str | Style) -> Style:
    if isinstance(style, str):
        style = Style.parse(style)
    return Style(color=style.color, bold=style.bold, italic=style.italic)


def highlight(diff: FileDiff, palette: Palette = DARK) -> dict[int, Text]:
    """Every line of `diff` highlighted, keyed by `id(line)` (one lexer pass per file)."""
    lines = [line for hunk in diff.hunks for line in hunk.lines]
    texts = _highlighted(diff.path, [shown_line(line.text) for line in lines], palette)
    return dict(zip(map(id, lines), texts, strict=True))


def _number_width(diff: FileDiff) -> int:
    last = max((line.old or line.new or 0 for h in diff.hunks for line in h.lines), default=0)
    return len(str(last))


def _number(value: int | None, width: int) -> str:
    return f"{value:>{width}}" if value is not None else " " * width


def _fit(console: Console, code: Text, width: int, tint: str, wrap: bool) -> list[Text]:
    """`code` as lines exactly `width` cells wide (wrapped under itself, or cut), in `tint`."""
    width = max(1, width)
    if wrap and code.cell_len > width:
        lines = list(code.wrap(console, width, overflow="fold", no_wrap=False)) or [Text("")]
    else:
        line = code.copy()
        line.truncate(width, overflow="crop")
        lines = [line]
    for line in lines:
        line.style = tint
        line.pad_right(width - line.cell_len)
    return lines


@dataclass(frozen=True)
class UnifiedRow:
    """One unified line: `old new` numbers, the marker, the code and the row's tint."""

    numbers: str
    marker: str
    code: Text
    tint: str = ""


@dataclass(frozen=True)
class Side:
    """One side of a split row: its line number and code, and the tint of the code."""

    number: int | None
    code: Text
    tint: str = ""


class UnifiedRows:
    """A hunk's unified lines drawn straight to segments (a Rich `Table` costs far more).

    The whole row is tinted; with `wrap`, long code continues under itself.
    """

    def __init__(self, rows: list[UnifiedRow], palette: Palette, *, wrap: bool) -> None:
        self.rows = rows
        self.palette = palette
        self.wrap = wrap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        prefix = max((len(row.numbers) for row in self.rows), default=0) + 3
        width = options.max_width - prefix
        for row in self.rows:
            tint = Style.parse(row.tint) if row.tint else Style()
            colour = {"+": self.palette.added, "-": self.palette.removed}.get(row.marker)
            marker = tint + Style(bold=True, color=colour) if colour else tint
            for index, line in enumerate(_fit(console, row.code, width, row.tint, self.wrap)):
                if index == 0:
                    yield Segment(row.numbers, tint + Style(dim=True))
                    yield Segment(f" {row.marker} ", marker)
                else:
                    yield Segment(" " * prefix, tint)
                yield from line.render(console)
                yield Segment.line()


class SplitRows:
    """A hunk side by side, old | new, drawn straight to segments; each code cell tinted."""

    def __init__(
        self, rows: list[tuple[Side | None, Side | None]], number_width: int, *, wrap: bool
    ) -> None:
        self.rows = rows
        self.number_width = number_width
        self.wrap = wrap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        numbers = self.number_width
        room = options.max_width - 2 * (numbers + 1) - 1
        widths = (max(1, room // 2), max(1, room - room // 2))
        dim = Style(dim=True)
        for row in self.rows:
            cells = []
            for side, width in zip(row, widths, strict=True):
                if side is None:
                    cells.append(("", [], "", width))
                else:
                    lines = _fit(console, side.code, width, side.tint, self.wrap)
                    cells.append((_number(side.number, numbers), lines, side.tint, width))
            height = max(1, *(len(lines) for _, lines, _, _ in cells))
            for index in range(height):
                for column, (number, lines, tint, width) in enumerate(cells):
                    label = number if index == 0 and number else " " * numbers
                    yield Segment(label + " ", dim)
                    if index < len(lines):
                        yield from lines[index].render(console)
                    else:
                        yield Segment(" " * width, Style.parse(tint) if tint else None)
                    if column == 0:
                        yield Segment(" ")
                yield Segment.line()


def render_hunk_unified(
    diff: FileDiff,
    hunk: Hunk,
    highlighted: dict[int, Text],
    palette: Palette = DARK,
    *,
    wrap: bool = False,
) -> RenderableType:
    """One hunk: its header, then old and new line numbers, the marker and the code."""
    width = _number_width(diff)
    rows = [
        UnifiedRow(
            f"{_number(line.old, width)} {_number(line.new, width)}",
            line.kind,
            highlighted[id(line)],
            {"+": palette.added_bg, "-": palette.removed_bg}.get(line.kind, ""),
        )
        for line in hunk.lines
    ]
    return Group(Text(hunk.header, style=palette.hunk), UnifiedRows(rows, palette, wrap=wrap))


def render_unified(diff: FileDiff, palette: Palette = DARK, *, wrap: bool = False) -> Group:
    """Line numbers (old, new), the +/- marker and highlighted code on a tinted background."""
    highlighted = highlight(diff, palette)
    return Group(
        *(render_hunk_unified(diff, h, highlighted, palette, wrap=wrap) for h in diff.hunks)
    )


def _pairs(lines: list[Line]) -> list[tuple[Line | None, Line | None]]:
    """Side-by-side rows: context on both sides, each removed run next to the added run."""
    rows: list[tuple[Line | None, Line | None]] = []
    removed: list[Line] = []
    added: list[Line] = []

    def flush() -> None:
        rows.extend(itertools.zip_longest(removed, added))
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


def render_hunk_split(
    diff: FileDiff,
    hunk: Hunk,
    highlighted: dict[int, Text],
    palette: Palette = DARK,
    *,
    wrap: bool = False,
) -> RenderableType:
    """One hunk, old on the left and new on the right; long lines wrap when `wrap`."""
    rows: list[tuple[Side | None, Side | None]] = []
    for left, right in _pairs(hunk.lines):
        rows.append(
            (
                None
                if left is None
                else Side(
                    left.old,
                    highlighted[id(left)],
                    palette.removed_bg if left.kind != " " else "",
                ),
                None
                if right is None
                else Side(
                    right.new,
                    highlighted[id(right)],
                    palette.added_bg if right.kind != " " else "",
                ),
            )
        )
    body = SplitRows(rows, _number_width(diff), wrap=wrap)
    return Group(Text(hunk.header, style=palette.hunk), body)


def render_split(diff: FileDiff, palette: Palette = DARK, *, wrap: bool = False) -> Group:
    """Old on the left, new on the right."""
    highlighted = highlight(diff, palette)
    return Group(*(render_hunk_split(diff, h, highlighted, palette, wrap=wrap) for h in diff.hunks))
