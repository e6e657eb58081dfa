"""Text put inside Textual markup so that it shows as itself, whatever it holds.

`rich.markup.escape` (and Textual's own `escape`) leave `[$variable]` tags and
`[` after a digit or capital alone, and a text that ends in a backslash makes
the tag that follows it print as text (`a\\[/dim]`). Textual's markup reads
`\\[` as a literal `[` and treats every other backslash as itself, so escaping
every `[` is exact; a trailing backslash is kept off the next tag by a
zero-width space.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """`text` as Textual markup that renders exactly `text` (no tag, action or variable)."""
    escaped = text.replace("[", "\\[")
    return escaped + "\u200b" if escaped.endswith("\\") else escaped
