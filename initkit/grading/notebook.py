"""Read a submitted notebook and check its structure before any of its code runs.

Checks, in order, each failing with a :class:`NotebookError` that names the file and says
what is wrong (and where, for JSON):

1. size (a 100 MB notebook is refused before it is parsed);
2. UTF-8 text (a byte-order mark is allowed) and valid JSON (with the line and column of the
   first error), of bounded shape: at most :data:`MAX_JSON_VALUES` values and
   :data:`MAX_JSON_DEPTH` levels, counted on the raw bytes before ``json.loads`` builds
   anything (:func:`initkit.grading.protocol.check_json_shape`), so 100,000 nested brackets
   are a reason, not a ``RecursionError``, and 20 MB of ``[]`` never costs the grader a
   gigabyte;
3. a Jupyter notebook (an object with ``cells``) of nbformat 4, with at most
   :data:`MAX_CELLS` cells, valid against the nbformat schema (``nbformat.validate``), and
   whose nbgrader cell metadata, which the schema leaves free, has nbgrader's types.

The file is parsed once: the JSON tree becomes the ``NotebookNode`` the way ``nbformat.reads``
does it (``from_dict``, ``rejoin_lines``, ``strip_transient``) and is validated once. Every
failure is a :class:`NotebookError` (the submission's status ``invalid``), never another
exception.

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
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import (
    NotebookError,  # noqa: F401 (defined in initkit.errors, re-exported here)
)

#: Largest notebook accepted, in bytes.
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
#: Most JSON values (strings, numbers, lists, objects) in a notebook: a 20 MB notebook of
#: ordinary lines holds some 500,000; a million cost the grader at most about 150 MB.
MAX_JSON_VALUES = 1_000_000
#: Deepest JSON nesting: a notebook needs about 8 levels, rich outputs and widget state some
#: tens; far below the depth at which ``json.loads`` or the schema check would recurse out.
MAX_JSON_DEPTH = 200
#: Most cells in a notebook (the course's have about 40).
MAX_CELLS = 5000
#: nbgrader cell metadata fields and the types nbgrader writes
#: (``nbgrader/nbgraderformat/v3.py``).
NBGRADER_TYPES: dict[str, tuple[type, ...]] = {
    "grade": (bool,), "solution": (bool,), "locked": (bool,), "task": (bool,),
    "grade_id": (str,), "points": (int, float), "checksum": (str,), "cell_type": (str,),
    "schema_version": (int,)}


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
        NotebookError: too big, not UTF-8 JSON, too deep or too many values, not a notebook,
            old or invalid nbformat, nbgrader metadata of the wrong types. Nothing else.
    """
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
    if len(raw) > max_bytes:  # it grew between stat and read
        raise NotebookError(f"{path}: the notebook is more than the {max_bytes / 1e6:.0f} MB "
                            "limit; clear its outputs and submit again")
    try:
        return CheckedNotebook(path=path, nb=parse_notebook(raw, str(path)))
    except NotebookError:
        raise
    except Exception as exc:  # noqa: BLE001 - a reader bug must not become status `error`
        raise NotebookError(f"{path}: not a readable notebook ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from None


def parse_notebook(raw: bytes, name: str = "notebook"):
    """The ``NotebookNode`` of a notebook file's bytes, parsed once and validated.

    Args:
        raw: the file's bytes.
        name: how messages name the file.

    Raises:
        NotebookError: see :func:`load_notebook`.
    """
    from . import protocol

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{name}: not a notebook: byte {exc.start} is not UTF-8 text") \
            from None
    try:
        protocol.check_json_shape(raw, max_items=MAX_JSON_VALUES, max_depth=MAX_JSON_DEPTH,
                                  what="the file")
    except protocol.ProtocolError as exc:
        raise NotebookError(f"{name}: not a notebook: {exc}".replace(
            " (return large data as numpy arrays)", "")) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{name}: not valid JSON: {exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno}; the file is damaged, download it again from "
                            "Jupyter (File > Download)") from None
    except (ValueError, RecursionError) as exc:  # an int of 5,000 digits (sys.int_info)
        raise NotebookError(f"{name}: not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError(f"{name}: valid JSON but not a Jupyter notebook (no 'cells')")
    major = data.get("nbformat")
    if type(major) is int and major < 4:
        raise NotebookError(f"{name}: nbformat {major} is too old (need 4); open it in a "
                            "current Jupyter and save it again")
    if type(major) is not int or major != 4:
        raise NotebookError(f"{name}: nbformat {repr(major)[:20]} is not a version this "
                            "grader reads (need 4); save it from a current Jupyter")
    cells = data.get("cells")
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise NotebookError(f"{name}: the notebook has {len(cells)} cells, more than the "
                            f"{MAX_CELLS} allowed")
    nbformat = import_nbformat()
    from nbformat.v4.rwbase import rejoin_lines, strip_transient

    try:
        with warnings.catch_warnings():  # duplicate cell ids are fixed silently by nbformat
            warnings.simplefilter("ignore")
            nb = strip_transient(rejoin_lines(nbformat.from_dict(data)))  # nbformat.reads
            nbformat.validate(nb)
    except Exception as exc:  # nbformat.ValidationError and schema lookup errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(f"{name}: not a valid nbformat 4 notebook: {first[:300]}") \
            from None
    _check_nbgrader_metadata(nb, name)
    return nb


def _check_nbgrader_metadata(nb, name: str) -> None:
    """Refuse nbgrader cell metadata of the wrong types (the nbformat schema allows any):
    the structure checks and nbgrader's checksum read these fields."""
    for number, cell in enumerate(nb.cells, 1):
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        where = f"{name}: cell {number}"
        if not isinstance(meta, dict):
            raise NotebookError(f"{where}: its nbgrader metadata is a "
                                f"{type(meta).__name__}, not an object; the cell's metadata "
                                "was edited: copy your answers into a fresh download of the "
                                "exercise")
        for key, types in NBGRADER_TYPES.items():
            value = meta.get(key)
            if value is not None and (type(value) not in types or
                                      key == "points" and not math.isfinite(value)):
                raise NotebookError(f"{where}: its nbgrader metadata field {key!r} is "
                                    f"{str(value)[:40]!r}, not a {types[0].__name__}; the "
                                    "cell's metadata was edited: copy your answers into a "
                                    "fresh download of the exercise")


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
