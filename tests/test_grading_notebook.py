"""Structure checks of submitted notebooks, before any code runs."""

import copy
import json
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from initkit.grading.notebook import NotebookError, check_cells, load_notebook

HERE = Path(__file__).parent / "grading"
REFERENCE = HERE / "graders" / "variance" / "variance.ipynb"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_broken_json_names_the_file_line_and_column(tmp_path):
    """A truncated notebook fails with the file name and the JSON error's line and column."""
    path = _write(tmp_path, "alice.ipynb", '{\n "cells": [\n  {"cell_type": "code",\n')
    with pytest.raises(NotebookError, match=r"alice\.ipynb: not valid JSON: .* at line 4, "
                                            r"column 1"):
        load_notebook(path)


@pytest.mark.parametrize("content, message", [
    (json.dumps([1, 2]), "not a Jupyter notebook"),
    (json.dumps({"nbformat": 3, "worksheets": []}), "nbformat 3 is too old"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                 "cells": [{"cell_type": "code", "source": 1}]}), "not a valid nbformat 4"),
])
def test_not_a_usable_notebook_is_refused_with_the_reason(tmp_path, content, message):
    """JSON that is not a notebook, an old nbformat and schema errors each say so."""
    with pytest.raises(NotebookError, match=message):
        load_notebook(_write(tmp_path, "nb.ipynb", content))


def test_oversized_notebook_is_refused_before_parsing(tmp_path):
    """A file over the size limit is refused by its size, with advice to clear outputs."""
    path = _write(tmp_path, "big.ipynb", "x" * 2_000_000)
    with pytest.raises(NotebookError, match="more than the 1 MB limit; clear its outputs"):
        load_notebook(path, max_bytes=1_000_000)


def _ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_edited_and_deleted_locked_cells_are_restored_and_reported(tmp_path):
    """Locked cells equal the reference again (nbgrader's checksum) and each fix is noted."""
    nb = nbformat.read(REFERENCE, as_version=4)
    edited = copy.deepcopy(nb)
    edited.cells[_ids(nb).index("test_he")].source = "pass"
    del edited.cells[_ids(nb).index("test_xavier")]
    del edited.cells[_ids(edited).index("simulate")]
    path = tmp_path / "bob.ipynb"
    nbformat.write(edited, path)
    checked = check_cells(load_notebook(path), load_notebook(REFERENCE))
    ref_locked = {c.metadata.nbgrader.grade_id: compute_checksum(c) for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("locked")
                  or c.metadata.get("nbgrader", {}).get("grade")}
    got = {c.metadata.nbgrader.grade_id: compute_checksum(c) for c in checked.nb.cells
           if c.metadata.get("nbgrader", {}).get("grade_id") in ref_locked}
    assert got == ref_locked
    assert _ids(checked.nb).index("test_xavier") == _ids(checked.nb).index("xavier") + 1
    assert "locked cell 'test_he' was edited: restored from the exercise" in checked.notes
    assert any("locked cell 'test_xavier' was missing" in n for n in checked.notes)
    assert checked.missing == ["simulate"]


def test_untouched_submission_has_no_notes():
    """The released notebook itself passes the checks with nothing to report."""
    checked = check_cells(load_notebook(REFERENCE), load_notebook(REFERENCE))
    assert checked.notes == [] and checked.missing == []
    assert checked.exercise == "variance"
