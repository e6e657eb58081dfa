"""Text from outside made safe to show on a terminal: one place for every front end.

File names, file contents, command output, the model's text and tool arguments
all come from places an attacker can write to (a cloned repository, a web page
the model read). Shown raw, an escape sequence in them can set the window title,
write the clipboard (OSC 52), move the cursor and overwrite what the person
reads, or hide a link (OSC 8); a carriage return or backspace can paint over a
line; a bidi override (U+202E) or a zero-width character can make a name or a
command read as something it is not.

- `visible` is for what must read exactly as it is (file names, commands to
  approve): every control, bidi and invisible formatting character shows as an
  escape (`\\x1b`, `\\u202e`), and a non-UTF-8 byte as `\\xNN`; `code_line` is the
  same for a line of a file under review (tabs kept).
- `readable` is for prose and output (the model's text, command output, file
  contents): escape sequences are dropped whole (colours included), a carriage
  return becomes a line break, and what other controls and bidi overrides
  remain show as escapes; tabs, line breaks and the joiners that emoji and
  scripts need are kept.
- `without_controls` drops the zero-width controls and nothing else, so the
  cell width of the text is unchanged: the last line of defence under a UI
  that has already laid its text out.

No UI imports here: the engine-side front-end code may use it too.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TextIO

# ECMA-48: CSI (ESC [ or the C1 byte 0x9b) parameters, intermediates, a final byte;
# OSC / DCS / SOS / PM / APC strings up to BEL or ST (ESC \ or 0x9c), or to the next
# escape when unterminated; any other ESC + intermediates + final byte.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)

# Bidi embeddings, overrides and isolates reorder what follows them on screen.
_BIDI = "\u202a-\u202e\u2066-\u2069"

# What `readable` shows as an escape: C0 controls but tab and line feed, DEL, C1,
# bidi reordering, the line and paragraph separators, lone surrogates.
_PROSE_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")

# What `without_controls` drops: zero-width characters a terminal acts on (a line
# break stays: it is how printed lines end).
_ZERO_WIDTH_CONTROL = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")

# Characters that need a closer look in `visible`: all but printable ASCII and a few
# large blocks with no control or invisible character in them (Latin-1 without the
# soft hyphen, Latin extended, IPA, Cyrillic, kana, CJK ideographs, Hangul).
_NOT_PLAIN = re.compile(
    "[^\x20-\x7e\u00a0-\u00ac\u00ae-\u02ff\u0400-\u04ff"
    "\u3041-\u3096\u30a0-\u30ff\u4e00-\u9fff\uac00-\ud7a3]"
)


def _escape_char(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (`surrogateescape`)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def _unsafe_in_name(char: str) -> bool:
    # Cc controls, Cf formatting (bidi, zero-width, soft hyphen), Cs surrogates,
    # Co private use, Cn unassigned; Zl/Zp line and paragraph separators.
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


def visible(text: str, keep: str = "") -> str:
    """`text` with every control and invisible character shown as an escape.

    For names and commands: what is shown is exactly what is there, on one line
    (a line break shows as `\\x0a`) unless `keep` names it (`keep="\\t"` for code).
    """

    if text.isascii() and text.isprintable():
        return text  # nearly every line of code: nothing to look at (a C-speed check)

    def shown(match: re.Match[str]) -> str:
        char = match[0]
        return _escape_char(char) if char not in keep and _unsafe_in_name(char) else char

    return _NOT_PLAIN.sub(shown, text)


def inert(text: str) -> str:
    """`text` with control and invisible characters shown as escapes, line breaks and tabs
    kept: text from elsewhere (a tool's output, an MCP server's stderr) printed whole."""
    return visible(text, keep="\n\t")


def code_line(line: str) -> str:
    """One line of a file for review: tabs kept, a CRLF's `\\r` dropped, the rest as `visible`."""
    return visible(line.removesuffix("\r"), keep="\t")


def readable(text: str) -> str:
    """`text` for reading: sequences dropped, `\\r` as a line break, other controls escaped."""
    if text.isascii() and text.isprintable():
        return text
    if "\x1b" in text or not text.isascii():
        text = _SEQUENCE.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _PROSE_UNSAFE.sub(lambda m: _escape_char(m[0]), text)


# A stream's end that may be the start of an escape sequence (or a `\r` before `\n`).
_MAYBE_UNFINISHED = re.compile(
    "(?:\x1b|[\x90\x98\x9b\x9d-\x9f])[^\x1b\x90\x98\x9b\x9d-\x9f]{0,256}\\Z|\r\\Z"
)


def unfinished_end(text: str) -> int:
    """Where a streamed chunk's unfinished escape sequence (or last `\\r`) starts, else its length.

    A stream cut mid-sequence would be made `readable` in two halves, and the second
    half would show as text; the caller holds `text[index:]` back for the next chunk.
    """
    match = _MAYBE_UNFINISHED.search(text, max(0, len(text) - 260))
    if match is None:
        return len(text)
    sequence = _SEQUENCE.match(match[0])
    if match[0] == "\r" or (sequence is not None and sequence.end() == len(match[0])):
        return match.start()
    return len(text)


def without_controls(text: str) -> str:
    """`text` without the zero-width controls a terminal would act on (widths unchanged)."""
    return _ZERO_WIDTH_CONTROL.sub("", text)


def has_controls(text: str) -> bool:
    """Whether `without_controls` would change `text`."""
    return _ZERO_WIDTH_CONTROL.search(text) is not None


MAX_COMMAND_CHARS = 20_000
"""Characters of a command shown for approval; the rest is counted, never silently dropped."""


def shown_command(command: str) -> tuple[str, int]:
    """(the command as it will run, `visible` with its lines kept, cut; characters left out)."""
    return (
        visible(command[:MAX_COMMAND_CHARS], keep="\n\t"),
        max(0, len(command) - MAX_COMMAND_CHARS),
    )


def cut_line(line: str, limit: int) -> str:
    """`line` cut at `limit` characters with the rest counted, so a cut is never silent."""
    if len(line) <= limit:
        return line
    return f"{line[:limit]} … {len(line) - limit:,} more characters"


def for_stream(text: str, stream: TextIO) -> str:
    """`text` as it is for a pipe or a file; `readable` when `stream` is a terminal.

    What the model wrote or a command printed is data to a pipe (`tiller run > out`
    keeps every byte), but on a terminal its escape sequences would set the title,
    write the clipboard or clear the screen, as Claude Code and Codex also judge.
    """
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        terminal = False
    return readable(text) if terminal else text
