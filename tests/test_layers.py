"""Imports go one way (pyproject.toml `[tool.importlinter]`, docs/architecture.md): the
contracts hold on the code, every module of bot/ and handlers/ is in a layer, and an import
against the direction breaks them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("bot", "handlers")


def _layers() -> list[list[str]]:
    """The layers contract's layers, top first, each as its module names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [[m.strip("() ") for m in re.split(r"[:|]", layer)] for layer in layers]


def _modules(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's command line on the project at `root` (its own process: the graph is
    built from the files under `root`, not from the modules this test process imported)."""
    if not LINT.exists():
        pytest.fail(f"{LINT} is missing: pip install -e '.[dev]' installs import-linter")
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout), result.stdout


def test_every_module_is_in_a_layer() -> None:
    """A new module must be placed (pyproject.toml), or the layers contract ignores it."""
    layered = [m for layer in _layers() for m in layer]
    unplaced = [
        module
        for module in _modules(ROOT)
        if module not in PACKAGES
        and not any(module == m or module.startswith(m + ".") for m in layered)
    ]
    assert unplaced == [], f"not in any layer of [tool.importlinter]: {unplaced}"


def test_the_domain_is_the_bottom_layer_and_the_entry_points_the_top() -> None:
    layers = _layers()
    assert {"bot.models", "bot.pipeline"} <= set(layers[-1])
    assert {"bot.cli", "bot.runner", "bot.chat"} <= set(layers[0])
    assert layers[1] == ["bot.app"]  # the one composition root


def test_an_import_against_the_direction_breaks_the_contract(tmp_path: Path) -> None:
    """A copy of the project where the domain imports the store, the store the settings
    and a handler a chat front-end: each is reported, and the check fails."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    wrong = {
        "bot/models.py": "from bot.store import archive",
        "bot/store/runs.py": "from bot import settings",
        "handlers/reply.py": "from bot.chat import slack_app",
    }
    for path, line in wrong.items():
        with (tmp_path / path).open("a", encoding="utf-8") as f:
            f.write(f"\n{line}  # against the direction\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    for importer, imported in [
        ("bot.models", "bot.store"),
        ("bot.store", "bot.settings"),
        ("handlers", "bot.chat"),
    ]:
        assert f"{importer} is not allowed to import {imported}" in result.stdout, result.stdout
