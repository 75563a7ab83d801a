"""Packaging metadata: what `pip install -e .` reads from pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_license_is_an_spdx_expression_the_build_backend_supports() -> None:
    """The table form (`{text = "MIT"}`) is deprecated: setuptools warns on every install.
    The SPDX string form needs setuptools >= 77 (PEP 639)."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert data["project"]["license"] == "MIT"
    requires = data["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    minimum = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert minimum is not None and int(minimum.group(1)) >= 77
    classifiers = data["project"].get("classifiers", [])
    assert not any(c.startswith("License ::") for c in classifiers)  # refused with SPDX
