"""Searching files: glob results by age, and line-oriented regex search (grep).

grep matches with RE2 (linear time: no pattern can freeze a session), looks
at the first `SNIFF_BYTES` of a base file to skip binaries without reading
them, skips files over `MAX_GREP_FILE_BYTES` with a note, and stops between
files when cancelled.
"""

from __future__ import annotations

import os
import stat as stat_module
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tiller.workspace.base import BaseTree
from tiller.workspace.content import SNIFF_BYTES
from tiller.workspace.globs import GlobPattern, compile_glob
from tiller.workspace.regex import compile_line_regex

MAX_GREP_FILE_BYTES = 10 * 1024 * 1024
"""Base files larger than this are not searched (named in the result instead)."""

# With these, a match in the whole file no longer implies a match in one of its
# lines being found the same way, so the whole-file prefilter is skipped.
_LINE_SENSITIVE = ("\\A", "\\z")

Hit = tuple[int, str]
GrepHit = tuple[str, int, str]


@dataclass
class GrepResult:
    """What a search found, and what it could not look at.

    Attributes:
        hits: `(path, 1-based line number, line)`, files in path order.
        too_large: base files skipped for being over `MAX_GREP_FILE_BYTES`.
        cancelled: the search stopped early because it was cancelled.
    """

    hits: list[GrepHit] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)
    cancelled: bool = False


class LineMatcher:
    """A compiled RE2 pattern that finds matching lines in UTF-8 bytes.

    Each file is first searched as a whole in multi-line mode; only files that
    match there are split into lines. A line match implies a whole-file match,
    so the prefilter never hides a hit.
    """

    def __init__(self, pattern: str, case_insensitive: bool = False) -> None:
        self.regex = compile_line_regex(pattern, case_insensitive)
        self.prefilter = not any(token in pattern for token in _LINE_SENSITIVE)

    def search_text(self, text: str, limit: int | None) -> list[Hit]:
        """Matching lines as `(1-based number, text without line end)`, at most `limit`."""
        return self.search_bytes(text.encode("utf-8", "surrogatepass"), limit) or []

    def search_bytes(self, data: bytes, limit: int | None) -> list[Hit] | None:
        """Like `search_text` for raw file bytes; None when the content is binary."""
        if data.find(b"\0", 0, SNIFF_BYTES) != -1:
            return None
        if self.prefilter and self.regex.search(data) is None:
            return []
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return None
        search = self.regex.search
        hits: list[Hit] = []
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if search(line) is not None:
                hits.append((number, line.removesuffix(b"\r").decode("utf-8", "replace")))
                if limit is not None and len(hits) >= limit:
                    break
        return hits


def read_for_grep(file: str) -> bytes | int | None:
    """A base file's bytes; None when binary (a NUL in the first bytes) or unreadable.

    Returns the file's size instead when it is over `MAX_GREP_FILE_BYTES`;
    neither case reads more than the first `SNIFF_BYTES`.
    """
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat_module.S_ISREG(st.st_mode):
            return None
        if st.st_size > MAX_GREP_FILE_BYTES:
            return st.st_size
        head = os.read(fd, SNIFF_BYTES)
        if b"\0" in head:
            return None
        chunks = [head]
        total = len(head)
        # Read to the end, but never past the cap: the file may be growing.
        while total <= MAX_GREP_FILE_BYTES and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_GREP_FILE_BYTES:
            return total
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def newest_first(
    tree: BaseTree,
    start: str,
    glob: GlobPattern,
    cut: int,
    shadowed: Callable[[str], bool],
) -> list[str]:
    """Base files under `start` whose path after `cut` characters matches, newest first.

    Files for which `shadowed` says so (written or deleted in the overlay) are
    left out; ties in modification time are broken by path.
    """
    match = glob.match
    dated: list[tuple[int, str]] = []
    for file, entry in tree.walk(start):
        if shadowed(file) or not match(file[cut:]):
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
    files: list[tuple[str, str]],
    overlay: Mapping[str, str],
    tree: BaseTree | None,
    matcher: LineMatcher,
    max_results: int | None,
    cancel: threading.Event | None = None,
) -> GrepResult:
    """Search files in order (overlay text first, else the base file's bytes).

    Args:
        files: `(path shown, path read)` pairs; they differ for a symlink alias,
            which is read through its target's overlay entry.
        overlay: overlay contents by path.
        tree: the base directory, if any.
        matcher: the compiled pattern.
        max_results: stop once this many lines are found (None: no limit).
        cancel: checked between files; when set, the search stops.

    Binary and unreadable base files are skipped, large ones noted.
    """
    result = GrepResult()
    hits = result.hits
    for shown, file in files:
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            break
        remaining = None if max_results is None else max_results - len(hits)
        text = overlay.get(file)
        if text is not None:
            found = matcher.search_text(text, remaining)
        elif tree is not None:
            data = read_for_grep(tree.abspath(file))
            if isinstance(data, int):
                result.too_large.append(shown)
                continue
            if data is None:
                continue
            found = matcher.search_bytes(data, remaining) or []
        else:
            continue
        hits.extend((shown, number, line) for number, line in found)
        if max_results is not None and len(hits) >= max_results:
            break
    return result
