"""Glob patterns (`*`, `?`, `[...]`, `{a,b}`, `**`) compiled to regular expressions."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from tiller.errors import WorkspaceError

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


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a glob matched against whole `/`-separated relative paths.

    `*` and `?` stay within one path segment; `**` as a whole segment matches
    any number of directories, including none.

    Raises:
        WorkspaceError: the pattern is empty or expands to too many alternatives.
    """
    if not pattern.strip("/"):
        raise WorkspaceError("Glob pattern is empty")
    alternatives = [_translate(p) for p in expand_braces(pattern)]
    return re.compile("(?s:" + "|".join(f"(?:{a})" for a in alternatives) + r")\Z")


def literal_prefix(pattern: str) -> str:
    """The leading directories of a glob that contain no wildcards (for pruning walks)."""
    segments = [s for s in pattern.split("/") if s not in ("", ".")]
    prefix: list[str] = []
    for segment in segments[:-1]:
        if _MAGIC.search(segment) or segment == "..":
            break
        prefix.append(segment)
    return "/".join(prefix)
