"""Streaming a range of lines: the same lines as splitting the whole file, in bounded memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiller.workspace.ranges import (
    MAX_KEPT_LINE_BYTES,
    LineRange,
    ScanLimitReached,
    stream_line_range,
)


def split(data: bytes, offset: int, limit: int | None) -> tuple[list[str], int, bool]:
    """The reference: the lines of the whole file, sliced."""
    lines = data.decode().split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    end = len(lines) if limit is None else offset - 1 + limit
    return lines[offset - 1 : end], len(lines), end < len(lines)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.lists(st.sampled_from(["a", "bc", "\n", "\r\n", "\r", "é"]), max_size=30).map("".join),
    offset=st.integers(1, 12),
    limit=st.one_of(st.none(), st.integers(1, 5)),
    chunk_size=st.integers(1, 9),
)
def test_stream_matches_splitting_the_whole_file(
    tmp_path: Path, text: str, offset: int, limit: int | None, chunk_size: int
) -> None:
    """Any chunking gives the lines, the total (when known) and `more` of a plain split."""
    data = text.encode()
    file = tmp_path / "f.txt"
    file.write_bytes(data)
    got = stream_line_range(str(file), offset, limit, chunk_size=chunk_size)
    lines, total, more = split(data, offset, limit)
    assert (got.lines, got.more, got.total in (None, total), got.more or got.total == total) == (
        lines,
        more,
        True,
        True,
    )


def test_a_long_line_is_cut_and_counted(tmp_path: Path) -> None:
    """A line over MAX_KEPT_LINE_BYTES keeps its start; the rest is counted in `dropped`."""
    file = tmp_path / "f.txt"
    file.write_bytes(b"short\n" + b"x" * (MAX_KEPT_LINE_BYTES + 10) + b"\nend\n")
    assert stream_line_range(str(file), 2, 1, chunk_size=64) == LineRange(
        ["x" * MAX_KEPT_LINE_BYTES], None, True, {2: 10}
    )


def test_a_line_running_past_the_scan_limit_is_endless(tmp_path: Path) -> None:
    """A range that starts in time returns what it read; its unfinished last line is endless."""
    file = tmp_path / "f.txt"
    file.write_bytes(b"one\ntwo" + b"o" * 100)
    assert stream_line_range(str(file), 1, 5, scan_limit=32, chunk_size=16) == LineRange(
        ["one", "two" + "o" * 25], None, True, {2: 0}, endless=True
    )


def test_a_range_starting_past_the_scan_limit_is_refused(tmp_path: Path) -> None:
    """A line that starts after `scan_limit` bytes raises instead of reading on."""
    file = tmp_path / "f.txt"
    file.write_bytes(b"x\n" * 100)
    with pytest.raises(ScanLimitReached):
        stream_line_range(str(file), 90, 1, scan_limit=32, chunk_size=16)
