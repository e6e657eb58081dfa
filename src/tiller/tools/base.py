"""The tool seam: a `Tool` protocol, a function-backed implementation, a context."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

FILE_PATH: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "Path of the file, relative to the workspace root.",
}
"""The JSON Schema of a `file_path` argument, shared by the file tools."""


def _ignore(_: str) -> None:
    return None


@dataclass(slots=True)
class ToolContext:
    """What a running tool may use besides its arguments.

    Attributes:
        call_id: the model's id for this call.
        cancel: set when the run is cancelled; long tools should poll it.
        on_output: stream partial output to the host (TOOL_CALL_OUTPUT_DELTA).
    """

    call_id: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    on_output: Callable[[str], None] = _ignore


class Tool(Protocol):
    """A tool the model can call.

    `parameters` is a JSON Schema for the arguments; `run` receives arguments
    already validated against it and returns text. Failures are raised as
    `ToolError` or `WorkspaceError` and reach the model as error results.
    `parallel_safe` tools only read, so a round of them may run concurrently.
    """

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, Any]: ...

    @property
    def parallel_safe(self) -> bool: ...

    def run(self, args: dict[str, Any], ctx: ToolContext) -> str: ...


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A `Tool` backed by a plain function."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Callable[[dict[str, Any], ToolContext], str]
    parallel_safe: bool = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> str:
        return self.handler(args, ctx)


def schema_for(tool: Tool) -> dict[str, Any]:
    """The OpenAI function-tool schema litellm expects for `tool`."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }
