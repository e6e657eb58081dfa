"""httpx without its command-line module: importing httpx imports `httpx._main`.

`httpx/__init__.py` imports its CLI (`httpx._main`: click, rich, pygments) just
to offer `httpx.main`, ~70 ms of a headless run that never uses it. A stand-in
module takes its place until `httpx.main` is called, which then loads the real
one. Nothing changes when httpx was imported already.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["httpx"]

_CLI = "httpx._main"


def _main(*args: Any, **kwargs: Any) -> Any:
    """httpx's own `main`, imported now that someone runs it."""
    if getattr(sys.modules.get(_CLI), "main", None) is _main:
        del sys.modules[_CLI]
    import importlib

    return importlib.import_module(_CLI).main(*args, **kwargs)


if "httpx" not in sys.modules and _CLI not in sys.modules:
    stand_in = types.ModuleType(_CLI, "Stand-in for httpx's CLI until it is used.")
    stand_in.main = _main  # type: ignore[attr-defined]
    sys.modules[_CLI] = stand_in

import httpx  # noqa: E402  (after the stand-in is in place)
