"""Glob patterns (`*`, `?`, `[...]`, `{a,b}`, `**`) compiled to linear-time RE2 expressions.

Python's backtracking `re` takes polynomial time on globs such as
`*a*a*a*a*b` (each star a nested loop), so a model's pattern could freeze a
walk; RE2 never backtracks.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import re2

from tiller.errors import WorkspaceError
from tiller.workspace.regex import re2_options

MAX_BRACE_EXPANSIONS = 256
_MAGIC = re.compile(r"[*?\[{\\]")


def expand_braces(pattern: str) -> list[str]:
    """Expand `{a,b}` alternatives (nested allowed); unbalanced braces stay literal."""
    depth = 0
    start = -1
    commas: list[int] = []
    for index, char in enumerate(pattern):
        if char == "\\":
            continue
        if char == "{":
            if depth == 0:
                start = index
                commas = []
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                if not commas:
                    continue
                head, tail = pattern[:start], pattern[index + 1 :]
                bounds = [start, *commas, index]
                options = [pattern[a + 1 : b] for a, b in itertools.pairwise(bounds)]
                out: list[str] = []
                for option in options:
                    out.extend(expand_braces(head + option + tail))
                    if len(out) > MAX_BRACE_EXPANSIONS:
                        raise WorkspaceError(f"Glob {pattern!r} expands to too many patterns")
                return out
        elif char == "," and depth == 1:
            commas.append(index)
    return [pattern]


def _segment(segment: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        index += 1
        if char == "*":
            while index < len(segment) and segment[index] == "*":
                index += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and index < len(segment):
            out.append(re.escape(segment[index]))
            index += 1
        elif char == "[":
            end = index
            if end < len(segment) and segment[end] in "!^":
                end += 1
            if end < len(segment) and segment[end] == "]":
                end += 1
            while end < len(segment) and segment[end] != "]":
                end += 1
            if end >= len(segment):
                out.append(re.escape(char))
                continue
            body = segment[index:end].replace("\\", "\\\\")
            index = end + 1
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _translate(pattern: str) -> str:
    segments = [s for s in pattern.split("/") if s not in ("", ".")]
    parts: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]*/)*")
        else:
            parts.append(_segment(segment) + ("" if last else "/"))
    return "".join(parts)


# Names that are not UTF-8 reach us with surrogate escapes (U+DC80-U+DCFF), which
# RE2 cannot take; they are matched as private-use characters instead, one per byte.
_SURROGATES = {code: code - 0xDC80 + 0xF780 for code in range(0xDC80, 0xDD00)}


def matchable(path: str) -> str:
    """`path` as text RE2 accepts: surrogate escapes become private-use characters."""
    if path.isascii():
        return path
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.translate(_SURROGATES)
    return path


class GlobPattern:
    """A compiled glob; `match(path)` tells whether it matches the whole path."""

    def __init__(self, regex: str) -> None:
        self._fullmatch = re2.compile(regex, re2_options()).fullmatch

    def match(self, path: str) -> bool:
        """Whether the glob matches all of `path`."""
        try:
            return self._fullmatch(matchable(path)) is not None
        except UnicodeEncodeError:
            return False  # a lone surrogate no file name can hold


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> GlobPattern:
    """Compile a glob matched against whole `/`-separated relative paths.

    `*` and `?` stay within one path segment; `**` as a whole segment matches
    any number of directories, including none.

    Raises:
        WorkspaceError: the pattern is empty, expands to too many alternatives,
            or is not a valid pattern.
    """
    if not pattern.strip("/"):
        raise WorkspaceError("Glob pattern is empty")
    alternatives = [_translate(p) for p in expand_braces(matchable(pattern))]
    try:
        return GlobPattern("(?s:" + "|".join(f"(?:{a})" for a in alternatives) + ")")
    except (re2.error, UnicodeEncodeError) as exc:
        raise WorkspaceError(f"Invalid glob {pattern!r}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, re2.error) and exc.args and isinstance(exc.args[0], bytes):
        return exc.args[0].decode("utf-8", "replace")
    return str(exc)


def literal_prefix(pattern: str) -> str:
    """The leading directories of a glob that contain no wildcards (for pruning walks)."""
    segments = [s for s in pattern.split("/") if s not in ("", ".")]
    prefix: list[str] = []
    for segment in segments[:-1]:
        if _MAGIC.search(segment) or segment == "..":
            break
        prefix.append(segment)
    return "/".join(prefix)
