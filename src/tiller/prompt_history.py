"""Prompt history: what the person typed, kept per data directory for every front end.

The file is prompt-toolkit's `FileHistory` format (the REPL reads and writes it
through prompt-toolkit), so `tiller` and `tiller chat` share one history:

    # 2026-11-30 07:00:00.000000
    +first line
    +second line

No UI library is imported here.
"""

from __future__ import annotations

import datetime
from pathlib import Path

__all__ = ["PromptHistory", "history_path", "read_entries"]

MAX_ENTRIES = 1000
"""How many of the newest entries a front end loads (the file itself keeps growing)."""
MAX_READ_BYTES = 4 * 1024 * 1024
"""How much of the end of the file is read (Up on a history of gigabytes stays instant)."""


def history_path() -> Path:
    """The history file under Tiller's data directory."""
    from tiller.journal import data_dir

    return data_dir() / "chat_history"


def read_entries(path: Path) -> list[str]:
    """The entries in the last `MAX_READ_BYTES` of `path`, oldest first.

    None when the file is missing or unreadable. The file only grows: of a larger
    one, the tail is read from the first whole entry in it.
    """
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - MAX_READ_BYTES))
            raw = file.read(MAX_READ_BYTES)
    except OSError:
        return []
    if size > MAX_READ_BYTES:
        # Cut in the middle of an entry: start at the next entry's `# date` line.
        start = raw.find(b"\n#")
        raw = raw[start + 1 :] if start >= 0 else b""
    entries: list[str] = []
    lines: list[str] = []
    # Newlines only, as prompt-toolkit reads it: `str.splitlines` would also break an
    # entry at a carriage return, form feed or U+2028 typed inside it and lose the rest.
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        line += "\n"
        if line.startswith("+"):
            lines.append(line[1:])
        elif lines:
            entries.append("".join(lines)[:-1])
            lines = []
    if lines:
        entries.append("".join(lines).removesuffix("\n"))
    return entries


class PromptHistory:
    """Up/Down through earlier prompts, newest first, with the draft kept aside.

    Loaded from the file at the first step back (never at start-up); every
    `add` is appended to the file at once, so another Tiller sees it next time.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else history_path()
        self._entries: list[str] | None = None
        self._index: int | None = None
        """Which entry is shown (an index into the entries), None while editing the draft."""
        self._draft = ""

    @property
    def entries(self) -> list[str]:
        if self._entries is None:
            self._entries = read_entries(self.path)[-MAX_ENTRIES:]
        return self._entries

    @property
    def browsing(self) -> bool:
        """Whether an earlier entry is shown instead of the draft."""
        return self._index is not None

    def add(self, text: str) -> None:
        """Remember `text` (sent, steered or queued) and stop browsing."""
        self._index = None
        self._draft = ""
        if not text.strip():
            return
        if self._entries is not None:
            self._entries.append(text)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path.touch(mode=0o600, exist_ok=True)
            with self.path.open("ab") as out:
                stamp = datetime.datetime.now()
                body = "".join(f"+{line}\n" for line in text.split("\n"))
                out.write(f"\n# {stamp}\n{body}".encode("utf-8", errors="replace"))
        except OSError:
            pass  # a history that cannot be written is not worth interrupting anyone for

    def previous(self, current: str) -> str | None:
        """The entry before the one shown (`current` is kept as the draft); None at the oldest."""
        entries = self.entries
        index = len(entries) if self._index is None else self._index
        # Skip entries equal to what is shown: Up should always change the text.
        while index > 0 and entries[index - 1] == current:
            index -= 1
        if index == 0:
            return None
        if self._index is None:
            self._draft = current
        self._index = index - 1
        return entries[self._index]

    def next(self) -> str | None:
        """The entry after the one shown, then the draft; None when not browsing."""
        if self._index is None:
            return None
        entries = self.entries
        index = self._index + 1
        while index < len(entries) and entries[index] == entries[self._index]:
            index += 1
        if index >= len(entries):
            self._index = None
            return self._draft
        self._index = index
        return entries[index]

    def reset(self) -> None:
        """Stop browsing (the person edited the text shown)."""
        self._index = None
