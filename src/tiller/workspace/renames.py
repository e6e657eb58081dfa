"""Rename detection: a deleted file and an added file with similar content are one move.

Git's approach (`git diff -M`): identical content pairs first, then the most
similar pairs above a threshold, each file in at most one pair. Similarity is
git's measure too (diffcore-delta): the content of the new file found in the old
one, counted as a multiset of lines regardless of order (git hashes chunks of up
to 64 bytes; lines are our chunks), over the larger of the two sizes, as a whole
percentage, and 100% only for identical content. Linear in the file sizes, so
scoring every deleted x added pair stays cheap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from tiller.workspace.content import split_lines

RENAME_THRESHOLD = 50
"""The least similarity (percent) that makes a delete plus an add a rename; git's default."""

MAX_SIMILARITY_BYTES = 1024 * 1024
"""Files larger than this pair only when identical (comparing them line by line is too slow)."""

MAX_CANDIDATE_PAIRS = 10_000
"""With more deleted x added pairs than this, only identical content pairs (like git's
`diff.renameLimit`, which bounds the same quadratic search)."""

MAX_SCORED_BYTES = 256 * 1024 * 1024
"""With more text than this to compare over the candidate pairs (each pair counting both
files), only identical content pairs: front ends ask on every refresh, on the UI
thread, and 100 moved 100 KB files would otherwise cost seconds each time (this
budget is a few tenths of a second)."""


@dataclass(frozen=True)
class Rename:
    """A file moved from `old` to `new`, keeping `similarity` percent of its content."""

    old: str
    new: str
    similarity: int


def similarity(old: str, new: str) -> int:
    """How much of `new` is `old`'s content, in whole percent (100 only when equal)."""
    if old == new:
        return 100
    return _score(Counter(split_lines(old)), len(old), Counter(split_lines(new)), len(new))


def _score(old: Counter[str], old_size: int, new: Counter[str], new_size: int) -> int:
    """The similarity of two unequal texts given as line multisets and sizes."""
    largest = max(old_size, new_size)
    if not largest:
        return 100
    if len(new) < len(old):
        old, new = new, old
    copied = sum(len(line) * min(count, new[line]) for line, count in old.items() if line in new)
    return min(99, copied * 100 // largest)


def find_renames(deleted: Mapping[str, str], added: Mapping[str, str]) -> list[Rename]:
    """Pair deleted files with added ones (`path -> text` each), best matches first.

    Returns the renames sorted by new path; unpaired files stay a delete and an add.
    """
    # Empty files are alike but say nothing about a move (git skips them too).
    deleted = {path: text for path, text in deleted.items() if text}
    added = {path: text for path, text in added.items() if text}
    if not deleted or not added:
        return []
    renames: list[Rename] = []
    by_content: dict[str, list[str]] = {}
    for path in sorted(deleted):
        by_content.setdefault(deleted[path], []).append(path)
    left_added: list[str] = []
    for path in sorted(added):
        olds = by_content.get(added[path])
        if olds:
            renames.append(Rename(olds.pop(0), path, 100))
        else:
            left_added.append(path)
    left_deleted = [path for paths in by_content.values() for path in paths]
    if len(left_deleted) * len(left_added) <= MAX_CANDIDATE_PAIRS:
        renames += _similar_pairs(
            {path: deleted[path] for path in left_deleted},
            {path: added[path] for path in left_added},
        )
    return sorted(renames, key=lambda rename: rename.new)


def _worth_scoring(old_size: int, new_size: int) -> bool:
    """Whether a pair of these sizes could reach the threshold (and is small enough to score)."""
    small, large = sorted((old_size, new_size))
    # The copied content cannot exceed the smaller file: skip hopeless pairs unread.
    return large <= MAX_SIMILARITY_BYTES and small * 100 >= RENAME_THRESHOLD * large


def _similar_pairs(deleted: Mapping[str, str], added: Mapping[str, str]) -> list[Rename]:
    candidates = [
        (old, new)
        for old, old_text in deleted.items()
        for new, new_text in added.items()
        if _worth_scoring(len(old_text), len(new_text))
    ]
    if sum(len(deleted[old]) + len(added[new]) for old, new in candidates) > MAX_SCORED_BYTES:
        return []
    scored: list[tuple[int, str, str]] = []
    lines: dict[str, Counter[str]] = {}

    def counted(path: str, text: str) -> Counter[str]:
        found = lines.get(path)
        if found is None:
            found = lines[path] = Counter(split_lines(text))
        return found

    for old, new in candidates:
        old_text, new_text = deleted[old], added[new]
        old_lines, new_lines = counted(old, old_text), counted("\0" + new, new_text)
        score = _score(old_lines, len(old_text), new_lines, len(new_text))
        if score >= RENAME_THRESHOLD:
            scored.append((score, old, new))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    used: set[str] = set()
    pairs = []
    for score, old, new in scored:
        if old not in used and new not in used:
            used.update((old, new))
            pairs.append(Rename(old, new, score))
    return pairs
