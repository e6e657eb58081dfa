"""Keys typed before the TUI took the terminal: read them back as the person meant them.

Until Textual puts the terminal in raw mode, the tty is in its cooked mode: it
turns Enter (CR) into a newline (LF), which Textual would read as Ctrl+J, a new
line in the prompt, so "hi" + Enter typed as the UI appeared stayed unsent.
`take_typeahead` switches that translation (and line buffering and echo) off at
once and takes what is already waiting; the app replays it as keys, Enter as
Enter, before any key Textual reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import struct
import termios
from collections.abc import Callable
from typing import TextIO

from textual import events
from textual.keys import _character_to_key

__all__ = ["keys_of", "take_typeahead"]

_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|O.|.)?", re.DOTALL)
"""Escape sequences (arrows, function keys, Alt+key): not text, dropped."""
_NAMED = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace"}


def take_typeahead(stream: TextIO) -> tuple[str, Callable[[], None]]:
    """(what was typed and not read yet, how to put the terminal back as it was).

    Nothing to take (and nothing to restore) when `stream` is not a terminal.
    """
    try:
        fd = stream.fileno()
        before = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        return "", lambda: None
    quiet = termios.tcgetattr(fd)
    quiet[0] &= ~termios.ICRNL
    quiet[3] &= ~(termios.ICANON | termios.ECHO)
    try:
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
        waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        data = os.read(fd, waiting) if waiting > 0 else b""
    except OSError:
        data = b""

    def restore() -> None:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, before)

    return data.decode("utf-8", errors="replace"), restore


def keys_of(text: str) -> list[events.Key]:
    """`text` typed ahead as key events: printable characters, Enter, Tab, Backspace.

    A newline is Enter (the cooked terminal made it of one); other control
    characters and escape sequences are dropped.
    """
    keys: list[events.Key] = []
    for character in _ESCAPES.sub("", text):
        named = _NAMED.get(character)
        if named is not None:
            keys.append(events.Key(named, "\r" if named == "enter" else character))
        elif character.isprintable():
            keys.append(events.Key(_character_to_key(character), character))
    return keys
