"""What Tab offers in `tiller chat`: slash commands, workspace paths; and the input history."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from tiller.commands import complete

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent

    from tiller.workspace import Workspace


def history_path() -> Path:
    """The REPL's input history file, under Tiller's data directory."""
    from tiller.journal import data_dir

    return data_dir() / "chat_history"


def file_history() -> History:
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600, exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


class ReplCompleter(Completer):
    """Slash commands at the start of the line, workspace paths after `@` (and for /diff)."""

    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        if before.startswith("/") and not any(c.isspace() for c in before):
            for command in complete(before):
                yield Completion(
                    f"/{command.name}",
                    start_position=-len(before),
                    display=command.usage,
                    display_meta=command.help,
                )
            return
        word = before.split()[-1] if before and not before[-1].isspace() else ""
        if word.startswith("@"):
            yield from self._paths(word[1:])
        elif before.startswith("/diff ") and " " not in before[6:]:
            yield from self._changed(before[6:])

    def _paths(self, typed: str) -> Iterable[Completion]:
        directory, _, prefix = typed.rpartition("/")
        try:
            entries = self._workspace().list_dir(directory)
        except Exception:
            return
        for entry in entries:
            if entry.startswith(prefix) and (prefix.startswith(".") or not entry.startswith(".")):
                full = f"{directory}/{entry}" if directory else entry
                yield Completion(full, start_position=-len(typed), display=entry)

    def _changed(self, typed: str) -> Iterable[Completion]:
        for path, kind in self._workspace().changes():
            if path.startswith(typed):
                yield Completion(path, start_position=-len(typed), display_meta=kind)
