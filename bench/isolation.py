"""Every bench runs on its own data and config directories, removed afterwards.

Journals, prompt history, trust records and exports a bench causes (in this
process or in the `tiller` processes it starts, which inherit the environment)
land in a temporary directory, never in the user's; the user's config file
cannot change what a bench measures.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

VARIABLES = ("TILLER_DATA_DIR", "TILLER_CONFIG_DIR")


@contextlib.contextmanager
def isolated_dirs(name: str) -> Iterator[Path]:
    """Point `TILLER_DATA_DIR` and `TILLER_CONFIG_DIR` at a fresh temporary directory.

    Yields the directory; on leaving, the variables are restored and it is removed.
    """
    saved = {variable: os.environ.get(variable) for variable in VARIABLES}
    base = Path(tempfile.mkdtemp(prefix=f"tiller-bench-{name}-"))
    os.environ["TILLER_DATA_DIR"] = str(base / "data")
    os.environ["TILLER_CONFIG_DIR"] = str(base / "config")
    try:
        yield base
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        shutil.rmtree(base, ignore_errors=True)
