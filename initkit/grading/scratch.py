"""The run's scratch folder: every temporary folder of a grading run lives in one, and it
goes when the run goes.

Grading makes temporary folders holding student notebooks (the checked copy, the sandbox's
working directory, the pytest ini). :func:`run_scratch` makes one folder per run,
``$TMPDIR/initkit-run-<pid>-<random>/`` (mode 0711: the sandboxed child can reach its own
working directory inside, nobody can list it), points :mod:`tempfile` and ``TMPDIR`` at it
(forked workers inherit both) and removes it on every way out: the ``with`` block's end,
an exception, ``SIGTERM``/``SIGHUP`` (turned into ``SystemExit``), ``atexit``. A run killed
with ``SIGKILL`` cannot clean up: the next run removes every scratch folder whose owner
(pid and start time, recorded in ``owner``) is no longer alive.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "initkit-run-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def remove_stale(base: Path) -> list[Path]:
    """Remove the scratch folders under ``base`` whose run is dead; returns them."""
    removed = []
    for folder in Path(base).glob(PREFIX + "*"):
        try:
            pid, started = (folder / "owner").read_text().split()
        except (OSError, ValueError):
            continue  # being created right now, or not ours
        if _start_time(int(pid)) != started:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def run_scratch() -> Iterator[Path]:
    """A scratch folder for this run (see the module docstring); yields its path."""
    base = Path(tempfile.gettempdir())
    remove_stale(base)
    folder = base / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    (folder / "owner").write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    folder.chmod(0o711)
    before = tempfile.tempdir, os.environ.get("TMPDIR")
    handlers = {}
    with contextlib.suppress(ValueError):  # not the main thread: the caller's signals
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                handlers[sig] = signal.signal(sig, _raise_exit)

    def clean() -> None:
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(clean)
    tempfile.tempdir, os.environ["TMPDIR"] = str(folder), str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = before[0]
        if before[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before[1]
        for sig, old in handlers.items():
            signal.signal(sig, old)
        clean()
        atexit.unregister(clean)
