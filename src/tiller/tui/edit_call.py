"""An edit in the conversation (edit_file, write_file, apply_patch): the diff of that call.

The engine puts the call's own diff in `TOOL_CALL_END` (`diff`); a call replayed
from a journal has none, so its arguments are drawn as one (`diff_from_arguments`).
The diff shows its first `COMPACT_LINES` lines; a click shows all of it. Colours
come from the theme (`$success-muted`, `$error-muted`), so it reads in light and
dark themes alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Static

from tiller.terminal_text import visible
from tiller.tui.diff_render import FileDiff, parse_diff, shown_line
from tiller.tui.tool_call import ToolCallBlock, fit, parse_arguments, took

COMPACT_LINES = 12
"""Diff lines an edit shows until the person clicks for the rest."""


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One drawn line: kind is `+`, `-`, ` `, `file` (a file's header) or `gap` (between hunks)."""

    kind: str
    text: str
    number: int | None = None


def diff_rows(files: list[FileDiff], *, numbered: bool = True) -> list[DiffRow]:
    """The lines to draw for `files`: a header per file when there are several, hunks apart."""
    rows: list[DiffRow] = []
    for file in files:
        if len(files) > 1 or file.binary:
            added, removed = file.stats
            about = " binary" if file.binary else f" +{added} −{removed}"
            rows.append(DiffRow("file", visible(file.path) + about))
        for index, hunk in enumerate(file.hunks):
            if index:
                rows.append(DiffRow("gap", "⋯"))
            for line in hunk.lines:
                number = (line.old if line.kind == "-" else line.new) if numbered else None
                rows.append(DiffRow(line.kind, shown_line(line.text), number))
    return rows


def diff_from_arguments(name: str, raw: str) -> str:
    """A diff drawn from an edit call's arguments, for a call without the engine's diff.

    Line numbers are unknown (the file is not read), so hunks start at 1.
    """
    from tiller.workspace.diff import text_diff

    args = parse_arguments(raw) or {}
    path = str(args.get("file_path", ""))
    if name == "edit_file":
        return text_diff(path, str(args.get("old_string", "")), str(args.get("new_string", "")))
    if name == "write_file":
        return text_diff(path, None, str(args.get("content", "")))
    return _patch_as_diff(str(args.get("patch", "")))


def _patch_as_diff(patch: str) -> str:
    """A v4a patch's sections as git-style ones, enough for `parse_diff` to draw."""
    out: list[str] = []
    for line in patch.split("\n"):
        for marker in ("*** Add File: ", "*** Update File: ", "*** Delete File: "):
            if line.startswith(marker):
                out += [
                    f"diff --git a/{line[len(marker) :]} b/{line[len(marker) :]}",
                    "@@ -1 +1 @@",
                ]
                break
        else:
            if line.startswith("@@") and out:
                out.append("@@ -1 +1 @@")
            elif line[:1] in ("+", "-", " ") and out:
                out.append(line)
    return "\n".join(out) + "\n" if out else ""


class EditDiff(Static):
    """The diff of one edit call: `COMPACT_LINES` lines, all of them after a click."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "edit-diff--added",
        "edit-diff--removed",
        "edit-diff--number",
        "edit-diff--file",
        "edit-diff--more",
    }
    DEFAULT_CSS = """
    EditDiff { height: auto; }
    EditDiff.-foldable { pointer: pointer; }
    EditDiff > .edit-diff--added { background: $success-muted; color: $foreground; }
    EditDiff > .edit-diff--removed { background: $error-muted; color: $foreground; }
    EditDiff > .edit-diff--number { color: $text-muted; }
    EditDiff > .edit-diff--file { color: $text-accent; text-style: bold; }
    EditDiff > .edit-diff--more { color: $text-muted; text-style: italic; }
    """

    def __init__(self, diff: str, *, numbered: bool = True) -> None:
        super().__init__()
        self.diff = diff
        self.files = parse_diff(diff)
        self.rows = diff_rows(self.files, numbered=numbered)
        self.cut = next((line for line in diff.splitlines() if line.startswith("… ")), "")
        self.expanded = False
        self.set_class(len(self.rows) > COMPACT_LINES, "-foldable")

    @property
    def stats(self) -> tuple[int, int]:
        """Lines added and removed over every file."""
        added = sum(file.stats[0] for file in self.files)
        removed = sum(file.stats[1] for file in self.files)
        return added, removed

    @property
    def hidden_rows(self) -> int:
        """Rows the compact view leaves out."""
        return 0 if self.expanded else max(0, len(self.rows) - COMPACT_LINES)

    def on_click(self, event: events.Click) -> None:
        if len(self.rows) > COMPACT_LINES:
            event.stop()
            self.toggle()

    def toggle(self) -> bool:
        """Show every line, or fold back to `COMPACT_LINES`; False when all fit anyway."""
        if len(self.rows) <= COMPACT_LINES:
            return False
        self.expanded = not self.expanded
        self.refresh(layout=True)
        return True

    def render(self) -> Text:
        width = max(self.content_size.width, 20)
        shown = self.rows if self.expanded else self.rows[:COMPACT_LINES]
        digits = len(str(max((row.number or 0 for row in self.rows), default=0)))
        style = self.get_component_rich_style
        lines: list[Text] = []
        for row in shown:
            lines.append(self._line(row, digits, width, style))
        hidden = self.hidden_rows
        if hidden:
            noun = "line" if hidden == 1 else "lines"
            lines.append(Text(f"▼ {hidden} more {noun} (click to show)", style("edit-diff--more")))
        elif len(self.rows) > COMPACT_LINES:
            lines.append(Text("▲ click to fold", style("edit-diff--more")))
        if self.cut and (self.expanded or not hidden):
            lines.append(Text(self.cut, style("edit-diff--more")))
        if not lines:
            lines.append(Text("(no change)", style("edit-diff--more")))
        return Text("\n").join(lines)

    def _line(self, row: DiffRow, digits: int, width: int, style: Callable[..., Style]) -> Text:
        if row.kind == "file":
            return Text(fit(row.text, width), style("edit-diff--file"))
        if row.kind == "gap":
            return Text(" " * (digits + 1) + row.text, style("edit-diff--number"))
        number = f"{row.number:>{digits}}" if row.number is not None else " " * digits
        body = fit(f" {row.kind} {row.text.expandtabs(4)}", max(width - digits, 4))
        line = Text.assemble((number, style("edit-diff--number")), body)
        if row.kind in "+-":
            line.pad_right(max(0, width - cell_len(line.plain)))
            line.stylize(style("edit-diff--added" if row.kind == "+" else "edit-diff--removed"))
        return line


class EditCallBlock(ToolCallBlock):
    """An edit call: its path in the title, then the coloured diff of what it changed."""

    DEFAULT_CSS = """
    EditCallBlock .tool-args { display: none; }
    EditCallBlock .tool-output.-quiet { display: none; }
    EditCallBlock .edit-tried { color: $text-muted; }
    """

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        super().__init__(call_id, name, arguments)
        if name == "apply_patch":
            self.hint = ", ".join(dict.fromkeys(_patch_paths(arguments))) or self.hint
        self.view: EditDiff | None = None

    def finish(
        self,
        output: str,
        is_error: bool,
        duration_ms: float | None,
        *,
        diff: str | None = None,
        skipped: str = "",
    ) -> None:
        super().finish(output, is_error, duration_ms, skipped=skipped)
        if self.skipped:
            return
        numbered = diff is not None
        if diff is None:
            diff = diff_from_arguments(self.tool_name, self.raw_arguments)
        self.view = EditDiff(diff, numbered=numbered)
        if is_error:
            # The change it tried, under the error.
            self.add_nested(Static("The change it tried:", classes="edit-tried"))
        else:
            added, removed = self.view.stats
            self.set_status(
                f"✓ [$text-success]+{added}[/] [$text-error]−{removed}[/]{took(duration_ms)}"
            )
            # "Replaced 1 occurrence…" says nothing the diff does not; notes (a fuzzy
            # patch match) still show.
            self._result.set_class("Note:" not in output, "-quiet")
        self.add_nested(self.view)


def _patch_paths(arguments: str) -> list[str]:
    from tiller.tools.edit_diff import named_paths

    return named_paths("apply_patch", arguments)
