"""Command line entry point (placeholder until the CLI issue)."""

from __future__ import annotations

import sys


def main() -> None:
    from tiller import __version__

    if "--version" in sys.argv[1:]:
        print(f"tiller {__version__}")
        return
    print("tiller: front end not built yet")
