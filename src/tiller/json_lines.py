"""JSON lines that are always valid, whatever the text holds.

Python strings can hold lone surrogates (`os.fsdecode` turns the byte `\\xe9` of
a non-UTF-8 file name into `\\udce9`; a model can emit one in tool arguments).
`json.dumps(..., ensure_ascii=False)` passes them through raw and encoding the
line as UTF-8 then fails, so a journal record or a `--json` event would be lost.
Here every lone surrogate is written as its JSON escape (`\\udce9`), which
`json.loads` reads back as the same string.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


def dumps_line(data: Any, *, compact: bool = True) -> str:
    """`data` as one line of JSON that encodes to UTF-8 without error.

    Non-ASCII text stays readable; lone surrogates become `\\uXXXX` escapes, and
    values JSON cannot hold become their `str()`.
    """
    separators = (",", ":") if compact else (", ", ": ")
    line = json.dumps(data, ensure_ascii=False, default=str, separators=separators)
    # Raw surrogates can only occur inside JSON strings, where the escape is valid.
    return _SURROGATE.sub(_escape, line)
