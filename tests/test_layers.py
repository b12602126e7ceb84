"""The package's layers (pyproject.toml, [tool.importlinter]): kept by the code as it is, and broken by an upward
import, so the contract that `make test` checks can fail."""

import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(REPO / "pyproject.toml"),
               "--no-cache"]
    env = {"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=package_parent, env=env, capture_output=True, text=True, timeout=120)


def test_the_layers_are_kept():
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(REPO / "bayes_scaling", tmp_path / "bayes_scaling", ignore=shutil.ignore_patterns("__pycache__"))
    law = tmp_path / "bayes_scaling" / "laws" / "chinchilla.py"
    law.write_text(law.read_text() + "\nfrom bayes_scaling.report import html  # noqa: E402\n")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert "bayes_scaling.laws is not allowed to import bayes_scaling.report" in done.stdout
    assert "bayes_scaling.laws.chinchilla -> bayes_scaling.report.html" in done.stdout
