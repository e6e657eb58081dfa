"""The benchmarks keep out of the user's data and config directories."""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "isolation.py")


def isolation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_isolation", BENCH / "isolation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main_block_is_isolated(script: Path) -> bool:
    """Whether the script's `if __name__ == "__main__":` body is one `with isolated_dirs(...)`."""
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            body = node.body
            return (
                len(body) == 1
                and isinstance(body[0], ast.With)
                and ast.unparse(body[0].items[0].context_expr).startswith("isolated_dirs(")
            )
    return False


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_bench_runs_inside_isolated_dirs(script: Path) -> None:
    """Each bench's entry point runs under `isolated_dirs`."""
    assert main_block_is_isolated(script) is True


def test_isolated_dirs_points_both_variables_at_a_temporary_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside, data and config go to a fresh directory; outside, the old values are back."""
    monkeypatch.setenv("TILLER_DATA_DIR", "/users/own/data")
    monkeypatch.delenv("TILLER_CONFIG_DIR", raising=False)
    with isolation().isolated_dirs("probe") as base:
        inside = (os.environ["TILLER_DATA_DIR"], os.environ["TILLER_CONFIG_DIR"], base.is_dir())
    after = (os.environ.get("TILLER_DATA_DIR"), os.environ.get("TILLER_CONFIG_DIR"), base.exists())
    assert (inside, after) == (
        (str(base / "data"), str(base / "config"), True),
        ("/users/own/data", None, False),
    )
