"""Workspace path normalisation and containment checks.

Workspace paths are POSIX strings relative to the root, without `.` or `..`
segments; the root itself is `""`.
"""

from __future__ import annotations

import os
import posixpath
import re

from tiller.errors import PathEscapeError, WorkspaceError


def normalize(path: str, root: str | None, root_real: str | None = None) -> str:
    """Turn a user-supplied path into a workspace path.

    Args:
        path: relative (to the root) or absolute; `\\` is not a separator.
        root: the absolute root directory, or None for a purely in-memory workspace.
        root_real: the root with symlinks resolved, also accepted as a prefix.

    Returns:
        The normalised relative path; `""` means the root.

    Raises:
        PathEscapeError: the path leaves the root, or is absolute without a root.
        WorkspaceError: the path is not a string or contains a NUL byte.
    """
    if not isinstance(path, str):
        raise WorkspaceError(f"Path must be a string, got {type(path).__name__}")
    if "\0" in path:
        raise WorkspaceError(f"Path contains a NUL byte: {path!r}")
    check_encodable(path)
    if path.startswith("/"):
        if root is None:
            raise PathEscapeError(
                f"Absolute path {path!r} refused: this workspace has no root directory; "
                "use a path relative to the workspace"
            )
        absolute = posixpath.normpath(path)
        for prefix in (root, root_real):
            if prefix is None:
                continue
            if absolute == prefix:
                return ""
            if absolute.startswith(prefix.rstrip("/") + "/"):
                return absolute[len(prefix.rstrip("/")) + 1 :]
        raise PathEscapeError(f"Path {path!r} is outside the workspace root {root}")
    if path in ("", "."):
        return ""
    relative = posixpath.normpath(path)
    if relative == ".":
        return ""
    if relative == ".." or relative.startswith("../"):
        raise PathEscapeError(f"Path {path!r} escapes the workspace root")
    return relative


def parent(path: str) -> str:
    """The parent workspace path (`""` for top-level entries)."""
    return path.rpartition("/")[0]


def join(directory: str, name: str) -> str:
    """Join a workspace directory and a relative child path (either may be empty)."""
    if not directory:
        return name
    return f"{directory}/{name}" if name else directory


def is_under(path: str, directory: str) -> bool:
    """Whether `path` is `directory` itself or lies below it."""
    return not directory or path == directory or path.startswith(directory + "/")


def ensure_inside(root_real: str, path: str) -> str:
    """Resolve symlinks in `root/path` and check the result stays inside the root.

    Args:
        root_real: the root with symlinks resolved.
        path: a normalised workspace path.

    Returns:
        The resolved absolute path on disk (it need not exist).

    Raises:
        PathEscapeError: a symlink along the path points outside the root.
    """
    resolved = os.path.realpath(os.path.join(root_real, path))
    if resolved != root_real and not resolved.startswith(root_real.rstrip("/") + "/"):
        raise PathEscapeError(
            f"Path {path!r} resolves through a symlink to {resolved}, outside the workspace root"
        )
    return resolved


def printable(text: str) -> str:
    """`text` with what UTF-8 cannot carry shown as escapes, for the model and for JSON.

    File names that are not UTF-8 reach Python with surrogate escapes
    (`caf\\udce9.txt`); they are shown as `caf\\xe9.txt`, which `unescape_path`
    maps back. Other lone surrogates become `\\udXXX`.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


_BYTE_ESCAPE = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


def unescape_path(path: str) -> str:
    """Map `\\xNN` escapes (bytes 0x80-0xFF, as `printable` shows them) back to the raw name."""
    return _BYTE_ESCAPE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), path)


def check_encodable(path: str) -> None:
    """Refuse a path no file name can hold (a lone surrogate that is not an escaped byte).

    Raises:
        WorkspaceError: the path cannot be encoded for the file system.
    """
    if path.isascii():
        return
    try:
        os.fsencode(path)
    except UnicodeEncodeError as exc:
        bad = path[exc.start : exc.end]
        raise WorkspaceError(
            f"Path '{printable(path)}' contains '{printable(bad)}', a lone surrogate that no "
            "file name can hold; use the path exactly as list_dir or glob show it"
        ) from exc
