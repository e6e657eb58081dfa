"""What Tab offers in `tiller chat`: slash commands, workspace paths; and the input history."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from tiller.completion import complete_prompt

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent

    from tiller.workspace import Workspace


def history_path() -> Path:
    """The input history file, under Tiller's data directory (the TUI shares it)."""
    from tiller.prompt_history import history_path as shared

    return shared()


def file_history() -> History:
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600, exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


class ReplCompleter(Completer):
    """Slash commands at the start of the line, workspace paths after `@` (and for /diff).

    What to offer is `tiller.completion`'s (the TUI's prompt offers the same).
    """

    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        needs_workspace = not before.startswith("/") or before.startswith("/diff ")
        found = complete_prompt(before, self._workspace() if needs_workspace else None)
        for candidate in found.candidates:
            yield Completion(
                candidate.text,
                start_position=found.start - len(before),
                display=candidate.display,
                display_meta=candidate.meta or None,
            )
