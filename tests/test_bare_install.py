"""The bare package (no extras) in a fresh venv runs `initkit list`, `simulate`, `check-plugin`.

The venv is real (``python -m venv``, no system site-packages) and holds exactly initkit
and its core's dependency closure. initkit is a wheel built from this checkout and
pip-installed with ``--no-deps --no-index``; its core requirements (pyproject.toml's
``[project] dependencies``, no extra) and theirs, recursively, are the distributions already
installed in this interpreter's environment, linked into the new site-packages (no download
and no copy: seconds, where installing nbgrader's tree from PyPI takes minutes). ``pip
check`` then shows every requirement of every installed distribution is met, so a core
dependency missing from pyproject.toml fails here, and so does a command that imports an
extra (scikit-learn, mlxtend, dask) without saying which one to install.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
EXTRAS_ONLY = ("sklearn", "mlxtend", "dask", "distributed", "torch")


def wheel_requirements(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's METADATA (pyproject.toml's, extras marked)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    return metadata.get_all("Requires-Dist") or []


def core_closure(requirements: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """Installed distributions the core needs: the requirements without an extra, then theirs."""
    todo = [(Requirement(text), "") for text in requirements]
    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            dist = found.setdefault(name, importlib.metadata.distribution(name))
            todo += [(Requirement(text), wanted) for text in dist.requires or ()]
    return found


def link_distribution(dist: importlib.metadata.Distribution, site: Path) -> None:
    """Symlink the top-level files and folders a distribution installed into ``site``."""
    for top in {Path(str(f)).parts[0] for f in dist.files or ()}:
        if top in ("..", "__pycache__") or (site / top).exists():
            continue
        source = Path(dist.locate_file(top))
        if source.exists():
            (site / top).symlink_to(source)


def bare_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INITKIT_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
            "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Path:
    """A fresh venv with the bare package; yields its bin/ folder."""
    work = tmp_path_factory.mktemp("bare")
    source = work / "src"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(ROOT / "initkit", source / "initkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(work / "wheels"), str(source)],
                   check=True, capture_output=True, env=bare_env(), timeout=300)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True, env=bare_env(), timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, env=bare_env()).stdout.strip())
    wheel, = (work / "wheels").glob("initkit-*.whl")
    for dist in core_closure(wheel_requirements(wheel)).values():
        link_distribution(dist, site)
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, capture_output=True, env=bare_env(), timeout=300)
    return venv / "bin"


def run(bare: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(bare / args[0]), *args[1:]], capture_output=True, text=True,
                          env=bare_env(), cwd=bare.parent, timeout=300)  # not in the checkout


def test_bare_venv_has_the_core_and_no_extra(bare):
    """The bare venv is initkit (a wheel, not this checkout) and its core: `pip check` finds every requirement met, and no extra's package is importable."""
    check = subprocess.run([sys.executable, "-m", "pip", "--python", str(bare / "python"),
                            "check"], capture_output=True, text=True, env=bare_env())
    assert check.returncode == 0, check.stdout + check.stderr
    code = ("import importlib.util, initkit\nprint(initkit.__file__)\n"
            f"print([m for m in {EXTRAS_ONLY!r} if importlib.util.find_spec(m)])")
    where, extras = run(bare, "python", "-c", code).stdout.splitlines()
    assert not where.startswith(str(ROOT)) and extras == "[]"


def test_bare_list_simulate_and_check_plugin_run(bare):
    """Without extras `initkit list`, `initkit simulate` and `initkit check-plugin FILE` exit 0 with their usual output."""
    listed = run(bare, "initkit", "list")
    assert listed.returncode == 0, listed.stderr
    assert "he_normal" in listed.stdout and "initkit.builtin_initializers" in listed.stdout
    simulated = run(bare, "initkit", "simulate", "--depth", "3", "--width", "16", "--batch",
                    "8", "--backward")
    assert simulated.returncode == 0, simulated.stderr
    assert "theory q" in simulated.stdout.splitlines()[1]
    checked = run(bare, "initkit", "check-plugin", str(ROOT / "tests/plugins/file_plugin.py"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr


def test_bare_command_needing_an_extra_says_which(bare):
    """`initkit train --dataset digits` without scikit-learn exits 1 with one line naming the extra to install."""
    result = run(bare, "initkit", "train", "--dataset", "digits", "--epochs", "1")
    assert result.returncode == 1
    assert result.stderr == ("error: initkit train --dataset digits needs scikit-learn: "
                             "pip install 'initkit[data]'\n")
