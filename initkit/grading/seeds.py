"""The hidden checks' seeds: one per submission, derived from the run's secret.

A seed shared by a whole class, or printed in a student's feedback, lets one student's
knowledge of the hidden inputs serve everybody. So each submission gets its own seed,

    seed = int(HMAC-SHA256(run_secret, student NUL exercise NUL sha256(notebook)))  mod 2**31

(RFC 2104; the secret is the key, so nobody without it can tell a seed from the inputs),
and the run secret is recorded for the instructor in ``OUT/run.json`` (mode 0600): grading
again into the same ``--out`` (or with ``--seed SECRET``) repeats every seed. The seed goes
to the graders' ``grade_seed`` fixture and to ``SubmissionResult.seed`` (instructor-only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from ..errors import InitkitError

RUN_FILE = "run.json"


def derive_seed(run_secret: str, student: str, exercise: str | None, notebook_sha256: str
                ) -> int:
    """The hidden-check seed of one submission (see the module docstring), in [0, 2**31)."""
    message = "\0".join([student, exercise or "", notebook_sha256]).encode(
        "utf-8", "surrogatepass")
    digest = hmac.new(run_secret.encode("utf-8", "surrogatepass"), message,
                      hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % 2**31


def run_secret(out: Path, given: str | None = None) -> str:
    """The run's secret: ``given`` (``--seed``), else the one ``OUT/run.json`` records, else
    a fresh one; recorded in ``OUT/run.json`` (mode 0600) either way.

    Raises:
        InitkitError: ``OUT/run.json`` exists but is not one this kit wrote.
    """
    path = Path(out) / RUN_FILE
    recorded = None
    if path.exists():
        try:
            recorded = json.loads(path.read_text())["run_secret"]
            if not isinstance(recorded, str) or not recorded:
                raise ValueError("run_secret is not a non-empty string")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InitkitError(f"{path} is not a grading run's record ({exc}): move it away "
                               "or pass another --out") from None
    secret = given if given is not None else recorded or secrets.token_hex(16)
    if secret != recorded:
        _write_private(path, json.dumps({"run_secret": secret}, indent=2) + "\n")
    return secret


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
