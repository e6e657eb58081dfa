"""Review mode (F4): the workspace diff full screen, a file at a time.

A list of the changed files on the left (hidden below `NARROW` columns), the
selected file's diff on the right: side by side when there is room, unified
otherwise, long lines wrapped. Keys move between files and hunks, revert a
file (through the controller, so undo brings it back and the model is told),
flush just that file (the flush dialog with its conflict rules), and show what
changed on disk under a file since Tiller read it.

Keys: n / p next and previous file, ] / [ next and previous hunk (on to the next
file at the end of one), s side by side or unified, l hide the file list, d disk
versus base, r revert the file, a flush the file, u / Ctrl+Z undo, Ctrl+Y redo,
Esc / F4 / q back to the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from tiller.terminal_text import visible
from tiller.tui.diff_render import Palette, file_title, palette_for, parse_diff
from tiller.tui.markup import escape
from tiller.tui.screens.review_diff import ReviewDiff
from tiller.tui.screens.review_files import FileList
from tiller.tui.workspace_tree import DISK_MARKER, marker

if TYPE_CHECKING:
    from tiller.tui.screens.main import MainScreen
    from tiller.workspace import Workspace

NARROW = 100
"""Below this many columns the file list is hidden (n / p still move between files)."""

SPLIT_MIN = 110
"""Side by side needs at least this many columns for the diff (50 or more a side)."""


KEY_HINTS = Text.assemble(
    *(
        part
        for key, what in (
            ("Esc", "back"),
            ("n/p", "file"),
            ("]/[", "hunk"),
            ("s", "split"),
            ("l", "files"),
            ("d", "disk"),
            ("r", "revert"),
            ("a", "flush"),
            ("u", "undo"),
        )
        for part in ((key, "bold"), f" {what}  ")
    )
)
"""The keys, in the bottom line (every one is also a binding with a description)."""


@dataclass(frozen=True)
class Entry:
    """One changed file as review mode lists it (a rename is one entry, under its new path)."""

    path: str
    kind: str
    old_path: str | None = None
    similarity: int | None = None
    on_disk: bool = False

    @property
    def paths(self) -> list[str]:
        """Every workspace path the entry stands for (both sides of a rename)."""
        return [self.path] if self.old_path is None else [self.old_path, self.path]


def review_entries(workspace: Workspace) -> list[Entry]:
    """The changed files, renames merged into one entry, sorted by path."""
    renames = {rename.new: rename for rename in workspace.renames()}
    moved_away = {rename.old for rename in renames.values()}
    on_disk = set(workspace.changed_on_disk())
    entries = []
    for path, kind in workspace.changes():
        if path in moved_away:
            continue
        rename = renames.get(path)
        if rename is not None:
            disk = path in on_disk or rename.old in on_disk
            entries.append(Entry(path, "renamed", rename.old, rename.similarity, disk))
        else:
            entries.append(Entry(path, kind, on_disk=path in on_disk))
    return entries


class ReviewScreen(Screen[None]):
    """The review of every unflushed change; Esc, F4 or q goes back to the prompt."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f4,q", "close", "Back"),
        Binding("n", "file(1)", "Next file"),
        Binding("p", "file(-1)", "Prev file"),
        Binding("right_square_bracket", "hunk(1)", "Next hunk", key_display="]"),
        Binding("left_square_bracket", "hunk(-1)", "Prev hunk", key_display="["),
        Binding("s", "toggle_split", "Split"),
        Binding("l", "toggle_list", "Files"),
        Binding("d", "toggle_disk", "Disk vs base"),
        Binding("r", "revert", "Revert file"),
        Binding("a", "accept", "Flush file"),
        Binding("u,ctrl+z", "undo", "Undo"),
        Binding("ctrl+y", "redo", "Redo", show=False),
    ]

    class Changed(Message):
        """The workspace changed (posted from whichever thread changed it)."""

    def __init__(self, main: MainScreen, workspace: Workspace) -> None:
        super().__init__(id="review")
        self.main = main
        self.workspace = workspace
        self.entries: list[Entry] = []
        self.split: bool | None = None
        """Side by side (True), unified (False), or by width (None)."""
        self.disk = False
        self._selected: str | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._change_pending = False
        self._generation = 0  # bumped by each reload of the changes
        self._drawn: tuple[object, ...] | None = None  # what the diff pane shows now
        self._listed: tuple[list[Entry], Palette] | None = None  # what the file list shows

    def compose(self) -> ComposeResult:
        yield Static("", id="review-summary")
        with Horizontal(id="review-body"):
            yield FileList(id="review-files")
            yield ReviewDiff(id="review-diff")
        # A line of text, not a Footer: the Footer rebuilds a widget per key on every visit.
        yield Static(KEY_HINTS, id="review-keys")

    def open_on(self, workspace: Workspace, selected: str | None) -> None:
        """Review `workspace` next time the screen shows, starting at `selected` if changed.

        The screen is kept between visits (installed on the app): reopening it
        costs a reload of the changes, not a new screen.
        """
        self.workspace = workspace
        self._selected = selected
        if self.is_mounted:
            self.query_one(FileList).highlighted = None

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda: self._reload(), init=False)

    def on_screen_resume(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")
        self._unsubscribe = self.workspace.subscribe(self._workspace_changed)
        self.disk = False
        self._reload()
        self.query_one(ReviewDiff).focus()

    def on_screen_suspend(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _workspace_changed(self, path: str, action: str) -> None:
        # Any thread: only post (one message per burst of changes).
        if not self._change_pending:
            self._change_pending = True
            self.post_message(self.Changed())

    @on(Changed)
    def _on_changed(self) -> None:
        self._change_pending = False
        self._reload()

    def on_resize(self, event: Resize) -> None:
        narrow = event.size.width < NARROW
        if narrow != self.has_class("-narrow") or self.split is None:
            self.set_class(narrow, "-narrow")
            self.call_after_refresh(self._show)

    # -- the file list ------------------------------------------------------------

    @property
    def palette(self) -> Palette:
        return palette_for(self.app.current_theme)

    @property
    def current(self) -> Entry | None:
        """The entry shown, or None when nothing is changed."""
        index = self.query_one(FileList).highlighted
        if index is None or not 0 <= index < len(self.entries):
            return None
        return self.entries[index]

    def _reload(self) -> None:
        """Re-read the changes; keep the selected file (or the one at its place)."""
        keep = self.current.path if self.current is not None else self._selected
        files = self.query_one(FileList)
        old_index = files.highlighted or 0
        self._generation += 1
        self.entries = review_entries(self.workspace)
        paths = [entry.path for entry in self.entries]
        olds = {e.old_path: index for index, e in enumerate(self.entries) if e.old_path}
        if keep in paths:
            index = paths.index(keep)
        elif keep in olds:
            index = olds[keep]
        else:
            index = min(old_index, len(self.entries) - 1)
        palette = self.palette
        if (self.entries, palette) != self._listed:
            self._listed = (self.entries, palette)
            files.set_labels([self._entry_label(e, palette) for e in self.entries], index)
        else:
            files.highlight(index)
        self._show()

    def _entry_label(self, entry: Entry, palette: Palette) -> Text:
        letter, colour = marker(entry.kind, palette)
        label = Text.assemble((letter, f"bold {colour}"), " ")
        if entry.old_path is not None:
            label.append(visible(entry.old_path), style="dim")
            label.append(" → ")
        label.append(visible(entry.path))
        if entry.on_disk:
            label.append(f" {DISK_MARKER}", style=f"bold {palette.warning}")
        return label

    @on(FileList.Highlighted)
    def _clicked(self, message: FileList.Highlighted) -> None:
        self.query_one(FileList).highlight(message.index)
        self.disk = False
        self._show()

    # -- showing a file -------------------------------------------------------------

    def _split_now(self) -> bool:
        if self.split is not None:
            return self.split
        diff_width = self.query_one(ReviewDiff).size.width or self.size.width
        return diff_width >= SPLIT_MIN

    def _show(self) -> None:
        """Draw the summary line and the current file's diff (or its disk change).

        Highlighting, resizing and reloading all ask; a file is drawn once per state.
        """
        palette = self.palette
        entry = self.current
        state = (self._generation, entry, self.disk, self._split_now(), palette)
        if state == self._drawn:
            return
        self._drawn = state
        view = self.query_one(ReviewDiff)
        if entry is None:
            self._summary(False)
            view.show(
                Text("Nothing to review: the workspace matches the disk.", style="dim"),
                None,
                palette,
                split=False,
            )
            return
        text = self._disk_diff(entry) if self.disk else self.workspace.diff(entry.paths)
        files = parse_diff(text)
        diff = files[0] if files else None
        header = (
            file_title(diff, palette)
            if diff is not None
            else Text(visible(entry.path), style="bold")
        )
        if self.disk:
            header = Text.assemble(
                ("On disk since Tiller read it (base → disk): ", f"bold {palette.warning}"),
                header,
            )
        elif entry.on_disk:
            header.append(
                f"  {DISK_MARKER} changed on disk since Tiller read it (d shows how; "
                "a flush would conflict)",
                style=f"bold {palette.warning}",
            )
        # A new or deleted file has one side only: side by side would leave half empty.
        one_sided = diff is not None and diff.kind in ("added", "deleted")
        split = self._split_now() and not one_sided
        self._summary(split)
        view.show(header, diff, palette, split=split, empty="no textual change")

    def _disk_diff(self, entry: Entry) -> str:
        """What changed on disk under the entry: for a move, mostly under its old name."""
        for path in entry.paths:
            text = self.workspace.disk_diff(path)
            if text:
                return text
        return ""

    def _summary(self, split: bool) -> None:
        entries = self.entries
        index = self.query_one(FileList).highlighted
        position = f"file {index + 1} of {len(entries)}" if index is not None and entries else ""
        on_disk = sum(entry.on_disk for entry in entries)
        summary = Text.assemble(("Review", "bold"), f"  {len(entries)} changed file(s)")
        if position:
            summary.append(f"  ·  {position}")
        if on_disk:
            summary.append("  ·  ")
            summary.append(f"{on_disk} changed on disk", style=f"bold {self.palette.warning}")
        mode = "side by side" if split else "unified"
        summary.append(f"  ·  {mode}", style="dim")
        self.query_one("#review-summary", Static).update(summary)

    # -- keys -------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_file(self, step: int) -> bool:
        """Move to the next (1) or previous (-1) file; False at either end."""
        files = self.query_one(FileList)
        if not self.entries:
            return False
        index = (files.highlighted or 0) + step
        if not 0 <= index < len(self.entries):
            return False
        files.highlight(index)
        self.disk = False
        self._show()
        return True

    def action_hunk(self, step: int) -> None:
        """Jump to the next or previous hunk, across files at either end of one."""
        view = self.query_one(ReviewDiff)
        if view.jump(step):
            return
        if self.action_file(step):
            # The next file's hunks are mounted on the next refresh.
            self.call_after_refresh(view.jump if step > 0 else lambda _: view.jump_to_last(), 1)

    def action_toggle_split(self) -> None:
        self.split = not self._split_now()
        self._show()

    def action_toggle_list(self) -> None:
        """Hide or show the file list (more room for the diff)."""
        self.toggle_class("-no-list")
        self.call_after_refresh(self._show)

    def action_toggle_disk(self) -> None:
        entry = self.current
        if entry is None:
            return
        if not entry.on_disk and not self.disk:
            self.notify(
                f"{visible(entry.path)} has not changed on disk since Tiller read it.", markup=False
            )
            return
        self.disk = not self.disk
        self._show()

    def _idle(self, what: str) -> bool:
        if self.main.running or self.main.chat is None:
            self.notify(f"The agent is working; {what} after it stops.", severity="warning")
            return False
        return True

    def action_revert(self) -> None:
        """Drop this file's unflushed change (Ctrl+Z / u brings it back)."""
        entry = self.current
        if entry is None or not self._idle("revert") or self.main.chat is None:
            return
        moved = self.main.chat.revert(entry.paths)
        self.main.tell(moved.notice)
        self.notify(moved.notice.text, markup=False)
        self.main.refresh_sidebar()

    def action_accept(self) -> None:
        """Flush just this file, through the flush dialog (conflicts are shown first)."""
        from tiller.tui.screens.flush import FlushScreen

        entry = self.current
        if entry is None or not self._idle("flush"):
            return

        def done(written: list[str] | None) -> None:
            if written:
                listed = ", ".join(escape(visible(path)) for path in written)
                self.main.conversation.add_notice(f"Flushed {len(written)} file(s): {listed}")
            self.main.refresh_sidebar()

        self.app.push_screen(FlushScreen(self.workspace, entry.paths), callback=done)

    def action_undo(self) -> None:
        self.main.action_undo()

    def action_redo(self) -> None:
        self.main.action_redo()
