"""Text versus binary content, and git's idea of a line."""

from __future__ import annotations

import codecs

from tiller.errors import WorkspaceError

SNIFF_BYTES = 8192
"""How much of a file is checked for a NUL byte (git and ripgrep use the same idea)."""


def decode_text(data: bytes) -> str | None:
    """Decode file bytes as UTF-8 text, or return None for binary content.

    Content is binary when a NUL byte occurs in the first `SNIFF_BYTES` bytes or
    the bytes are not valid UTF-8.
    """
    if data.find(b"\0", 0, SNIFF_BYTES) != -1:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def head_is_binary(head: bytes) -> bool:
    """Whether a file's first bytes say it is binary, for files too large to decode whole.

    The same test as `decode_text`, except that a multi-byte character cut at
    the end of `head` does not count against it.
    """
    if b"\0" in head[:SNIFF_BYTES]:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return True
    return False


def encode_text(path: str, content: str) -> bytes:
    """Encode content for disk, refusing what UTF-8 cannot hold (lone surrogates)."""
    if not isinstance(content, str):
        raise WorkspaceError(f"Content for {path} must be a string, got {type(content).__name__}")
    try:
        return content.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WorkspaceError(f"Content for {path} is not valid UTF-8 text: {exc.reason}") from exc


def split_lines(text: str) -> list[str]:
    """Split on `\\n` only, keeping line ends; the last line may lack one.

    `str.splitlines` also splits on `\\r`, form feeds and Unicode separators,
    which git does not, so diffs built from it would not apply.
    """
    if not text:
        return []
    lines = [line + "\n" for line in text.split("\n")]
    last = lines.pop()
    if last != "\n":
        lines.append(last[:-1])
    return lines
