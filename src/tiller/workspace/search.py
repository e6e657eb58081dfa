"""Line-oriented regex search over file contents, with a whole-file prefilter."""

from __future__ import annotations

import re

from tiller.errors import WorkspaceError
from tiller.workspace.content import SNIFF_BYTES

# Constructs whose meaning depends on what lies beyond the line: with them, a
# match in the whole file is no longer implied by a match in one of its lines.
_LINE_SENSITIVE = ("(?=", "(?!", "(?<", "\\A", "\\Z", "\\z")

Hit = tuple[int, str]


class LineMatcher:
    """A compiled pattern that finds matching lines in text or raw file bytes.

    Each file is first searched as a whole (as bytes when both the pattern and
    the file are ASCII, where `re`'s bytes and str semantics agree); only files
    that match there are split into lines. A line match implies a whole-file
    match, so the prefilter never hides a hit.
    """

    def __init__(self, pattern: str, case_insensitive: bool = False) -> None:
        flags = re.MULTILINE | (re.IGNORECASE if case_insensitive else 0)
        try:
            self.regex = re.compile(pattern, flags)
        except re.error as exc:
            raise WorkspaceError(f"Invalid regex {pattern!r}: {exc}") from exc
        except (TypeError, OverflowError, RecursionError) as exc:
            raise WorkspaceError(f"Invalid regex {pattern!r}: {exc}") from exc
        self.prefilter = not any(token in pattern for token in _LINE_SENSITIVE)
        self.bytes_regex: re.Pattern[bytes] | None = None
        if pattern.isascii():
            try:
                self.bytes_regex = re.compile(pattern.encode("ascii"), flags)
            except re.error:
                self.bytes_regex = None

    def search_text(self, text: str, limit: int | None) -> list[Hit]:
        """Matching lines as `(1-based number, text without line end)`, at most `limit`."""
        if self.prefilter and self.regex.search(text) is None:
            return []
        return self._lines(text, limit)

    def search_bytes(self, data: bytes, limit: int | None) -> list[Hit] | None:
        """Like `search_text` for raw file bytes; None when the content is binary."""
        if data.find(b"\0", 0, SNIFF_BYTES) != -1:
            return None
        if self.bytes_regex is not None and data.isascii():
            if self.prefilter and self.bytes_regex.search(data) is None:
                return []
            return self._lines(data.decode("ascii"), limit)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return self.search_text(text, limit)

    def _lines(self, text: str, limit: int | None) -> list[Hit]:
        search = self.regex.search
        hits: list[Hit] = []
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if search(line) is not None:
                hits.append((number, line.removesuffix("\r")))
                if limit is not None and len(hits) >= limit:
                    break
        return hits
