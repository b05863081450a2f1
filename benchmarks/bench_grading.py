"""Benchmark: ``initkit grade`` vs ``nbgrader autograde``, side by side in one run.

Two courses, each built in a temporary folder:

- the example exercise (default; ``--n`` submissions, half correct, half with a wrong
  ``he_std``, from ``tests/grading/``): ``initkit grade --jobs 1`` and ``--jobs <cores>``,
  ``nbgrader autograde``, and, run as root, ``initkit grade --jobs 1`` as an ordinary user (a
  spare uid, its interpreter made as the tests make it, ``tests/grading/unprivileged.py``),
  whose notebooks get the unprivileged user-namespace confinement;
- ``--course``: the real course, made as ``tests/test_course.py`` makes it
  (:func:`initkit.course.setup.init_course`, each exercise released by real nbgrader,
  ``submitted/`` holding ``--copies`` copies of each of the five reference solutions of
  ``solutions/`` filled into the release): ``nbgrader autograde`` of each exercise, and one
  ``initkit grade --nbgrader`` run over the whole course at ``--jobs 1`` and ``--jobs 2``.

Where a submission's time goes comes from the results themselves (``OUT/results/*.json``
keep a ``timing`` next to each result, :attr:`initkit.grading.results.SubmissionResult.timing`),
one submission at a time, which is steadier on a shared machine than a difference of two
totals:

- **cells**: the notebook's code cells alone, run in a warm process: forked from one that
  imported and warmed what the sandbox's template does
  (:func:`initkit.grading.zygote.preload_and_warm`), through the same notebook engine
  (IPython's shell, the inline backend: :func:`initkit.grading.child._notebook_runner`), no
  sandbox, no protocol; the best a grader can do for the cells;
- **checks**: the hidden checks' own compute: the pytest tests' wall time (setup, call and
  teardown of each, module fixtures such as the training reruns included) minus the
  sandbox's start (which runs inside the first test's setup) minus the round trips (each
  request's wall time minus the time the child says it spent answering);
- **overhead**: the rest of the grading task (``timing["task"]``: the task's temporary
  folder, loading and checking the notebook, the pytest session, the sandbox's start
  beyond its cells: fork from the template, namespaces, root, seccomp, cgroup, IPython's
  shell; the round trips; the sandbox's close), median over the submissions, with its
  parts; the limit a grader can approach is cells + checks.

For the example exercise it also prints the older end-to-end figure, the marginal cost of
one more submission, ``(T(n) - T(1)) / (n - 1)``, minus the warm cells. Targets: example
exercise, ratio >= 3 at ``--jobs 1`` and overhead < 0.3 s as root and as a user (issue 19);
real course, overhead <= 0.2 s per submission (issue 24). Nothing is asserted; the machine
may be shared (the load average is printed), so read the numbers as rough.

Run: ``.venv/bin/python benchmarks/bench_grading.py [--n 20] [--no-nbgrader]`` or
``.venv/bin/python benchmarks/bench_grading.py --course [--copies 2]``.
"""

from __future__ import annotations

import argparse
import json
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
COURSE_TOOLS = ROOT / "tests" / "course"
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


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


# ---------------------------------------------------------------------- where time goes


def stored_timings(out: Path, first: bool = False) -> list[tuple[str, str, dict]]:
    """``(student, exercise, timing)`` of the results stored under ``out``: those graded
    after their process's first (which also pays the process's start-up: the imports, the
    template), or, with ``first``, those first ones alone."""
    found = []
    for path in sorted((out / "results").glob("*.json")):
        data = json.loads(path.read_text())
        timing = data.get("timing", {})
        if data["result"]["status"] == "graded" and timing.get("task") \
                and (timing.get("earlier") == 0) == first:
            found.append((data["result"]["student"], data["result"]["exercise"], timing))
    return found


def parts(timing: dict) -> dict[str, float]:
    """One submission's time split into the checks' compute and the overhead's parts
    (see the module docstring), in seconds."""
    t = {k: float(v) for k, v in timing.items()}
    round_trips = max(0.0, t.get("request_seconds", 0.0) - t.get("child_seconds", 0.0))
    return {
        "task": t["task"],
        "cells in sandbox": t["cells"],
        "checks": t["tests"] - t["start"] - round_trips,
        "sandbox start": t["start"] - t["cells"],
        "round trips": round_trips,
        "requests": t.get("requests", 0.0),
        "close": t["close"],
        "pytest session": t["session"] - t["tests"] - t["close"],
        "load notebook": t["load"],
        "task rest": t["task"] - t["session"] - t["load"],
    }


def median_parts(timings: list[dict]) -> dict[str, float]:
    """The median of each part over submissions."""
    split = [parts(t) for t in timings]
    return {key: statistics.median(p[key] for p in split) for key in split[0]}


#: Run by :func:`cells_in_warm_process` in a fresh ``python -I`` with the template's
#: environment: warm up as the template does, then per repeat fork, run the cells through
#: the sandbox's notebook engine in a copy of the folder, print the seconds.
WARM_CELLS = """
import json, os, shutil, sys, tempfile, time
from initkit.grading import child, zygote
cells, folder, repeats = json.loads(sys.argv[1])
zygote.preload_and_warm()
for _ in range(repeats):
    run_dir = tempfile.mkdtemp(dir=folder)
    for name in os.listdir(folder):
        if os.path.isfile(os.path.join(folder, name)):
            shutil.copy(os.path.join(folder, name), run_dir)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            os.chdir(run_dir)
            os.environ["HOME"] = run_dir
            sys.stdout = sys.stderr = open(os.devnull, "w")
            run_cell, _ = child._notebook_runner()
            start = time.perf_counter()
            for index, src in enumerate(cells):
                try:
                    run_cell(src, index)
                except BaseException:
                    pass
            os.write(write, repr(time.perf_counter() - start).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as fh:
        print(fh.read(), flush=True)
    os.waitpid(pid, 0)
    shutil.rmtree(run_dir, ignore_errors=True)
"""


def cells_in_warm_process(cells: list[str], folder: Path, repeats: int = 3) -> float:
    """Median wall time of ``cells`` run through the sandbox's notebook engine in a process
    made as the template is (a ``python -I`` with its environment, one BLAS thread, warmed
    and frozen by :func:`initkit.grading.zygote.preload_and_warm`, then forked), with no
    sandbox and no protocol, in a copy of ``folder``."""
    from initkit.grading.lifecycle import seed_matplotlib_cache, template_env

    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        seed_matplotlib_cache(Path(home) / "matplotlib")
        env = {**template_env(), "INITKIT_MPL_SEED": "", "HOME": home,
               "MPLCONFIGDIR": str(Path(home) / "matplotlib")}
        proc = subprocess.run([sys.executable, "-I", "-c", WARM_CELLS,
                               json.dumps([cells, str(folder), repeats])],
                              env=env, capture_output=True, text=True)
    times = [float(line) for line in proc.stdout.split() if line.strip()]
    if proc.returncode != 0 or not times:
        raise SystemExit(f"timing the cells in a warm process failed:\n{proc.stderr[-3000:]}")
    return statistics.median(times)


def code_cells(notebook: Path, grader_dir: Path, course: Path | None) -> list[str]:
    """The code cells the sandbox runs for ``notebook`` (locked cells restored)."""
    from initkit.grading.discover import Job
    from initkit.grading.results import SubmissionResult
    from initkit.grading.validate import structure_checked

    job = Job(path=notebook, student="bench", exercise=grader_dir.name)
    result = SubmissionResult(student="bench", exercise=grader_dir.name, path=str(notebook),
                              status="graded")
    nb = structure_checked(job, grader_dir, str(course) if course else None, result)
    if nb is None:
        raise SystemExit(f"{notebook}: {result.reason}")
    return nb.code_cells()


def warm_cells_for(notebook: Path, grader_dir: Path, course: Path | None) -> float:
    """The cells of ``notebook`` in a warm process, in a folder holding the exercise data."""
    with tempfile.TemporaryDirectory(prefix="bench-cells-") as tmp:
        data = grader_dir / "data"
        if data.is_dir():
            for item in data.iterdir():
                if item.is_file():
                    shutil.copy(item, tmp)
        return cells_in_warm_process(code_cells(notebook, grader_dir, course), Path(tmp))


def overhead_of(timing: dict) -> float:
    """One submission's overhead: its task's time beyond its cells and its checks."""
    p = parts(timing)
    return p["task"] - p["cells in sandbox"] - p["checks"]


def print_breakdown(label: str, timings: list[dict]) -> None:
    """The median of each part of the per-submission time and of the overhead itself."""
    m = median_parts(timings)
    overhead = statistics.median(overhead_of(t) for t in timings)
    print(f"  {label}: per submission {m['task']:.3f}, cells {m['cells in sandbox']:.3f}, "
          f"checks {m['checks']:.3f}, overhead {overhead:.3f}  ({len(timings)} submissions, "
          "medians)")
    print("    overhead parts: " + ", ".join(
        f"{k} {m[k]:.3f}" for k in ("sandbox start", "round trips", "close", "pytest session",
                                    "load notebook", "task rest"))
          + f"  ({m['requests']:.0f} requests)")


# ---------------------------------------------------------------------- the example


def make_example_course(tmp: Path, n: int) -> Path:
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


def ordinary_user_run(course: Path) -> tuple[float, float, list[dict]] | None:
    """``initkit grade --jobs 1`` as an ordinary user: (1 submission, all, their timings),
    or None when not root or no spare user."""
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
        return times[0], times[1], [t for *_, t in stored_timings(work / "out-submitted")]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def example(args: argparse.Namespace) -> None:
    """The example exercise: totals, ratios, the per-submission breakdown, both modes."""
    from initkit.grading.confine import confinement
    from initkit.grading.sandbox import memory_limit_description

    cores = os.cpu_count() or 1
    print(f"started with {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        course = make_example_course(tmp, args.n)
        graders = EXAMPLE / "graders"
        initkit = [str(BIN / "initkit"), "grade", "--graders", str(graders), "--no-progress"]

        def grade(jobs: int, subs: str, out: str) -> float:
            return _timed([*initkit, subs, "--jobs", str(jobs), "--out", str(tmp / out)],
                          course)

        one = course / "one"
        shutil.copytree(course / "submitted" / "student00", one / "student00")
        t_one = grade(1, str(one), "out-one")
        t_j1 = grade(1, "submitted", "out1")
        t_jn = grade(cores, "submitted", "outn")
        timings = [t for *_, t in stored_timings(tmp / "out1")]
        user = ordinary_user_run(course)
        t_nbgrader = None if args.no_nbgrader else _timed(
            [str(BIN / "nbgrader"), "autograde", "variance", "--force"], course)
        notebook = EXAMPLE / "corpus" / "honest_correct_variance.ipynb"
        t_warm = warm_cells_for(notebook, graders / "variance", None)

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
    print(f"notebook's cells alone, warm process {t_warm:8.3f}")
    print("where a submission's time goes (median over the submissions of one run):")
    print_breakdown(f"{mode}", timings)
    if user is not None:
        print_breakdown("user", user[2])
    print(f"{'':34s} {mode:>8s} {'user' if user else '':>8s}")
    both = [(t_one, t_j1)] + ([user[:2]] if user else [])
    marg = [(tn - t1) / (args.n - 1) for t1, tn in both]
    print(f"{'initkit grade, 1 submission':34s}" + "".join(f" {t1:8.2f}" for t1, _ in both)
          + "   (fixed start-up included)")
    print(f"{'marginal cost per submission':34s}" + "".join(f" {m:8.3f}" for m in marg))
    print(f"{'marginal minus the warm cells':34s}" + "".join(f" {m - t_warm:8.3f}"
                                                         for m in marg)
          + "   (target < 0.3; checks included)")
    print(memory_limit_description())
    if t_nbgrader:
        print(f"speed-up at --jobs 1: {t_nbgrader / t_j1:.2f}x   (target >= 3)")
    print(f"finished with {_load()}")


# ---------------------------------------------------------------------- the real course


def make_real_course(tmp: Path, copies: int) -> tuple[Path, list[str]]:
    """The course as ``tests/test_course.py`` makes it, ``copies`` reference submissions of
    each exercise in ``submitted/``; returns the course and its exercises."""
    import nbformat

    sys.path.insert(0, str(COURSE_TOOLS))
    import course_tools as ct

    from initkit.course.setup import init_course, release_notebook

    course = tmp / "course"
    slugs = init_course(course, ROOT)
    for slug in slugs:
        release = ct.read(release_notebook(course, slug))
        answers = ct.source_answers(ct.read(ROOT / "solutions" / f"{slug}.ipynb"))
        for i in range(copies):
            dest = course / "submitted" / f"student{i:02d}" / slug
            dest.mkdir(parents=True)
            nbformat.write(ct.fill(release, answers), str(dest / f"{slug}.ipynb"))
    return course, slugs


def real_course(args: argparse.Namespace) -> None:
    """The five exercises: per exercise the limit next to the measurement, and the ratios."""
    from initkit.grading.confine import confinement

    copies = args.copies
    print(f"started with {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench-course-") as tmp:
        tmp = Path(tmp)
        course, slugs = make_real_course(tmp, copies)
        graders = course / "graders"
        n = copies * len(slugs)
        initkit = [str(BIN / "initkit"), "grade", "--nbgrader", str(course), "--graders",
                   str(graders), "--no-progress"]
        t_init = {jobs: _timed([*initkit, "--jobs", str(jobs), "--out",
                                str(tmp / f"out{jobs}")], course) for jobs in (1, 2)}
        per_ex = {slug: [t for _, ex, t in stored_timings(tmp / "out1") if ex == slug]
                  for slug in slugs}
        firsts = stored_timings(tmp / "out1", first=True)
        t_nb = {slug: _timed([str(BIN / "nbgrader"), "autograde", slug, "--force"], course)
                for slug in slugs}
        warm = {slug: warm_cells_for(course / "submitted" / "student00" / slug
                                     / f"{slug}.ipynb", graders / slug, course)
                for slug in slugs}

    mode = confinement()[0]
    print(f"the real course: {len(slugs)} exercises x {copies} reference submissions, "
          f"{os.cpu_count()} cores, {mode} (seconds per submission; initkit at --jobs 1, "
          "median of its submissions)")
    head = (f"{'exercise':22s} {'nbgrader':>9s} {'initkit':>8s} {'cells':>7s} {'checks':>7s}"
            f" {'limit':>7s} {'overhead':>9s} {'x limit':>8s} {'vs nbgr':>8s}")
    print(head)
    for slug in slugs:
        m = median_parts(per_ex[slug])
        limit = warm[slug] + m["checks"]
        overhead = m["task"] - warm[slug] - m["checks"]
        print(f"{slug:22s} {t_nb[slug] / copies:9.2f} {m['task']:8.2f} {warm[slug]:7.2f} "
              f"{m['checks']:7.2f} {limit:7.2f} {overhead:9.3f} {m['task'] / limit:8.2f} "
              f"{t_nb[slug] / copies / m['task']:7.1f}x")
    print("  cells: the cells alone in a warm process; checks: the hidden checks' compute; "
          "limit = cells + checks;\n  overhead = initkit - limit (the cells' own cost in the "
          "sandbox minus in the warm process included)")
    print("where each submission's overhead goes (median over its submissions):")
    for slug in slugs:
        print_breakdown(slug, per_ex[slug])
    all_timings = [t for ts in per_ex.values() for t in ts]
    print_breakdown("all exercises", all_timings)
    for _, ex, timing in firsts:
        print(f"  (left out above: the run's first submission, {ex}, whose overhead "
              f"{overhead_of(timing):.2f} s includes the run's start-up: imports, the "
              "template)")
    total_nb = sum(t_nb.values())
    print(f"{'whole course':34s} {'total':>8s} {'per sub':>8s} {'vs nbgrader':>12s}")
    print(f"{'nbgrader autograde (5 runs)':34s} {total_nb:8.2f} {total_nb / n:8.3f}")
    for jobs, t in t_init.items():
        print(f"{f'initkit grade --jobs {jobs}':34s} {t:8.2f} {t / n:8.3f} "
              f"{total_nb / t:11.2f}x")
    limit_total = sum(warm[s] + median_parts(per_ex[s])["checks"] for s in slugs) * copies
    print(f"{'limit (cells + checks, one core)':34s} {limit_total:8.2f} "
          f"{limit_total / n:8.3f} {total_nb / limit_total:11.2f}x")
    print(f"initkit --jobs 1 is {t_init[1] / limit_total:.2f}x the one-core limit (fixed "
          f"start-up included), --jobs 2 {t_init[2] / (limit_total / 2):.2f}x the two-core "
          "limit")
    print(f"finished with {_load()}")


def main() -> None:
    """Build the course, time the graders, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20,
                        help="example exercise: number of submissions [20]")
    parser.add_argument("--no-nbgrader", action="store_true",
                        help="example exercise: skip nbgrader autograde")
    parser.add_argument("--course", action="store_true",
                        help="the real course (the five exercises) instead of the example")
    parser.add_argument("--copies", type=int, default=2,
                        help="real course: submissions per exercise [2]")
    args = parser.parse_args()
    if args.course:
        real_course(args)
    else:
        example(args)


if __name__ == "__main__":
    main()
