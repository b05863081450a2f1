"""Each submission's result, durable the moment it is known: ``OUT/results/<key>.json``.

One file per (student, exercise), written atomically (a temporary file in the same folder,
``fsync``, ``os.replace``: a reader, or a run killed at any instant, sees the old file or
the new one, never half of one). Each file holds the result and what it was graded from
(:class:`ResultKey`: the notebook's bytes' SHA-256, the graders' content digest, the seed),
so a later run into the same ``--out`` recognises what is graded already and grades only
the rest; a newer notebook of the same student and exercise replaces the older result.
Next to the result, ``timing`` says where that grading's time went
(:attr:`SubmissionResult.timing`; ``benchmarks/bench_grading.py`` reads it).

The tables (grades.csv, results.json, feedback) are views: :func:`load_all` gives every
result under ``OUT``, whichever run graded it, and :mod:`initkit.grading.report` writes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .results import SubmissionResult

RESULTS_DIR = "results"
FORMAT = 1


@dataclass(frozen=True)
class ResultKey:
    """What a result was graded from; equal keys mean grading again gives the same result."""

    student: str
    exercise: str | None
    notebook_sha256: str
    graders: str
    seed: int


def _safe(text: str) -> str:
    """A file-name-safe form of ``text``; when that changes it, a digest of the original
    (its bytes, undecodable ones included) is appended, so two names never share a file."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".") or "_"
    if safe != text:
        safe += "-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return safe[:120]


def result_path(out: Path, student: str, exercise: str | None) -> Path:
    """The result file of one student's submission of one exercise."""
    return Path(out) / RESULTS_DIR / f"{_safe(student)}--{_safe(exercise or '-')}.json"


def graders_digest(grader_dir: Path, reference: Path | None = None) -> str:
    """SHA-256 of an exercise's grader folder (every file's path and bytes, caches left out)
    and of the reference notebook the structure checks use: an edit to either changes it."""
    digest = hashlib.sha256()
    root = Path(grader_dir)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(p == "__pycache__" or p.startswith(".pytest_cache")
                                      for p in rel.parts):
            digest.update(str(rel).encode("utf-8", "surrogatepass") + b"\0"
                          + path.read_bytes() + b"\0")
    if reference is not None and reference.is_file():
        digest.update(b"reference\0" + reference.read_bytes())
    return digest.hexdigest()


def save(out: Path, key: ResultKey, result: SubmissionResult) -> Path:
    """Write one result durably (see the module docstring); returns its file."""
    path = result_path(out, key.student, key.exercise)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": FORMAT, "key": asdict(key), "result": result.to_dict(),
                       "timing": result.timing}, indent=1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def _read(path: Path) -> tuple[ResultKey, SubmissionResult] | None:
    try:
        data = json.loads(path.read_text())
        return ResultKey(**data["key"]), SubmissionResult.from_dict(data["result"])
    except (OSError, ValueError, KeyError, TypeError):  # not one of ours: never trusted
        return None


def reusable(out: Path, key: ResultKey) -> SubmissionResult | None:
    """The stored result graded from exactly ``key`` (not an ``error``), else None."""
    found = _read(result_path(out, key.student, key.exercise))
    if found is None or found[0] != key or found[1].status == "error":
        return None
    return found[1]


def remove_partial(out: Path) -> int:
    """Remove the temporary files a killed run left half-written in ``OUT/results/`` (those
    of a live process are another run's, kept); returns how many went."""
    removed = 0
    for tmp in (Path(out) / RESULTS_DIR).glob(".*.tmp"):
        try:
            os.kill(int(tmp.suffixes[-2].lstrip(".")), 0)
        except (ValueError, IndexError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
            removed += 1
        except PermissionError:  # alive, someone else's
            pass
    return removed


def load_keyed(out: Path) -> list[tuple[ResultKey, SubmissionResult]]:
    """Every result stored under ``out`` with the key it was graded from, by student and
    exercise."""
    folder = Path(out) / RESULTS_DIR
    found = [_read(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return sorted(filter(None, found), key=lambda kr: (kr[1].student, kr[1].exercise or ""))


def load_all(out: Path) -> list[SubmissionResult]:
    """Every result stored under ``out``, by student and exercise."""
    return [result for _, result in load_keyed(out)]


def why_changed(new: ResultKey, old: ResultKey) -> str:
    """What differs between two gradings of one student's exercise, in words."""
    reasons = [text for differs, text in (
        (new.graders != old.graders, "the graders changed"),
        (new.notebook_sha256 != old.notebook_sha256, "the submission changed"),
        (new.seed != old.seed, "the hidden checks' seed changed")) if differs]
    return "; ".join(reasons) or "graded again from the same graders, notebook and seed"
