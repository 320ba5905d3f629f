"""Shared fixtures: a synthetic population tokenised and linked by the command-line tool, so that
the Python package can be checked against it output for output.

The command-line binary is ``$PSEUDOLINK_BIN`` (``.ci/run`` sets it), else the release or debug
build under ``target/``, else one is built with cargo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _binary() -> str:
    env = os.environ.get("PSEUDOLINK_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "pseudolink"
        if p.exists():
            return str(p)
    subprocess.run(["cargo", "build", "--quiet", "--bin", "pseudolink"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "debug" / "pseudolink")


@pytest.fixture(scope="session")
def cli():
    """Runs the command-line tool; returns the completed process."""
    binary = _binary()

    def run(*args, check=True):
        return subprocess.run([binary, "--quiet", *map(str, args)], capture_output=True, text=True, check=check)

    return run


class Population:
    """A synthetic population, its project key, its extracts tokenised by the CLI and linked."""

    def __init__(self, root: Path, cli, persons: int, seed: int):
        self.root = root
        self.synth = root / "synth"
        cli("synth", "--persons", persons, "--seed", seed, "--out", self.synth)
        self.key = root / "project.key"
        cli("keygen", "--out", self.key)
        self.sources = sorted(p.stem for p in self.synth.glob("*.csv") if p.stem != "truth")
        self.extracts = []
        for s in self.sources:
            out = root / "tokens" / f"{s}.parquet"
            out.parent.mkdir(exist_ok=True)
            cli("tokenise", "--config", self.synth / f"{s}.toml", "--key-file", self.key,
                "--input", self.synth / f"{s}.csv", "--output", out)
            self.extracts.append(out)
        self.linked = root / "linked"
        cli("link", *self.extracts, "--out", self.linked)


@pytest.fixture(scope="session")
def population(tmp_path_factory, cli) -> Population:
    """2,000 synthetic persons across every provider."""
    return Population(tmp_path_factory.mktemp("population"), cli, 2000, 11)


@pytest.fixture
def fresh(tmp_path) -> Path:
    """An empty folder; removed afterwards."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
