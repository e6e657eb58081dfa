"""What Tab completes in a prompt, for every front end: slash commands and workspace paths.

Front-end independent (no UI library): the TUI's prompt menu and the REPL's
prompt-toolkit completer both ask `complete_prompt` and show the candidates
their own way. Paths come from the workspace, so files the agent created (only
in the overlay) are offered and files it deleted are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tiller.commands import complete
from tiller.terminal_text import visible

if TYPE_CHECKING:
    from tiller.workspace import Workspace

__all__ = ["Candidate", "Completions", "complete_prompt"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One completion.

    Attributes:
        text: what replaces the typed word (from `Completions.start` to the cursor).
        display: how a menu shows it (a name as `terminal_text.visible` shows it).
        meta: a second, dimmer column (a command's help, a change's kind).
        command: whether it is a slash command (the TUI runs the highlighted one on Enter).
    """

    text: str
    display: str
    meta: str = ""
    command: bool = False


@dataclass(frozen=True, slots=True)
class Completions:
    """The candidates for the word that ends at the cursor, which starts at `start`."""

    start: int
    candidates: tuple[Candidate, ...] = ()


NOTHING = Completions(0)


def complete_prompt(before: str, workspace: Workspace | None) -> Completions:
    """Completions for `before` (the prompt's text up to the cursor).

    `/na` offers commands; `@sr` (anywhere, after a space or at the start) offers
    workspace paths; `/diff pa` offers the changed paths.
    """
    if before.startswith("/") and not any(c.isspace() for c in before):
        found = tuple(
            Candidate(f"/{c.name}", c.usage, c.help, command=True) for c in complete(before)
        )
        return Completions(0, found)
    if workspace is None:
        return NOTHING
    word = before.split()[-1] if before and not before[-1].isspace() else ""
    if word.startswith("@"):
        typed = word[1:]
        return Completions(len(before) - len(typed), tuple(_paths(workspace, typed)))
    if before.startswith("/diff ") and not any(c.isspace() for c in before[6:]):
        typed = before[6:]
        return Completions(6, tuple(_changed(workspace, typed)))
    return NOTHING


def _paths(workspace: Workspace, typed: str) -> list[Candidate]:
    """Entries of the typed directory that start with the typed name (dot files on `.`)."""
    from tiller.workspace.paths import printable  # loaded with the workspace already

    directory, _, prefix = typed.rpartition("/")
    try:
        entries = workspace.list_dir(directory)
    except Exception:
        return []  # not a directory (yet): nothing to offer
    # A name that is not UTF-8 is offered as the tools show it (`caf\\xe9.py`, which the
    # workspace reads back): a raw surrogate could not be shown, kept in the history, or sent.
    shown = (printable(entry) for entry in entries)
    return [
        Candidate(f"{directory}/{entry}" if directory else entry, visible(entry))
        for entry in shown
        if entry.startswith(prefix) and (prefix.startswith(".") or not entry.startswith("."))
    ]


def _changed(workspace: Workspace, typed: str) -> list[Candidate]:
    from tiller.workspace.paths import printable

    shown = ((printable(path), kind) for path, kind in workspace.changes())
    return [Candidate(path, visible(path), kind) for path, kind in shown if path.startswith(typed)]
