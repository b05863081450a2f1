"""Read a submitted notebook and check its structure before any of its code runs.

Checks, in order, each failing with a :class:`NotebookError` that names the file and says
what is wrong (and where, for JSON):

1. size (a 100 MB notebook is refused before it is parsed);
2. valid JSON (with the line and column of the first error);
3. a Jupyter notebook (an object with ``cells``) of nbformat 4, valid against the nbformat
   schema (``nbformat.validate``).

Then, against the exercise's reference notebook (the released student version, carrying
nbgrader's cell metadata), :func:`check_cells` compares every nbgrader cell by ``grade_id``
using nbgrader's own ``nbgrader.utils.compute_checksum`` (an MD5 of the source, cell type,
grade/solution/locked flags, id and points): a locked or test cell that is missing, renamed,
de-tagged or edited is put back from the reference and the tampering is reported, exactly the
cells ``nbgrader autograde`` would overwrite (its ``OverwriteCells`` preprocessor).
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import (
    NotebookError,  # noqa: F401 (defined in initkit.errors, re-exported here)
)

#: Largest notebook accepted, in bytes.
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


def import_nbformat():
    """Import ``nbformat`` (and so ``jsonschema``) without ``rfc3987_syntax``.

    ``jsonschema`` imports ``rfc3987_syntax`` (optionally, inside ``suppress(ImportError)``)
    only for its "iri" format checker, and that module builds a Lark parser at import time:
    1 to 3 s per grading process. The notebook schema has no "iri" field, so the import is
    blocked while nbformat loads and unblocked right after.
    """
    import sys

    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # makes `import rfc3987_syntax` raise ImportError
        try:
            import nbformat
        finally:
            del sys.modules["rfc3987_syntax"]
    import nbformat

    return nbformat


@dataclass
class CheckedNotebook:
    """A structure-checked notebook.

    Attributes:
        path: where it was read from.
        nb: the notebook (an ``nbformat.NotebookNode``), locked cells already restored.
        notes: what the checks found and fixed, one sentence each.
        missing: grade_ids of answer cells that are not in the submission.
    """

    path: Path
    nb: object
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def code_cells(self) -> list[str]:
        """The source of every code cell, in order."""
        return [c.source for c in self.nb.cells if c.cell_type == "code"]

    @property
    def exercise(self) -> str | None:
        """The exercise named in the notebook's metadata (``metadata.initkit.exercise``)."""
        meta = self.nb.metadata.get("initkit", {})
        value = meta.get("exercise") if isinstance(meta, dict) else None
        return value if isinstance(value, str) and value else None


def load_notebook(path: str | Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> CheckedNotebook:
    """Read and validate a notebook file (checks 1-3 of the module docstring).

    Args:
        path: the ``.ipynb`` file.
        max_bytes: refuse bigger files without reading them whole.

    Returns:
        A :class:`CheckedNotebook` with no notes yet.

    Raises:
        NotebookError: too big, not UTF-8 JSON, not a notebook, old or invalid nbformat.
    """
    nbformat = import_nbformat()
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise NotebookError(f"{path}: the notebook is {size / 1e6:.1f} MB, more than the "
                                f"{max_bytes / 1e6:.0f} MB limit; clear its outputs "
                                "(Kernel > Restart & Clear Output) and submit again")
        raw = path.read_bytes()
    except OSError as exc:
        raise NotebookError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path}: not a notebook: byte {exc.start} is not UTF-8 text") \
            from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno}; the file is damaged, download it again from "
                            "Jupyter (File > Download)") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError(f"{path}: valid JSON but not a Jupyter notebook (no 'cells')")
    major = data.get("nbformat")
    if not isinstance(major, int) or major < 4:
        raise NotebookError(f"{path}: nbformat {major} is too old (need 4); open it in a "
                            "current Jupyter and save it again")
    try:
        with warnings.catch_warnings():  # duplicate cell ids are fixed silently by nbformat
            warnings.simplefilter("ignore")
            nb = nbformat.reads(raw.decode("utf-8"), as_version=4)  # joins multi-line sources
            nbformat.validate(nb)
    except Exception as exc:  # nbformat.ValidationError and schema lookup errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(f"{path}: not a valid nbformat 4 notebook: {first[:300]}") \
            from None
    return CheckedNotebook(path=path, nb=nb)


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


def _fresh_id(cell, others):
    """Give a restored cell a new nbformat cell id if another cell already uses its id."""
    import uuid

    if "id" in cell and any(c.get("id") == cell["id"] for c in others):
        cell["id"] = uuid.uuid4().hex[:8]
    return cell


def check_cells(sub: CheckedNotebook, reference: CheckedNotebook) -> CheckedNotebook:
    """Compare nbgrader cells with the reference; restore locked ones; report tampering.

    Args:
        sub: the submission, as loaded.
        reference: the released notebook with nbgrader metadata (and checksums).

    Returns:
        ``sub`` with locked/test cells equal to the reference's and ``notes`` filled in.
    """
    import_nbformat()
    from nbgrader.utils import compute_checksum, is_locked, is_solution

    ref_cells = [c for c in reference.nb.cells if _grade_id(c)]
    by_id: dict[str, int] = {}
    for i, cell in enumerate(sub.nb.cells):
        gid = _grade_id(cell)
        if gid is not None and gid not in by_id:
            by_id[gid] = i
    known = {_grade_id(c) for c in ref_cells}
    for gid in by_id:
        if gid not in known:
            sub.notes.append(f"cell {gid!r} is not in the exercise (renamed?); it runs as is")

    cells = list(sub.nb.cells)
    last = -1  # index in `cells` of the previous reference cell found or restored
    for ref in ref_cells:
        gid = _grade_id(ref)
        idx = next((i for i, c in enumerate(cells) if _grade_id(c) == gid), None)
        if idx is None:
            if is_locked(ref):
                cells.insert(last + 1, _fresh_id(copy.deepcopy(ref), cells))
                last += 1
                sub.notes.append(f"locked cell {gid!r} was missing (deleted, renamed or "
                                 "its nbgrader tags removed): restored from the exercise")
            else:
                sub.missing.append(gid)
                sub.notes.append(f"answer cell {gid!r} is missing (deleted, renamed or its "
                                 "nbgrader tags removed)")
            continue
        last = max(last, idx)
        cell = cells[idx]
        if is_locked(ref):
            expected = ref.metadata.nbgrader.get("checksum") or compute_checksum(ref)
            try:
                got = compute_checksum(cell)
            except Exception:  # tags half removed: no points/flags to hash
                got = None
            if got != expected or cell.cell_type != ref.cell_type:
                cells[idx] = _fresh_id(copy.deepcopy(ref), cells[:idx] + cells[idx + 1:])
                sub.notes.append(f"locked cell {gid!r} was edited: restored from the exercise")
        elif is_solution(ref) and not is_solution(cell):
            sub.notes.append(f"answer cell {gid!r} lost its nbgrader solution tag")
    sub.nb.cells = cells
    return sub
