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


# ------------------------------------------------------------------- malformed notebooks


def _load_or_refuse(path, reference=None):
    """load_notebook (and check_cells) must either succeed or raise NotebookError."""
    try:
        nb = load_notebook(path)
    except NotebookError as exc:
        return str(exc)
    if reference is not None:
        check_cells(nb, reference)
    return None


def _paths(node, prefix=()):
    """Every key path of a JSON tree (dict keys and list indices)."""
    items = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _set(tree, path, value):
    tree = copy.deepcopy(tree)
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return tree


DEEP = 100_000
REF_BYTES = REFERENCE.read_bytes()
REF_JSON = json.loads(REF_BYTES)


@pytest.mark.parametrize("name, content, reason", [
    ("empty", b"", "not valid JSON: Expecting value at line 1, column 1"),
    ("null", b"null", "valid JSON but not a Jupyter notebook (no 'cells')"),
    ("deep list", b"[" * DEEP + b"]" * DEEP, "not a notebook: the file nests 100000 levels"),
    ("deep metadata", json.dumps(REF_JSON).encode().replace(
        b'"metadata": {', b'"metadata": {"x": ' + b"[" * DEEP + b"]" * DEEP + b", ", 1),
     "not a notebook: the file nests 100004 levels deep, more than the 200 allowed"),
    ("deep unclosed", b'{"cells": ' + b"{" * DEEP, "nests 100001 levels deep"),
    ("nbformat 3", json.dumps(dict(REF_JSON, nbformat=3)).encode(), "nbformat 3 is too old"),
    ("nbformat 5", json.dumps(dict(REF_JSON, nbformat=5)).encode(),
     "nbformat 5 is not a version this grader reads (need 4)"),
    ("nbformat str", json.dumps(dict(REF_JSON, nbformat="4")).encode(),
     "nbformat '4' is not a version this grader reads"),
    ("nbformat float", json.dumps(dict(REF_JSON, nbformat=4.0)).encode(),
     "nbformat 4.0 is not a version"),
    ("nbformat missing", json.dumps({k: v for k, v in REF_JSON.items() if k != "nbformat"}
                                    ).encode(), "nbformat None is not a version"),
    ("100k cells", json.dumps(dict(REF_JSON, cells=[{"cell_type": "raw", "metadata": {},
                                                     "source": ""}] * 100_000)).encode(),
     "has 100000 cells, more than the 5000 allowed"),
    ("many values", json.dumps(dict(REF_JSON, metadata={"x": [[]] * 1_500_000})).encode(),
     "not a notebook: the file holds 1500"),
    ("non-UTF-8", REF_BYTES.replace(b'"cells"', b'"c\xe9lls"', 1),
     f"not a notebook: byte {REF_BYTES.index(b'cells') + 1} is not UTF-8 text"),
    ("huge int", REF_BYTES.replace(b'"nbformat": 4', b'"nbformat": 4' + b"0" * 5000),
     "not valid JSON: Exceeds the limit (4300 digits)"),
    ("nbgrader str", json.dumps(_set(REF_JSON, ("cells", 1, "metadata", "nbgrader"),
                                     "locked")).encode(),
     "cell 2: its nbgrader metadata is a str, not an object"),
    ("points str", json.dumps(_set(REF_JSON, ("cells", 1, "metadata", "nbgrader", "points"),
                                   "2")).encode(),
     "cell 2: its nbgrader metadata field 'points' is '2', not a int"),
    ("locked int", json.dumps(_set(REF_JSON, ("cells", 1, "metadata", "nbgrader", "locked"),
                                   1)).encode(),
     "cell 2: its nbgrader metadata field 'locked' is '1', not a bool"),
])
def test_malformed_notebook_is_invalid_with_its_reason(tmp_path, name, content, reason):
    """Truncation, 100,000 levels of nesting, wrong nbformat, 100,000 cells, a million
    values, non-UTF-8, a 5,000-digit int and nbgrader metadata of the wrong types are
    each a NotebookError naming the file and the reason (never RecursionError)."""
    path = tmp_path / "eve.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError) as info:
        load_notebook(path)
    assert str(info.value).startswith(f"{path}: ") and reason in str(info.value), \
        str(info.value)


def test_bom_and_huge_outputs_still_load(tmp_path):
    """A UTF-8 byte-order mark and a 15 MB stream output (one value) are a readable notebook,
    its cells as in the file."""
    path = tmp_path / "bom.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + REF_BYTES)
    assert load_notebook(path).nb == nbformat.read(REFERENCE, as_version=4)
    big = copy.deepcopy(REF_JSON)
    code = next(c for c in big["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 15_000_000}]
    path.write_text(json.dumps(big))
    loaded = load_notebook(path).nb
    assert len(next(c for c in loaded.cells if c.cell_type == "code").outputs[0].text) \
        == 15_000_000


def test_every_truncation_of_a_notebook_is_invalid(tmp_path):
    """The reference notebook cut at 60 places (every length class) is refused each time as
    invalid JSON with the line and column, never another exception."""
    path = tmp_path / "cut.ipynb"
    step = max(1, len(REF_BYTES) // 60)
    for end in range(0, len(REF_BYTES) - 1, step):
        path.write_bytes(REF_BYTES[:end])
        with pytest.raises(NotebookError, match=r"not valid JSON: .* at line \d+, column \d+"):
            load_notebook(path)


def test_wrong_types_in_every_field_are_refused_or_harmless(tmp_path):
    """Each field of the reference notebook (every key and list item, at every depth) set
    to each of five values of other types either loads and passes the structure checks or is
    refused with a NotebookError: no other exception, ever."""
    reference = load_notebook(REFERENCE)
    path = tmp_path / "typed.ipynb"
    wrong = [None, True, "x", [], {"x": [1]}]
    refused = tried = 0
    for field_path in _paths(REF_JSON):
        for value in wrong:
            if type(value) is type(_get(REF_JSON, field_path)):
                continue
            path.write_text(json.dumps(_set(REF_JSON, field_path, value)))
            tried += 1
            refused += _load_or_refuse(path, reference) is not None
    assert tried > 800 and 0 < refused < tried, (tried, refused)


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree
