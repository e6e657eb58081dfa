"""Git-style unified diffs that `git apply` accepts.

Built on `difflib.SequenceMatcher`, with the file headers, hunk ranges, and
`\\ No newline at end of file` markers that git itself writes. Lines are split
on `\\n` only, as git does.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterator, Sequence
from difflib import SequenceMatcher

from tiller.workspace.base import Snapshot
from tiller.workspace.content import SNIFF_BYTES, split_lines

CONTEXT = 3
NO_NEWLINE = "\\ No newline at end of file\n"
EXACT_MATCH_CELLS = 1_000_000
"""Above this many line pairs (old x new, common ends trimmed) the matching is heuristic."""
NULL_ID = "0" * 40

Opcode = tuple[str, int, int, int, int]

_QUOTE_ESCAPES = {
    0x07: "\\a",
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0B: "\\v",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}


def quote_path(prefixed: str) -> str:
    """Quote a path the way git does (C-style, octal for non-ASCII bytes) when needed."""
    raw = prefixed.encode("utf-8", "surrogateescape")
    if not any(b < 0x20 or b >= 0x7F or b in (0x22, 0x5C) for b in raw):
        return prefixed
    out = []
    for b in raw:
        if b in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[b])
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


def blob_id(data: bytes) -> str:
    """The git object id of a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def file_mode(mode: int | None) -> str:
    """Git's mode string for a regular file with these permission bits."""
    return "100755" if mode is not None and mode & 0o111 else "100644"


def _opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """Opcodes for turning `a` into `b`; the common ends are trimmed before matching."""
    lo = 0
    limit = min(len(a), len(b))
    while lo < limit and a[lo] == b[lo]:
        lo += 1
    end_a, end_b = len(a), len(b)
    while end_a > lo and end_b > lo and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    codes: list[Opcode] = []
    if lo:
        codes.append(("equal", 0, lo, 0, lo))
    # Exact matching is quadratic in repeated lines (`}`, blank lines); past this size
    # difflib's heuristic leaves frequent lines out of the anchors (still a correct
    # patch, perhaps a less tidy one) so a big file's diff takes milliseconds.
    exact = (end_a - lo) * (end_b - lo) <= EXACT_MATCH_CELLS
    matcher = SequenceMatcher(None, a[lo:end_a], b[lo:end_b], autojunk=not exact)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        codes.append((tag, i1 + lo, i2 + lo, j1 + lo, j2 + lo))
    if end_a < len(a):
        codes.append(("equal", end_a, len(a), end_b, len(b)))
    return codes


def _groups(codes: list[Opcode], n: int = CONTEXT) -> Iterator[list[Opcode]]:
    """Split opcodes into hunks with `n` lines of context (as difflib does)."""
    if not any(code[0] != "equal" for code in codes):
        return
    codes = list(codes)
    tag, i1, i2, j1, j2 = codes[0]
    if tag == "equal":
        codes[0] = (tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2)
    tag, i1, i2, j1, j2 = codes[-1]
    if tag == "equal":
        codes[-1] = (tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n))
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def _emit(out: list[str], sign: str, lines: Sequence[str]) -> None:
    for line in lines:
        out.append(sign)
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n" + NO_NEWLINE)


def hunks(old: str, new: str) -> str:
    """The `@@` hunks turning `old` into `new` (empty when they are equal)."""
    a, b = split_lines(old), split_lines(new)
    out: list[str] = []
    for group in _groups(_opcodes(a, b)):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                _emit(out, " ", a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                _emit(out, "-", a[i1:i2])
            if tag in ("replace", "insert"):
                _emit(out, "+", b[j1:j2])
    return "".join(out)


def _header(path: str, old: bytes | None, new: bytes | None, old_mode: int | None) -> list[str]:
    a_name, b_name = quote_path("a/" + path), quote_path("b/" + path)
    lines = [f"diff --git {a_name} {b_name}\n"]
    if old is None:
        lines.append("new file mode 100644\n")
    elif new is None:
        lines.append(f"deleted file mode {file_mode(old_mode)}\n")
    return lines


def _labels(path: str, old: bytes | None, new: bytes | None) -> str:
    tab = "\t" if " " in path else ""
    a_label = "/dev/null" if old is None else quote_path("a/" + path) + tab
    b_label = "/dev/null" if new is None else quote_path("b/" + path) + tab
    return f"--- {a_label}\n+++ {b_label}\n"


def text_diff(path: str, old: str | None, new: str | None, old_mode: int | None = None) -> str:
    """A git diff for one text file; None on a side means the file is absent there.

    Args:
        path: the workspace path (POSIX, relative).
        old: the base content, or None when the file is added.
        new: the new content, or None when the file is deleted.
        old_mode: the base file's permission bits, for the mode lines.
    """
    if old == new:
        return ""
    old_bytes = None if old is None else old.encode("utf-8")
    new_bytes = None if new is None else new.encode("utf-8")
    out = _header(path, old_bytes, new_bytes, old_mode)
    old_id = blob_id(old_bytes)[:7] if old_bytes is not None else "0000000"
    new_id = blob_id(new_bytes)[:7] if new_bytes is not None else "0000000"
    mode = f" {file_mode(old_mode)}" if old is not None and new is not None else ""
    out.append(f"index {old_id}..{new_id}{mode}\n")
    body = hunks(old or "", new or "")
    if body:
        out.append(_labels(path, old_bytes, new_bytes))
        out.append(body)
    return "".join(out)


def _encode_literal(data: bytes) -> str:
    compressed = zlib.compress(data)
    lines = [f"literal {len(data)}\n"]
    for start in range(0, len(compressed), 52):
        chunk = compressed[start : start + 52]
        size = len(chunk)
        marker = chr(ord("A") + size - 1) if size <= 26 else chr(ord("a") + size - 27)
        lines.append(marker + base64.b85encode(chunk, pad=True).decode("ascii") + "\n")
    lines.append("\n")
    return "".join(lines)


def binary_diff(
    path: str, old: bytes | None, new: bytes | None, old_mode: int | None = None
) -> str:
    """A `GIT binary patch` for one file with binary content on either side.

    Git applies binary patches only with full object ids on the index line,
    so both are written in full; the patch carries literal content both ways.
    """
    if old == new:
        return ""
    out = _header(path, old, new, old_mode)
    old_id = NULL_ID if old is None else blob_id(old)
    new_id = NULL_ID if new is None else blob_id(new)
    mode = f" {file_mode(old_mode)}" if old is not None and new is not None else ""
    out.append(f"index {old_id}..{new_id}{mode}\n")
    out.append("GIT binary patch\n")
    out.append(_encode_literal(new or b""))
    out.append(_encode_literal(old or b""))
    return "".join(out)


def binary_note(path: str) -> str:
    """A diff stub saying a file differs in binary content (parsed as such by front ends)."""
    return f"diff --git a/{path} b/{path}\nBinary files a/{path} and b/{path} differ\n"


def file_diff(path: str, seen: Snapshot, content: str | None) -> str:
    """The diff of one path from its base snapshot to its overlay content (None: deleted).

    Binary content on either side (an undecodable base, or a NUL byte written)
    becomes a binary patch, since a text hunk could not reproduce it.
    """
    written_binary = content is not None and "\0" in content[:SNIFF_BYTES]
    if (seen.exists and seen.text is None) or written_binary:
        new = None if content is None else content.encode("utf-8")
        return binary_diff(path, seen.data, new, seen.mode)
    return text_diff(path, seen.text, content, seen.mode)


def rename_diff(old_path: str, new_path: str, seen: Snapshot, content: str, score: int) -> str:
    """A git rename: `old_path` (as `seen`) moved to `new_path` holding `content`.

    Written as git writes it (`similarity index`, `rename from`/`rename to`, then
    any hunks against the old content), so `git apply` moves the file. A flush
    writes the new file with default permissions, so an executable old file
    shows the mode change the flush makes.
    """
    old_text = seen.text or ""
    old_bytes, new_bytes = old_text.encode("utf-8"), content.encode("utf-8")
    out = [f"diff --git {quote_path('a/' + old_path)} {quote_path('b/' + new_path)}\n"]
    old_mode, new_mode = file_mode(seen.mode), file_mode(None)
    if old_mode != new_mode:
        out.append(f"old mode {old_mode}\nnew mode {new_mode}\n")
    out.append(f"similarity index {score}%\n")
    out.append(f"rename from {quote_path(old_path)}\nrename to {quote_path(new_path)}\n")
    if old_text == content:
        return "".join(out)
    mode = f" {new_mode}" if old_mode == new_mode else ""
    out.append(f"index {blob_id(old_bytes)[:7]}..{blob_id(new_bytes)[:7]}{mode}\n")
    tab_old = "\t" if " " in old_path else ""
    tab_new = "\t" if " " in new_path else ""
    out.append(
        f"--- {quote_path('a/' + old_path)}{tab_old}\n+++ {quote_path('b/' + new_path)}{tab_new}\n"
    )
    out.append(hunks(old_text, content))
    return "".join(out)
