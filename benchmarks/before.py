"""The code before, measured in the same run: `python -m benchmarks` runs each scenario on
this tree and, right after it on the same machine, on the code of commit BEFORE (the last
one before issue 18's speed work), so that every figure has its "before" measured under
the same load, not quoted from an older report.

The old code (bot/, handlers/: what is measured) is exported from git (`git archive`) into
a temporary folder, and this tree's harness (benchmarks/, tests/ with the fakes: what
measures) is copied beside it, so the same scenarios, data and fakes run against the old
code; the worker runs with that folder as its working directory and first on PYTHONPATH,
and reports which `bot` it imported, which the driver checks. No git, or a clone without
the commit (a shallow one), means no "before": `prepare` says why.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

# The code before issue 18's work: every "before" figure is measured on it.
BEFORE = "caf21bd"

CODE = ("bot", "handlers")  # exported from the commit: what is measured
HARNESS = ("benchmarks", "tests")  # copied from this tree: what measures
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


@dataclass(frozen=True)
class Tree:
    """A folder holding the old code and this tree's harness."""

    root: Path
    commit: str  # the full hash
    subject: str  # its first line

    @property
    def label(self) -> str:
        return f"the code before ({self.commit[:7]})"


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, check=True, timeout=120
    ).stdout


def prepare(into: Path, *, repo: Path, commit: str = BEFORE) -> Tree | str:
    """The old code of `commit` in `into` (created) with this tree's harness beside it; or,
    when it cannot be had, why (a sentence for the report)."""
    if shutil.which("git") is None:
        return "git is not installed"
    try:
        full = _git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired):
        return (
            f"commit {commit} is not in this clone ({repo}: not a git checkout, or a shallow "
            "clone; `git fetch --unshallow` brings it)"
        )
    sha = full.decode().strip()
    try:
        subject = _git(repo, "log", "-1", "--format=%s", sha).decode().strip()
        data = _git(repo, "archive", "--format=tar", sha, *CODE)
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as e:
        return f"git archive {commit} failed: {e}"
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    for name in HARNESS:
        if (repo / name).is_dir():
            shutil.copytree(repo / name, into / name, ignore=IGNORED, symlinks=True)
    return Tree(into.resolve(), sha, subject)


def ran_on(result: dict[str, object], root: Path) -> str | None:
    """Why a worker's result was not measured on the code under `root` (None: it was, or
    the worker did not say which `bot` it imported)."""
    code = result.get("code")
    if not isinstance(code, str) or Path(code).resolve() == root.resolve():
        return None
    return f"measured {code}, not {root}: the worker imported the wrong code"
