"""The shell tool's machinery: a sandbox copy of the workspace, a command runner, env filtering."""

from __future__ import annotations

from tiller.shell.runner import ShellRunner, ShellSettings
from tiller.shell.sandbox import Sandbox

__all__ = ["Sandbox", "ShellRunner", "ShellSettings"]
