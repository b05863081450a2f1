"""docs/plugins.md runs: its files are written, its commands and doctests run, in order
(tests/literate.py's rules, stated at the top of the tutorial). ``console norun``
(publishing to PyPI) is not run. The tutorial's `pip install -e .` goes into an overlay
environment (tests/overlay.py), not into the test environment, where every other test's
`initkit` at the same moment would see the package (or, half installed, warn about it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from literate import assert_output_shows, blocks, run_document  # noqa: E402
from overlay import Overlay  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


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
    overlay = Overlay(tmp_path / "env")
    assert run_document(DOC, folder, overlay.bin) >= 8


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
