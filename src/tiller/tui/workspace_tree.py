"""The workspace tree: base files browsable (directories load lazily), changes marked A/M/D.

A move shows as R on both sides (`new R ← old 92%`, `old R → new`), and a changed
file whose disk copy changed since Tiller read it carries a `!` (a flush conflict
to come).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tiller.terminal_text import visible
from tiller.tui.diff_render import DARK, Palette, palette_for

if TYPE_CHECKING:
    from tiller.workspace import Workspace
    from tiller.workspace.renames import Rename

MARKERS = {"added": ("A", "green"), "modified": ("M", "yellow"), "deleted": ("D", "red")}
DISK_MARKER = "!"
"""Shown after a changed file whose disk copy changed since Tiller read it."""

DISK_POLL_SECONDS = 3.0
"""How often the tree looks for disk edits under changed files."""

MAX_LISTED = 1000
"""Entries listed per directory (100,000 nodes take seconds to build and to relabel after
every edit); what holds a change is always listed, the rest is one `… N more` row."""
_MORE = "\0"
"""Marks the `… N more` row's data (`<directory>\0<count>`): no path holds a NUL."""


def marker(kind: str, palette: Palette = DARK) -> tuple[str, str]:
    """The letter and the colour for a change kind (`added`, `modified`, `deleted`, `renamed`)."""
    colours = {
        "added": palette.added,
        "modified": palette.changed,
        "deleted": palette.removed,
        "renamed": palette.changed,
    }
    return ("R" if kind == "renamed" else MARKERS[kind][0]), colours[kind]


def scan_changes(workspace: Workspace) -> tuple[dict[str, str], dict[str, Rename], set[str]]:
    """Changes by path, renames by both their paths, and the changed-on-disk paths."""
    changes = dict(workspace.changes())
    renames: dict[str, Rename] = {}
    for rename in workspace.renames():
        renames[rename.old] = renames[rename.new] = rename
    return changes, renames, set(workspace.changed_on_disk())


class WorkspaceTree(Tree[str]):
    """Files of the workspace (base plus overlay). Node data is the workspace path.

    Directory paths end in `/`; the root's path is `""`.
    """

    DEFAULT_CSS = """
    WorkspaceTree { background: transparent; }
    """

    class FileSelected(Message):
        """A file was highlighted; `path` is its workspace path."""

        def __init__(self, path: str) -> None:
            self.path = path
            super().__init__()

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(label, data="", id=id)
        self.workspace: Workspace | None = None
        self.changes: dict[str, str] = {}
        self.renames: dict[str, Rename] = {}
        self.on_disk: set[str] = set()
        self._palette = DARK
        self._open: set[str] = set()
        self.guide_depth = 2
        self.show_root = True

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda: self._populate(self.root), init=False)
        options = getattr(self.app, "options", None)
        if getattr(options, "animate", False):
            # Nothing tells Tiller when someone edits a file on disk: look now and then
            # (a stat per changed file). Off when animations are, so tests stay still.
            self.set_interval(DISK_POLL_SECONDS, self._check_disk)

    def _check_disk(self) -> None:
        if self.workspace is None or not self.changes:
            return
        on_disk = set(self.workspace.changed_on_disk())
        if on_disk != self.on_disk:
            self.on_disk = on_disk
            self._populate(self.root)

    def load(self, workspace: Workspace) -> None:
        """Show `workspace` (its root directory is read lazily)."""
        self.workspace = workspace
        self.changes, self.renames, self.on_disk = scan_changes(workspace)
        self._open.clear()
        self._populate(self.root)
        self.root.expand()

    # -- building -------------------------------------------------------------

    def _entries(self, directory: str) -> list[tuple[str, bool]]:
        """(path, is_dir) children of `directory`, including deleted files, dirs first."""
        assert self.workspace is not None
        try:
            names = self.workspace.list_dir(directory.rstrip("/"))
        except Exception:
            names = []
        paths = {directory + name for name in names}
        for path, kind in self.changes.items():
            if (
                kind == "deleted"
                and path.startswith(directory)
                and "/" not in path[len(directory) :]
            ):
                paths.add(path)
        entries = sorted(
            ((path, path.endswith("/")) for path in paths),
            key=lambda item: (not item[1], item[0].lower()),
        )
        if len(entries) <= MAX_LISTED:
            return entries
        # A changed file, and every directory above one, is listed past the limit.
        changed = set()
        for path in self.changes:
            parts = path.split("/")
            changed.update("/".join(parts[:depth]) + "/" for depth in range(1, len(parts)))
            changed.add(path)
        kept = [
            entry
            for index, entry in enumerate(entries)
            if index < MAX_LISTED or entry[0] in changed
        ]
        return [*kept, (f"{directory}{_MORE}{len(entries) - len(kept)}", False)]

    def _label(self, path: str, is_dir: bool) -> Text:
        palette = self._palette
        if _MORE in path:
            return Text(f"… {int(path.split(_MORE)[1]):,} more not listed", style="dim italic")
        name = visible(path.rstrip("/").rsplit("/", 1)[-1]) + ("/" if is_dir else "")
        if is_dir:
            touched = any(changed.startswith(path) for changed in self.changes)
            label = Text(name, style="bold")
            if touched:
                label.append(" •", style=palette.changed)
            return label
        kind = self.changes.get(path)
        if kind is None:
            return Text(name)
        rename = self.renames.get(path)
        letter, colour = marker("renamed" if rename else kind, palette)
        label = Text()
        label.append(name, style="strike dim" if kind == "deleted" else colour)
        label.append(f" {letter}", style=f"bold {colour}")
        if rename is not None and rename.new == path:
            label.append(f" {rename.similarity}% ← {visible(rename.old)}", style="dim")
        elif rename is not None:
            label.append(f" → {visible(rename.new)}", style="dim")
        if path in self.on_disk:
            label.append(f" {DISK_MARKER}", style=f"bold {palette.warning}")
        return label

    def _populate(self, node: TreeNode[str]) -> None:
        """Sync `node`'s children with the workspace; open directories recurse."""
        if node is self.root:
            # Looking the theme up costs more than a label: once per pass.
            self._palette = palette_for(self.app.current_theme) if self.is_attached else DARK
        entries = self._entries(node.data or "")
        if [(child.data, child.allow_expand) for child in node.children] != entries:
            node.remove_children()
            for path, is_dir in entries:
                node.add(self._label(path, is_dir), data=path, allow_expand=is_dir)
        else:
            for child in node.children:
                assert child.data is not None
                child.set_label(self._label(child.data, child.allow_expand))
        for child in node.children:
            if child.allow_expand and child.data in self._open:
                self._populate(child)
                child.expand()

    # -- refreshing -------------------------------------------------------------

    def refresh_changes(self) -> None:
        """Re-read changes and the open directories; reveal newly changed files."""
        if self.workspace is None:
            return
        before = self.changes
        self.changes, self.renames, self.on_disk = scan_changes(self.workspace)
        for path in self.changes.keys() - before.keys():
            parts = path.split("/")[:-1]
            self._open.update("/".join(parts[:depth]) + "/" for depth in range(1, len(parts) + 1))
        self._populate(self.root)

    def select_path(self, path: str) -> None:
        """Move the cursor to `path` if it is shown."""
        for node in self._walk(self.root):
            if node.data == path:
                self.move_cursor(node)
                return

    def _walk(self, node: TreeNode[str]) -> list[TreeNode[str]]:
        found = [node]
        for child in node.children:
            found.extend(self._walk(child))
        return found

    # -- events -----------------------------------------------------------------

    @on(Tree.NodeExpanded)
    def _load_children(self, event: Tree.NodeExpanded[str]) -> None:
        event.stop()
        path = event.node.data or ""
        if path and path not in self._open:
            self._open.add(path)
            self._populate(event.node)
        elif not event.node.children:
            self._populate(event.node)

    @on(Tree.NodeCollapsed)
    def _collapsed(self, event: Tree.NodeCollapsed[str]) -> None:
        event.stop()
        self._open.discard(event.node.data or "")

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        event.stop()
        path = event.node.data
        if path and not path.endswith("/") and _MORE not in path:
            self.post_message(self.FileSelected(path))
