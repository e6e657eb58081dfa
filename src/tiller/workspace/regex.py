"""Linear-time regular expressions (RE2) for grep, with messages that say what to write instead.

Python's `re` backtracks: `(a+)+$` over a line of 35 `a`s and a `!` runs for
hours while holding the GIL, freezing every session. RE2 matches in time
linear in the input and refuses the constructs that need backtracking.
"""

from __future__ import annotations

import re

import re2

from tiller.errors import WorkspaceError


def re2_options(case_insensitive: bool = False) -> re2.Options:
    """RE2 options: UTF-8, errors raised rather than logged to stderr."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not case_insensitive
    return options


_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\(\?<?[=!]"),
        "lookahead and lookbehind ((?=...), (?!...), (?<=...), (?<!...)) are not supported; "
        "match the surrounding text itself (e.g. `foo\\(` instead of `foo(?=\\()`), or grep "
        "for the wider pattern and pick the lines you need",
    ),
    (
        re.compile(r"\\[1-9]|\(\?P="),
        "backreferences (\\1, (?P=name)) are not supported; write the repeated text out "
        "(e.g. `(ab)ab` instead of `(ab)\\1`) or search for one occurrence",
    ),
    (
        re.compile(r"\(\?>|[*+?}]\+"),
        "atomic groups and possessive quantifiers are not supported and not needed "
        "(RE2 never backtracks); drop them",
    ),
    (re.compile(r"\\Z"), "\\Z is not supported; use `$` (end of line) or `\\z`"),
)


_UNICODE_CLASSES = {
    "w": ("[\\p{L}\\p{N}_]", "\\p{L}\\p{N}_"),
    "W": ("[^\\p{L}\\p{N}_]", None),
    "d": ("\\p{Nd}", "\\p{Nd}"),
    "D": ("\\P{Nd}", None),
}
"""RE2's `\\w` and `\\d` are ASCII-only; Python's match any letter or digit, as models expect.

Each maps to (outside a class, inside a class); None keeps the escape as it is."""


def unicode_classes(pattern: str) -> str:
    """Rewrite `\\w`, `\\W`, `\\d`, `\\D` to their Unicode meaning in RE2 syntax."""
    if "\\" not in pattern:
        return pattern
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            mapped = _UNICODE_CLASSES.get(escaped)
            replacement = mapped and mapped[1 if in_class else 0]
            out.append(replacement or pattern[index : index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            # A `]` right after `[` or `[^` is a literal member, not the end.
            for literal in ("^", "]"):
                if pattern.startswith(literal, index + 1):
                    out.append(literal)
                    index += 1
        elif char == "]" and in_class:
            in_class = False
            out.append(char)
        else:
            out.append(char)
        index += 1
    return "".join(out)


def compile_line_regex(pattern: str, case_insensitive: bool = False) -> re2._Regexp:
    """Compile a grep pattern (RE2 syntax, Python-like) in multi-line mode.

    Raises:
        WorkspaceError: the pattern is invalid or uses syntax RE2 lacks; the
            message says what to write instead.
    """
    if not isinstance(pattern, str):
        raise WorkspaceError(f"Pattern must be a string, got {type(pattern).__name__}")
    try:
        encoded = unicode_classes(pattern).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WorkspaceError(f"Pattern {pattern!r} is not valid text: {exc.reason}") from exc
    options = re2_options(case_insensitive)
    try:
        re2.compile(encoded, options)  # alone first, so errors quote the model's pattern
        return re2.compile(b"(?m)" + encoded, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        for marker, hint in _HINTS:
            if marker.search(pattern):
                raise WorkspaceError(
                    f"Invalid regex {pattern!r}: grep uses RE2 syntax, where {hint}"
                ) from exc
        raise WorkspaceError(f"Invalid regex {pattern!r} (RE2 syntax): {reason}") from exc
