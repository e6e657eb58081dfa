"""Defence in depth: the real tree mounted read-only for the command, where Linux allows it.

The sandbox keeps the real tree out of a command's working directory, but a
command can still name an absolute path. Where `unshare` can create a user and
mount namespace (Linux, util-linux >= 2.38, unprivileged user namespaces on),
the command runs in one with the workspace root bind-mounted read-only, so
`rm -rf /path/to/project` fails there too. Elsewhere commands run unwrapped.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

# $1 is the directory to protect, $2 the command. A failed mount must not run the
# command unprotected after the probe promised protection.
_SCRIPT = (
    'mount --bind "$1" "$1" 2>/dev/null && mount -o remount,bind,ro "$1" 2>/dev/null '
    '|| { echo "tiller: could not mount $1 read-only" >&2; exit 97; }; '
    'exec bash -c "$2"'
)
_UNSHARE = ["--user", "--map-current-user", "--mount", "--propagation", "private", "--"]


def _wrapper(root: str) -> list[str]:
    return ["unshare", *_UNSHARE, "bash", "-c", _SCRIPT, "tiller-sandbox", root]


@cache
def read_only_available() -> bool:
    """Whether this machine can run a command with a directory mounted read-only (probed once)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="tiller-probe-") as probe:
        try:
            done = subprocess.run(
                [*_wrapper(probe), f"! touch '{probe}/x' 2>/dev/null"],
                capture_output=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0 and not Path(probe, "x").exists()


def command_argv(command: str, protect: Path | None) -> list[str]:
    """The argv that runs `command` with bash, with `protect` read-only when possible."""
    if protect is not None and read_only_available():
        return [*_wrapper(str(protect)), command]
    return ["bash", "-c", command]
