"""The progress line `tiller run` keeps on a terminal's stderr."""

from __future__ import annotations

import io

from tiller.cli_progress import progress_line
from tiller.events import Event, EventKind


def event(kind: EventKind, **data: object) -> Event:
    return Event(kind, "s1", dict(data), 0.0)


def test_progress_names_the_round_and_the_tool() -> None:
    """A tool starting in the second round shows as `round 2 · grep`."""
    stream = io.StringIO()
    show = progress_line(stream)
    show(event(EventKind.USAGE))
    show(event(EventKind.TOOL_CALL_START, name="grep"))
    assert stream.getvalue().rsplit("\r\x1b[2K", 1)[-1].startswith("tiller: round 2 · grep · ")


def test_progress_is_cleared_when_the_run_ends() -> None:
    """The line is erased at the end, so the answer starts on a clean line."""
    stream = io.StringIO()
    show = progress_line(stream)
    show(event(EventKind.TOOL_CALL_START, name="grep"))
    show(event(EventKind.PROCESSING_END))
    assert stream.getvalue().endswith("\r\x1b[2K")
