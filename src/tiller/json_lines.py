"""JSON lines that are always valid, whatever the text holds.

Python strings can hold lone surrogates (`os.fsdecode` turns the byte `\\xe9` of
a non-UTF-8 file name into `\\udce9`; a model can emit one in tool arguments).
`json.dumps(..., ensure_ascii=False)` passes them through raw and encoding the
line as UTF-8 then fails, so a journal record or a `--json` event would be lost.
Here every lone surrogate is written as its JSON escape (`\\udce9`), which
`json.loads` reads back as the same string; so are the characters other than
`\\n` that some readers take for a line break, and the C1 controls and bidi
overrides a terminal acts on (`tiller run --json` may be read on one; `json`
already escapes the C0 controls, ESC included).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any, Protocol, TextIO

# Lone surrogates cannot be encoded; NEL and the Unicode line and paragraph
# separators are line breaks to `str.splitlines` (and to JavaScript), so a
# reader splitting the file that way would tear a record in two; C1 controls
# (CSI is 0x9b) and bidi overrides would act on a terminal showing the line.
_UNSAFE = re.compile("[\ud800-\udfff\x80-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNENCODABLE = re.compile("[\ud800-\udfff\x85\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


def printable(text: str) -> str:
    """`text` with lone surrogates shown as `\\udce9`, so any terminal or file takes it."""
    return _UNENCODABLE.sub(_escape, text)


def dumps(data: Any, *, indent: int | None = None) -> str:
    """`json.dumps` that always encodes to UTF-8 (see `dumps_line`), optionally indented."""
    text = json.dumps(data, ensure_ascii=False, default=str, indent=indent)
    return _UNSAFE.sub(_escape, text)


def dumps_line(data: Any, *, compact: bool = True, ascii_only: bool = False) -> str:
    """`data` as one line of JSON that encodes to UTF-8 without error.

    Non-ASCII text stays readable (unless `ascii_only`); lone surrogates become
    `\\uXXXX` escapes, and values JSON cannot hold become their `str()`.
    """
    separators = (",", ":") if compact else (", ", ": ")
    line = json.dumps(data, ensure_ascii=ascii_only, default=str, separators=separators)
    # Raw surrogates can only occur inside JSON strings, where the escape is valid.
    return _UNSAFE.sub(_escape, line)


class _Record(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class _Redactor(Protocol):
    def redact(self, text: str) -> str: ...

    def redact_data(self, data: Any) -> Any: ...


_HOLD_LIMIT = 1024
"""A delta's last word is held back at most this long (a secret is shorter)."""


def line_printer(stream: TextIO, redactor: _Redactor | None = None) -> Callable[[_Record], None]:
    """A subscriber that prints each event (anything with `to_dict`) as one JSON line.

    Lines from several threads (subagents) never interleave; a stream that cannot
    encode UTF-8 gets ASCII with escapes, so every line stays valid JSON.

    With a `redactor` (`tiller.redaction.Redactor`) every string is redacted as the
    journal redacts it. A secret streamed in pieces would pass piece by piece, so
    each delta stream (`*_delta` events, by kind and call) is printed up to its last
    blank; the unfinished word waits for the next delta, or for the next other event.
    """
    lock = threading.Lock()
    ascii_only = not (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf")
    held: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}

    def write(record: dict[str, Any]) -> None:
        stream.write(dumps_line(record, compact=False, ascii_only=ascii_only) + "\n")

    def delta_record(template: dict[str, Any], text: str) -> dict[str, Any]:
        assert redactor is not None
        data = redactor.redact_data({k: v for k, v in template["data"].items() if k != "delta"})
        return {**template, "data": {**data, "delta": redactor.redact(text)}}

    def print_line(record: _Record) -> None:
        event = record.to_dict()
        data = event.get("data")
        with lock:
            if redactor is None:
                write(event)
            elif (
                str(event.get("kind", "")).endswith("_delta")
                and isinstance(data, dict)
                and isinstance(data.get("delta"), str)
            ):
                key = (event.get("session_id"), event["kind"], data.get("call_id"))
                text = held.pop(key, ("", event))[0] + data["delta"]
                cut = max(text.rfind(c) for c in " \n\t\r") + 1
                if cut == 0 and len(text) >= _HOLD_LIMIT:
                    cut = len(text)
                if cut < len(text):
                    held[key] = (text[cut:], event)
                if cut:
                    write(delta_record(event, text[:cut]))
            else:
                for text, template in held.values():
                    write(delta_record(template, text))
                held.clear()
                write(redactor.redact_data(event))
            stream.flush()

    return print_line
