"""Searching files: glob results by age, and line-oriented regex search (grep)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from tiller.errors import WorkspaceError
from tiller.workspace.base import BaseTree, read_bytes
from tiller.workspace.content import SNIFF_BYTES
from tiller.workspace.globs import compile_glob

# Constructs whose meaning depends on what lies beyond the line: with them, a
# match in the whole file is no longer implied by a match in one of its lines.
_LINE_SENSITIVE = ("(?=", "(?!", "(?<", "\\A", "\\Z", "\\z")

Hit = tuple[int, str]
GrepHit = tuple[str, int, str]


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


def newest_first(
    tree: BaseTree, start: str, regex: re.Pattern[str], cut: int, shadowed: set[str]
) -> list[str]:
    """Base files under `start` whose path after `cut` characters matches, newest first.

    Files in `shadowed` (written or deleted in the overlay) are left out; ties
    in modification time are broken by path.
    """
    match = regex.match
    dated: list[tuple[int, str]] = []
    for file, entry in tree.walk(start):
        if file in shadowed or not match(file[cut:]):
            continue
        try:
            dated.append((-entry.stat().st_mtime_ns, file))
        except OSError:
            continue
    dated.sort()
    return [file for _, file in dated]


def filter_by_glob(files: list[str], glob: str, root: str) -> list[str]:
    """Keep files matching a grep glob filter.

    Without a `/` the glob matches file names (`*.py` anywhere, as in ripgrep);
    with one, paths relative to the searched directory `root`.
    """
    match = compile_glob(glob).match
    if "/" not in glob:
        return [file for file in files if match(file.rpartition("/")[2])]
    cut = len(root) + 1 if root else 0
    return [file for file in files if match(file[cut:])]


def grep_files(
    files: list[str],
    overlay: Mapping[str, str],
    tree: BaseTree | None,
    matcher: LineMatcher,
    max_results: int | None,
) -> list[GrepHit]:
    """Search files in order (overlay text first, else the base file's bytes).

    Binary and unreadable base files are skipped; the search stops as soon as
    `max_results` lines are found, and not before.
    """
    results: list[GrepHit] = []
    for file in files:
        remaining = None if max_results is None else max_results - len(results)
        text = overlay.get(file)
        if text is not None:
            hits = matcher.search_text(text, remaining)
        elif tree is not None:
            try:
                data = read_bytes(tree.abspath(file))
            except OSError:
                continue
            hits = matcher.search_bytes(data, remaining) or []
        else:
            continue
        results.extend((file, number, line) for number, line in hits)
        if max_results is not None and len(results) >= max_results:
            break
    return results
