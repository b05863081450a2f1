"""docs/plugins.md runs: its files are written, its commands and doctests run, in order
(tests/literate.py's rules, stated at the top of the tutorial). ``console norun``
(publishing to PyPI) is not run; the package the tutorial installs is uninstalled at the end
whatever happens.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from literate import assert_output_shows, blocks, env, run_document  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def uninstall(package: str) -> None:
    """Remove ``package`` if the tutorial left it installed (e.g. after a failure)."""
    try:
        importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", package], env=env(),
                   capture_output=True, timeout=300)


def test_every_block_is_run_or_written():
    """Each code block of the tutorial is a file, a console session or a doctest; only PyPI is skipped."""
    found = blocks(DOC.read_text())
    kinds = {(b.lang, bool(b.title), b.options.strip() == "norun") for b in found}
    assert kinds <= {("python", True, False), ("toml", True, False), ("console", False, False),
                     ("pycon", False, False), ("console", False, True), ("text", False, False)}
    skipped = [b for b in found if b.options.strip() == "norun"]
    assert len(skipped) == 1 and "twine upload" in skipped[0].body
    assert {b.title for b in found if b.title} == {
        "src/initkit_keras_he/__init__.py", "pyproject.toml", "tests/test_conformance.py"}


def test_tutorial_runs_from_an_empty_folder(tmp_path):
    """Writing the files and running the commands of docs/plugins.md gives the output it shows."""
    folder = tmp_path / "initkit-keras-he"
    folder.mkdir()
    package = re.search(r'^name = "([^"]+)"', DOC.read_text(), re.M).group(1)
    assert package == "initkit-keras-he"
    try:
        ran = run_document(DOC, folder)
    finally:
        uninstall(package)
    assert ran >= 8


@pytest.mark.parametrize("expected,actual,ok", [
    (["a b", "...", "c"], "x\na   b\ny\nc\n", True),
    (["c", "a b"], "a b\nc\n", False),
    (["err: ... do this"], "err: anything here do this\n", True),
    (["2.0145"], "1 2.0145 2.0000\n", False),
])
def test_output_matching_rules(expected, actual, ok):
    """The matcher: ordered, whitespace-normalised, whole lines, `...` as a wildcard."""
    if ok:
        assert_output_shows(expected, actual, "here")
    else:
        with pytest.raises(AssertionError):
            assert_output_shows(expected, actual, "here")
