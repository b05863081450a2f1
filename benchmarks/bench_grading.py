"""Benchmark: ``initkit grade`` vs ``nbgrader autograde`` on the same 20 submissions.

Run: ``.venv/bin/python benchmarks/bench_grading.py [--n 20]``. It builds an nbgrader course
in a temporary folder from the example exercise of ``tests/grading/`` (``nbgrader
generate_assignment``), fills ``submitted/`` with ``n`` honest submissions (half correct,
half with a wrong ``he_std``), then, side by side in this one run:

- ``initkit grade --jobs 1`` and ``--jobs <cores>`` (the notebooks in sandboxed children,
  the hidden pytest graders in the trusted process);
- ``nbgrader autograde`` (each notebook through a Jupyter kernel);
- the notebook's own compute: a fresh ``python -I`` executing its code cells (imports included),
  and its cells alone in a process that has already imported numpy, matplotlib and initkit.

It prints wall times, the speed-up ratio and initkit's per-submission overhead beyond the
notebook's own compute: ``(T(n) - T(1)) / (n - 1) - t_cells``, the marginal cost of one more
submission minus what its cells cost in a warm process (initkit forks notebooks from a
pre-warmed template, so the imports are not paid per submission). Run as root, it also runs
``initkit grade --jobs 1`` as an ordinary user (a spare uid, its interpreter made as the
tests make it: ``tests/grading/unprivileged.py``), whose notebooks get the unprivileged
user-namespace confinement, and prints root and non-root side by side, and which memory
limit applies (a cgroup per submission, or the per-process fallback). Targets: ratio >= 3
at ``--jobs 1``, overhead < 0.3 s in both modes (issue 19: the seccomp filter, the fresh
keyring and the cgroup included). Nothing is asserted; the
machine may be shared, so read the numbers as rough.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "grading"
BIN = Path(sys.executable).parent


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs `alembic`
    return env


def _timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def make_course(tmp: Path, n: int) -> Path:
    """An nbgrader course with the example exercise released and ``n`` submissions."""
    sys.path.insert(0, str(EXAMPLE))
    from build_example import nbgrader_config

    course = tmp / "course"
    shutil.copytree(EXAMPLE / "course" / "source", course / "source")
    nbgrader_config(course)
    subprocess.run([str(BIN / "nbgrader"), "generate_assignment", "variance", "--force"],
                   cwd=course, env=_env(), check=True, capture_output=True)
    for i in range(n):
        case = "honest_correct" if i % 2 == 0 else "honest_wrong_he"
        dest = course / "submitted" / f"student{i:02d}" / "variance"
        dest.mkdir(parents=True)
        shutil.copy(EXAMPLE / "corpus" / f"{case}_variance.ipynb", dest / "variance.ipynb")
    return course


def notebook_compute(repeats: int = 5) -> tuple[float, float]:
    """The notebook's own cost: (fresh ``python -I`` running its cells, imports included;
    its cells alone in a process that already imported numpy, matplotlib and initkit)."""
    import json

    nb = json.loads((EXAMPLE / "corpus" / "honest_correct_variance.ipynb").read_text())
    src = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                    for c in nb["cells"] if c["cell_type"] == "code")
    cold = ("import matplotlib\nmatplotlib.use('Agg')\n" + src)
    warm = ("import time, matplotlib\nmatplotlib.use('Agg')\nimport numpy, matplotlib.pyplot"
            ", initkit\nt = time.perf_counter()\nexec(compile(" + repr(src) + ", 'nb', 'exec'))"
            "\nmatplotlib.pyplot.gcf().savefig('f.png', dpi=60)\n"
            "print(time.perf_counter() - t)")
    cold_t, warm_t = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-c", cold], cwd=tmp, check=True,
                           capture_output=True)
            cold_t.append(time.perf_counter() - start)
            out = subprocess.run([sys.executable, "-I", "-c", warm], cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout
            warm_t.append(float(out.split()[-1]))
    return statistics.median(cold_t), statistics.median(warm_t)


def ordinary_user_times(course: Path, n: int) -> tuple[float, float] | None:
    """``initkit grade --jobs 1`` as an ordinary user: (1 submission, ``n``), or None."""
    if os.geteuid() != 0:
        return None
    sys.path.insert(0, str(EXAMPLE))
    from unprivileged import ordinary_user

    try:
        who = ordinary_user()
    except BaseException as exc:  # noqa: BLE001 - pytest.skip: no such user here
        print(f"(no ordinary-user run: {exc})")
        return None
    work = who.workspace()
    try:
        shutil.copytree(course / "submitted", work / "submitted")
        shutil.copytree(course / "one", work / "one")
        shutil.copytree(EXAMPLE / "graders", work / "graders")
        who.give(work)
        times = []
        for subs in ("one", "submitted"):
            start = time.perf_counter()
            proc = who.run(["grade", subs, "--graders", "graders", "--no-progress", "--jobs",
                            "1", "--out", f"out-{subs}"], cwd=work)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                raise SystemExit(f"initkit grade as an ordinary user failed:\n"
                                 f"{proc.stderr[-3000:]}")
        return times[0], times[1]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Build the course, time both graders, print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="number of submissions [20]")
    parser.add_argument("--no-nbgrader", action="store_true",
                        help="skip nbgrader autograde (initkit's own numbers only)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        course = make_course(tmp, args.n)
        graders = str(EXAMPLE / "graders")
        initkit = [str(BIN / "initkit"), "grade", "--graders", graders, "--no-progress"]

        def grade(jobs: int, subs: str) -> float:
            return _timed([*initkit, subs, "--jobs", str(jobs), "--out",
                           str(tmp / f"out{jobs}")], course)

        one = course / "one"
        shutil.copytree(course / "submitted" / "student00", one / "student00")
        t_one = grade(1, str(one))
        t_j1 = grade(1, "submitted")
        t_jn = grade(cores, "submitted")
        user = ordinary_user_times(course, args.n)
        t_nbgrader = None if args.no_nbgrader else _timed(
            [str(BIN / "nbgrader"), "autograde", "variance", "--force"], course)
        t_cold, t_warm = notebook_compute()

    from initkit.grading.confine import confinement

    mode = confinement()[0]
    print(f"{args.n} submissions of the example exercise, {cores} cores (times in s)")
    print(f"{'grader':34s} {'total':>8s} {'per sub':>8s} {'vs nbgrader':>12s}")
    rows = [("nbgrader autograde", t_nbgrader), (f"initkit grade --jobs 1 ({mode})", t_j1),
            (f"initkit grade --jobs {cores} ({mode})", t_jn)]
    if user is not None:
        rows.append(("initkit grade --jobs 1 (user)", user[1]))
    for name, t in rows:
        if t is not None:
            ratio = f"{t_nbgrader / t:11.2f}x" if t_nbgrader else f"{'-':>12s}"
            print(f"{name:34s} {t:8.2f} {t / args.n:8.3f} {ratio}")
    print(f"notebook alone, fresh python -I      {t_cold:8.3f}   (imports included)")
    print(f"notebook's cells alone, warm process {t_warm:8.3f}   (imports done, + savefig)")
    print(f"{'':34s} {mode:>8s} {'user' if user else '':>8s}")
    both = [(t_one, t_j1)] + ([user] if user else [])
    marg = [(tn - t1) / (args.n - 1) for t1, tn in both]
    print(f"{'initkit grade, 1 submission':34s}" + "".join(f" {t1:8.2f}" for t1, _ in both)
          + "   (fixed start-up included)")
    print(f"{'marginal cost per submission':34s}" + "".join(f" {m:8.3f}" for m in marg))
    print(f"{'overhead beyond the cells':34s}" + "".join(f" {m - t_warm:8.3f}" for m in marg)
          + "   (target < 0.3)")
    from initkit.grading.sandbox import memory_limit_description

    print(memory_limit_description())
    if t_nbgrader:
        print(f"speed-up at --jobs 1: {t_nbgrader / t_j1:.2f}x   (target >= 3)")


if __name__ == "__main__":
    main()
