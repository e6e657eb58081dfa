"""A range of lines from a file, read in chunks so a huge file is never held whole."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_SCAN_BYTES = 256 * 1024 * 1024
"""How far into a file a range read looks before giving up (about a quarter second)."""

MAX_KEPT_LINE_BYTES = 2000
"""Longer lines are cut, so one huge line cannot fill memory or the model's context."""

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class LineRange:
    """Lines of a file from some 1-based line on, without their line ends.

    Attributes:
        lines: the lines read, a `\r` at the end of each removed (as grep shows them).
        total: how many lines the file has, when the read reached its end; else None.
        more: whether lines follow the last one returned.
        dropped: for lines cut at `MAX_KEPT_LINE_BYTES`, their 1-based number
            mapped to how many bytes were left out (only streamed reads cut).
        endless: the last line was cut where the read stopped looking, so its
            `dropped` count is a lower bound.
    """

    lines: list[str]
    total: int | None
    more: bool
    dropped: Mapping[int, int] = field(default_factory=dict)
    endless: bool = False


class ScanLimitReached(Exception):
    """The requested line starts further into the file than the scan limit."""


def _decode(line: bytearray, dropped: int) -> str:
    if not dropped and line.endswith(b"\r"):
        del line[-1]
    return line.decode("utf-8", "replace")


def stream_line_range(
    file: str,
    offset: int,
    limit: int | None,
    scan_limit: int = MAX_SCAN_BYTES,
    chunk_size: int = CHUNK_BYTES,
) -> LineRange:
    """Lines `offset` to `offset + limit - 1` of a file, read `chunk_size` bytes at a time.

    Memory stays bounded by the chunk size plus `limit` lines of at most
    `MAX_KEPT_LINE_BYTES` each, whatever the file's size.

    When `scan_limit` bytes have been read, the lines found so far are
    returned (a line still unfinished is cut and marked `endless`).

    Raises:
        OSError: the file cannot be opened or read.
        ScanLimitReached: line `offset` starts further than `scan_limit` bytes in.
    """
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        number = 1  # the line the read position is in
        lines: list[str] = []
        cut: dict[int, int] = {}
        current = bytearray()
        dropped = 0
        partial = False  # bytes of line `number` have been read
        scanned = 0
        while chunk := os.read(fd, chunk_size):
            scanned += len(chunk)
            if scanned > scan_limit:
                if number < offset or not (lines or partial):
                    raise ScanLimitReached
                # The range started in time; what was read of it is returned.
                if partial:
                    lines.append(_decode(current, dropped))
                    cut[number] = dropped
                return LineRange(lines, None, True, cut, endless=partial)
            pos = 0
            if number < offset:
                need = offset - number
                count = chunk.count(b"\n")
                if count < need:
                    number += count
                    partial = not chunk.endswith(b"\n")
                    continue
                pos = len(chunk) - len(chunk.split(b"\n", need)[-1])
                number = offset
                partial = False
            while pos < len(chunk):
                newline = chunk.find(b"\n", pos)
                end = len(chunk) if newline == -1 else newline
                room = max(0, MAX_KEPT_LINE_BYTES - len(current))
                current += chunk[pos : min(end, pos + room)]
                dropped += max(0, end - pos - room)
                partial = True
                if newline == -1:
                    break
                lines.append(_decode(current, dropped))
                if dropped:
                    cut[number] = dropped
                current, dropped, partial = bytearray(), 0, False
                number += 1
                pos = newline + 1
                if limit is not None and len(lines) >= limit:
                    more = pos < len(chunk) or os.read(fd, 1) != b""
                    return LineRange(lines, None if more else number - 1, more, cut)
        if partial and number >= offset:
            lines.append(_decode(current, dropped))
            if dropped:
                cut[number] = dropped
        total = number if partial else number - 1
        return LineRange(lines, total, False, cut)
    finally:
        os.close(fd)
