"""One grading run's settings: one frozen object, one table of defaults.

Built once at the edge (the ``initkit grade`` / ``initkit check`` command line, or a script
calling :func:`initkit.grading.pipeline.grade_course`) and passed down unchanged: to every
task, to the pytest session of each submission, to the sandbox. Nothing below the edge
holds a default of its own; the pytest plugin's command-line defaults and the CLI's
``show_default`` values read :data:`DEFAULTS`.

``initkit check`` (a student's own run, on a laptop, of a whole notebook) uses the more
generous :data:`CHECK` preset.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GradingSettings:
    """How submissions are graded (picklable: it travels to worker processes and Dask tasks).

    Attributes:
        timeout: wall-clock seconds for one submission (its notebook and its checks).
        cell_timeout: wall-clock seconds for one cell or one check's call.
        memory_mb: address-space limit of a notebook's process, in MB.
        course: nbgrader course folder (release notebooks, gradebook), if any.
        prewarm: fork notebooks from the pre-warmed template (else a fresh ``python -I``).
        unconfined: resource limits only (no namespaces, no allow-list root); only when the
            user asked for it (``--unconfined``).
        run_secret: the secret each submission's hidden-check seed is derived from
            (:mod:`initkit.grading.seeds`); None: the one recorded in ``OUT/run.json``, else
            a fresh one.
        regrade: grade again what ``OUT/results/`` already holds a result for.
    """

    timeout: float = 120.0
    cell_timeout: float = 30.0
    memory_mb: int = 2048
    course: str | None = None
    prewarm: bool = True
    unconfined: bool = False
    run_secret: str | None = None
    regrade: bool = False


#: The defaults, once (``initkit grade``, the pytest plugin's options, scripts).
DEFAULTS = GradingSettings()

#: ``initkit check``: a whole notebook on a student's machine, no hurry.
CHECK = GradingSettings(timeout=300.0, cell_timeout=120.0, memory_mb=4096)
