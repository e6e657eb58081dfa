"""Exceptions raised by Tiller's public API.

Failures inside the agent loop become data (error tool results, stop reasons);
these are for programmer errors and unrecoverable session errors.
"""

from __future__ import annotations


class TillerError(Exception):
    """Base class for every Tiller error."""


class WorkspaceError(TillerError):
    """A workspace operation failed; the message is meant for the model and the user."""


class PathEscapeError(WorkspaceError):
    """A path points outside the workspace root."""


class BinaryFileError(WorkspaceError):
    """A binary file was read as text."""


class FileTooLargeError(WorkspaceError):
    """A base file is too large to hold in memory (`read_range` still reads lines of it).

    Attributes:
        path: the workspace path.
        size: the file's size in bytes.
    """

    def __init__(self, path: str, size: int, limit: int) -> None:
        self.path = path
        self.size = size
        super().__init__(
            f"{path} is too large to read: {size} bytes (the limit is {limit}); read_file with "
            "offset and limit reads a range of its lines, and Tiller cannot edit, rewrite or "
            "delete it"
        )


class FileNotFoundInWorkspace(WorkspaceError):
    """The path does not exist in the workspace."""


class EditError(WorkspaceError):
    """An exact-match edit could not be applied (missing or ambiguous `old`)."""


class FlushConflict(WorkspaceError):
    """Files changed on disk since the workspace read them; nothing was written.

    Attributes:
        conflicts: the workspace-relative paths that changed on disk.
    """

    def __init__(self, conflicts: list[str]) -> None:
        self.conflicts = conflicts
        listed = ", ".join(conflicts)
        super().__init__(
            f"Refusing to flush: changed on disk since read: {listed} (use force=True to overwrite)"
        )


class ToolError(TillerError):
    """Raised by a tool handler; becomes `Tool error (name): message` for the model."""


class SessionClosed(TillerError):
    """The session is closed; start a new one."""


class SessionBusy(TillerError):
    """The session is processing; use `steer()` or `follow_up()` instead of `send()`."""


class ProviderError(TillerError):
    """The model provider failed in a way retries could not fix.

    Attributes:
        partial_text: the text that had streamed before the failure (kept, not retried).
    """

    partial_text: str = ""


class AuthError(ProviderError):
    """The provider rejected the credentials; the session is closed."""


class ContextOverflowError(ProviderError):
    """The request did not fit the model's context window."""


class CompactionError(TillerError):
    """Compaction could not summarise the history; the history is unchanged."""


class FlushError(WorkspaceError):
    """An OS error stopped a flush part way through.

    Attributes:
        flushed: the workspace-relative paths written or deleted before the failure;
            they are the new base, the rest stay in the overlay.
    """

    def __init__(self, message: str, flushed: list[str]) -> None:
        self.flushed = flushed
        super().__init__(message)
