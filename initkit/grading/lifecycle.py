"""Start and stop one child: its working directory, its environment, its process.

A child is started either by a fork of the pre-warmed template (:mod:`.zygote`, the
default, ~0.5 s faster) or by ``subprocess`` exec of a fresh ``python -I child.py``; both
hand the same plan to :func:`initkit.grading.confine.enter`, so both are confined alike. The
process the trusted side holds (``proc.pid``) is the confinement's *monitor*, outside the
namespaces: :func:`terminate` sends it ``SIGTERM``, it kills the namespace's init, the
kernel kills every process of the namespace, and the monitor is reaped only after that, so
nothing the notebook started outlives :func:`terminate`. An ``unconfined`` child has no
namespace: its process group is killed instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import SandboxError
from . import confine

_MPL_CACHE: Path | None = None

#: Variables that choose a numeric library's kernels, passed from the grader to the child
#: (they hold no secrets). Graders replay a notebook's computation on the trusted side and
#: compare (ex04 retrains 20 steps of a float32 ReLU net): with another BLAS kernel the
#: rounding differs in the last bit, and training amplifies that to 1e-3 within 20 steps for
#: about one seed in four (5 of 26 gradings in one run). A machine whose environment pins
#: ``OPENBLAS_CORETYPE=Haswell`` while the CPU has AVX-512 gave the child (auto-detected
#: ``SkylakeX``) other numbers than its graders: correct notebooks lost points.
KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_CBWR",
                    "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "NPY_DISABLE_CPU_FEATURES",
                    "NPY_ENABLE_CPU_FEATURES")


def kernel_env() -> dict[str, str]:
    """This process's kernel-choosing variables (:data:`KERNEL_VARIABLES`) that are set."""
    return {name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ}


def make_workdir(files: dict[str, bytes], data_dir: Path | None) -> Path:
    """A private folder holding the submission's files, the exercise data, a font cache."""
    workdir = Path(tempfile.mkdtemp(prefix="initkit-grade-"))
    for name, content in files.items():
        (workdir / Path(name).name).write_bytes(content)
    if data_dir and data_dir.is_dir():
        for item in data_dir.iterdir():
            if item.is_file():
                shutil.copy2(item, workdir / item.name)
    seed_matplotlib_cache(workdir / ".config" / "matplotlib")
    workdir.chmod(0o700)
    return workdir


def child_env(workdir: Path) -> dict[str, str]:
    """The child's whole environment: fixed, no secrets, one BLAS thread, the grader's
    numeric kernels (:func:`kernel_env`)."""
    return {**kernel_env(),
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "USER": "student",
        "TMPDIR": str(workdir), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(workdir / ".config" / "matplotlib"),
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
    }


def spawn(plan: dict, python: str, workdir: Path, env: dict[str, str], prewarm: bool,
          req_r: int, rep_w: int):
    """Start the child; returns a Popen-like handle with ``stdout``/``stderr`` pipes.

    Raises:
        SandboxError: the interpreter could not be started at all.
    """
    if prewarm:
        try:
            return _from_template(plan, python, workdir, env, req_r, rep_w)
        except OSError:  # no template: start a fresh interpreter instead
            pass
    try:
        return subprocess.Popen(
            [python, "-I", "-u", str(confine.CHILD_SCRIPT), str(req_r), str(rep_w)],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, pass_fds=(req_r, rep_w), start_new_session=True,
            preexec_fn=lambda: confine.enter(plan, rep_w), close_fds=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"could not start the sandboxed child ({python}): {exc}. Check "
                           "that the interpreter exists and runs.") from exc


def start_template(python: str) -> None:
    """Start this process's template for ``python`` now, without waiting for it to warm up
    (its first fork waits), so its start-up overlaps with the grader's own."""
    from .zygote import get_zygote

    try:
        get_zygote(python, template_env())
    except OSError:  # no template: the first child meets it and starts a fresh interpreter
        pass


def _from_template(plan: dict, python: str, workdir: Path, env: dict[str, str], req_r: int,
                   rep_w: int):
    """Fork the child from this process's pre-warmed template (:mod:`.zygote`).

    ``req_r`` and ``rep_w`` stay the caller's to close; the output pipes are made here, their
    read ends handed to the child's handle and their write ends closed here, each fd once.
    """
    from .zygote import get_zygote

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    stdout, stderr = os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0)
    try:
        zygote = get_zygote(python, template_env())
        return zygote.spawn(plan, str(workdir), env, [req_r, rep_w, out_w, err_w],
                            stdout, stderr)
    except OSError:
        stdout.close()
        stderr.close()
        raise
    finally:  # the template holds its own copies (or failed)
        os.close(out_w)
        os.close(err_w)


def kill(proc, confined: bool) -> None:
    """Start killing the child now (without waiting): the namespace, or the process group.

    A confined child already known to have ended is left alone: its namespace ended with
    it, and its pid may have been reaped (by the template) and given to another process
    since. An unconfined child's group is killed even so (its members may live on; a
    process group's id is not reused while it has members).
    """
    if confined and proc.poll() is not None:
        return
    try:
        if confined:
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def terminate(proc, confined: bool) -> None:
    """Kill the child and everything it started; return once they are gone."""
    kill(proc, confined)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # the monitor did not answer: the kernel ends it all
        try:
            os.kill(proc.pid, signal.SIGKILL)  # its death kills the init (PDEATHSIG)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


#: Children killed without waiting (:func:`end_later`): their handle, whether confined,
#: and what to do once they are gone.
_ENDING: list[tuple[object, bool, Callable[[], None]]] = []
_ENDING_LOCK = threading.Lock()
_HOOKED: list[int] = []  # the pid whose exit hooks are registered


def _forget_parents_endings() -> None:
    """In a forked process: the parent's endings are the parent's to finish."""
    global _ENDING_LOCK
    _ENDING_LOCK = threading.Lock()
    _ENDING.clear()


os.register_at_fork(after_in_child=_forget_parents_endings)


def end_later(proc, confined: bool, then: Callable[[], None]) -> None:
    """Start killing the child now; wait for it and call ``then`` (remove its cgroup and
    folder) later, in :func:`finish_ending`.

    The kill is sent at once, so the notebook stops running now; what is left is the
    kernel's teardown of its namespaces (tens of milliseconds on a busy machine), which
    then overlaps with the grader's next steps. Every ending is finished by the next
    sandbox's start (those already gone), at the end of a grading run, and when this
    process exits (``atexit``, and ``multiprocessing``'s finalizers in a pool worker, which
    exits without ``atexit``), however long it takes.
    """
    kill(proc, confined)
    with _ENDING_LOCK:
        _ENDING.append((proc, confined, then))
        if os.getpid() not in _HOOKED:  # once per process (a forked worker hooks its own)
            _HOOKED[:] = [os.getpid()]
            import atexit
            import multiprocessing.util

            atexit.register(finish_ending)
            multiprocessing.util.Finalize(None, finish_ending, exitpriority=100)


def finish_ending(wait: bool = True) -> None:
    """Finish what :func:`end_later` started: each child that is gone is reaped and its
    traces removed; with ``wait``, every one, waiting (and killing harder) as
    :func:`terminate` does."""
    with _ENDING_LOCK:
        ending, _ENDING[:] = list(_ENDING), []
    still = []
    for proc, confined, then in ending:
        if proc.poll() is None:
            if not wait:
                still.append((proc, confined, then))
                continue
            terminate(proc, confined)
        then()
    if still:
        with _ENDING_LOCK:
            _ENDING[:0] = still


def template_env() -> dict[str, str]:
    """Environment of the template process: scrubbed, one BLAS thread, the grader's numeric
    kernels (:func:`kernel_env`: the template loads numpy, so its children compute with them).

    The template makes its own home and matplotlib folder (seeded from
    ``INITKIT_MPL_SEED``, this process's font cache) and removes them when it ends.
    """
    seed = Path(tempfile.mkdtemp(prefix="initkit-seed-"))
    seed_matplotlib_cache(seed)
    fonts = [p.name for p in seed.iterdir()]
    shutil.rmtree(seed, ignore_errors=True)
    return {**kernel_env(), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "INITKIT_MPL_SEED": str(_MPL_CACHE) if _MPL_CACHE and fonts else ""}


def seed_matplotlib_cache(target: Path) -> None:
    """Give the child a ready font cache, so matplotlib does not rebuild it every time."""
    global _MPL_CACHE
    target.mkdir(parents=True, exist_ok=True)
    if _MPL_CACHE is None:
        try:
            import matplotlib

            _MPL_CACHE = Path(matplotlib.get_cachedir())
            import matplotlib.font_manager  # noqa: F401 - builds fontlist-*.json if missing
        except Exception:  # noqa: BLE001 - no matplotlib: no cache to seed
            _MPL_CACHE = Path("/nonexistent")
    for item in _MPL_CACHE.glob("fontlist-*.json") if _MPL_CACHE.is_dir() else []:
        shutil.copy2(item, target / item.name)
