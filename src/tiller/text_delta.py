"""Text deltas: how a journal records a file's new content as a change to its last one.

A delta is a list of operations applied to the old text from its start: an
`int n >= 0` copies the next `n` characters, an `int -n` skips `n`, a `str`
inserts itself. The copied and skipped counts must use up the old text exactly,
and the result is checked against a digest, so a delta applied to the wrong
base is refused rather than producing a wrong file.

One edit of a big file costs a few dozen bytes: the common head and tail are
found by comparing slices (C-speed), and only a large changed middle is
compared line by line, anchored on lines unique to both sides.
"""

from __future__ import annotations

import hashlib

Delta = list[int | str]

_REFINE_CHARS = 4096  # below this, the changed middle is stored as is


def digest(text: str) -> str:
    """A short content hash (sha256, 16 hex digits; lone surrogates allowed)."""
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:16]


def _common_prefix(a: str, b: str, limit: int) -> int:
    low, high = 0, limit
    while low < high:  # the largest k with a[:k] == b[:k], comparing only the unknown part
        mid = (low + high + 1) // 2
        if a[low:mid] == b[low:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if a[len(a) - mid : len(a) - low] == b[len(b) - mid : len(b) - low]:
            low = mid
        else:
            high = mid - 1
    return low


def make_delta(old: str, new: str) -> Delta:
    """The operations that turn `old` into `new`."""
    head = _common_prefix(old, new, min(len(old), len(new)))
    tail = _common_suffix(old, new, min(len(old), len(new)) - head)
    old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
    if min(len(old_mid), len(new_mid)) > _REFINE_CHARS:
        middle = _line_ops(old_mid, new_mid)
    else:
        middle = [-len(old_mid), new_mid]
    return _compact([head, *middle, tail])


def _line_ops(old: str, new: str) -> Delta:
    """Operations for a large changed middle, anchored on lines unique to both sides.

    Patience-style: lines that occur once in `old` and once in `new` are
    matched, the longest run of matches in order is kept (O(n log n)), and the
    gaps between them are trimmed at the character level. Bounded time,
    whatever the text; repetitive text just gives a larger delta.
    """
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    anchors = _anchors(old_lines, new_lines)
    ops: Delta = []
    i = j = 0
    for a, b in [*anchors, (len(old_lines), len(new_lines))]:
        gap_old, gap_new = "".join(old_lines[i:a]), "".join(new_lines[j:b])
        ops += _trimmed(gap_old, gap_new)
        if a < len(old_lines):
            ops.append(len(old_lines[a]))
        i, j = a + 1, b + 1
    return ops


def _anchors(old_lines: list[str], new_lines: list[str]) -> list[tuple[int, int]]:
    """Pairs (old index, new index) of lines unique to both, increasing on both sides."""
    once_old = _unique_positions(old_lines)
    once_new = _unique_positions(new_lines)
    pairs = sorted((once_old[line], j) for line, j in once_new.items() if line in once_old)
    # Longest increasing subsequence of new indexes (pairs are sorted by old index).
    tails: list[int] = []  # tails[k]: index into pairs ending the best run of length k+1
    previous: list[int] = [-1] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        k = _search(pairs, tails, j)
        if k > 0:
            previous[index] = tails[k - 1]
        if k == len(tails):
            tails.append(index)
        else:
            tails[k] = index
    run: list[tuple[int, int]] = []
    index = tails[-1] if tails else -1
    while index >= 0:
        run.append(pairs[index])
        index = previous[index]
    return run[::-1]


def _search(pairs: list[tuple[int, int]], tails: list[int], j: int) -> int:
    low, high = 0, len(tails)
    while low < high:
        mid = (low + high) // 2
        if pairs[tails[mid]][1] < j:
            low = mid + 1
        else:
            high = mid
    return low


def _unique_positions(lines: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    repeated: set[str] = set()
    for index, line in enumerate(lines):
        if line in seen:
            repeated.add(line)
        seen[line] = index
    return {line: index for line, index in seen.items() if line not in repeated}


def _trimmed(old: str, new: str) -> Delta:
    head = _common_prefix(old, new, min(len(old), len(new)))
    tail = _common_suffix(old, new, min(len(old), len(new)) - head)
    return [head, -(len(old) - head - tail), new[head : len(new) - tail], tail]


def _compact(ops: Delta) -> Delta:
    """Drop empty operations and merge neighbours of the same kind."""
    out: Delta = []
    for op in ops:
        if op == 0 or op == "":
            continue
        last = out[-1] if out else None
        if isinstance(op, str) and isinstance(last, str):
            out[-1] = last + op
            continue
        if isinstance(op, int) and isinstance(last, int) and (op > 0) == (last > 0):
            out[-1] = last + op
            continue
        out.append(op)
    return out


def apply_delta(old: str, ops: Delta) -> str:
    """`old` changed by `ops`.

    Raises:
        ValueError: the operations do not fit `old` (another base, or damaged).
    """
    parts: list[str] = []
    position = 0
    for op in ops:
        if isinstance(op, str):
            parts.append(op)
        elif isinstance(op, int) and not isinstance(op, bool):
            count = abs(op)
            if position + count > len(old):
                raise ValueError("delta runs past the end of its base")
            if op > 0:
                parts.append(old[position : position + count])
            position += count
        else:
            raise ValueError(f"not a delta operation: {op!r}")
    if position != len(old):
        raise ValueError("delta does not use up its base")
    return "".join(parts)
