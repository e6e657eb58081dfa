"""Tool output the model can always receive: file names that are not UTF-8 shown as escapes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tiller.errors import TillerError
from tiller.tools.base import ToolContext
from tiller.workspace.paths import printable

Handler = Callable[[dict[str, Any], ToolContext], str]


def printable_handler(handler: Handler) -> Handler:
    """Wrap a tool handler so its text and error messages hold no lone surrogates.

    A name like `caf\\xe9.txt` (byte 0xE9) is shown with that escape; the
    workspace accepts the escaped form back as a path.
    """

    @functools.wraps(handler)
    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        try:
            return printable(handler(args, ctx))
        except TillerError as exc:
            message = str(exc)
            shown = printable(message)
            if shown != message:
                exc.args = (shown,)
            raise

    return run
