"""The delegation check decided in the trusted process from the notebook's source: calls into
the kit's forbidden implementations (through aliases, getattr, the registry, helpers, magic
cells) and copies of its code are flagged with their evidence, even when the student's
process blinds the runtime watch (a no-op ``sys.setprofile``); honest answers that use other
kit helpers, and the course's own solutions, are not."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from initkit.grading import Rng, protocol
from initkit.grading.delegation import find_delegation
from initkit.grading.sandbox import Sandbox
from initkit.grading.submission import Submission

ROOT = Path(__file__).resolve().parents[1]
KIT_XAVIER = ("initkit.builtin_initializers.xavier_normal",)
KIT_ORTHOGONAL = ("initkit.builtin_initializers.orthogonal",)
BLIND = "import sys\nimport numpy as np\nimport initkit\nsys.setprofile = lambda *a, **k: None"
DELEGATES = "def xavier_normal(shape, rng):\n    return initkit.get_initializer('xavier_normal')(shape, rng)"
HONEST = ("def xavier_normal(shape, rng):\n"
          "    fan_in, fan_out = initkit.fans.compute_fans(shape)\n"
          "    std = initkit.calculate_gain('linear') * np.sqrt(2.0 / (fan_in + fan_out))\n"
          "    return rng.normal(0.0, std, size=shape)")
SENTENCE = ("xavier_normal calls initkit.get_initializer('xavier_normal') on line 2 of code "
            "cell 2: the exercise is to write it; flagged for review")

GRADER = '''
import pytest
from initkit.grading import Rng, protocol

@pytest.mark.points(2)
def test_own_xavier(submission):
    """xavier_normal is the student's own code."""
    probe = submission.probe("xavier_normal", (40, 30), Rng(0),
                             forbid=["initkit.builtin_initializers.xavier_normal"])
    problem = probe.delegation_message("xavier_normal runs the kit's xavier_normal")
    assert problem is None, problem
'''


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, str(path))
    return path


def test_a_noop_setprofile_earns_nothing_and_the_message_gives_the_evidence(tmp_path):
    """The runtime watch is blinded by `sys.setprofile = lambda *a: None`, yet the grader's
    check fails with the trusted evidence sentence (the source reading decides)."""
    graders = tmp_path / "graders"
    graders.mkdir()
    (graders / "test_delegation.py").write_text(GRADER)
    nb = _notebook(tmp_path / "blind.ipynb", [BLIND, DELEGATES])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           str(graders), "--submission", str(nb)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 failed" in proc.stdout and SENTENCE in proc.stdout


def test_the_runtime_watch_is_blind_but_the_probe_is_not():
    """In the child the no-op profiler hides the kit's run; Probe.forbidden and
    Probe.flagged still carry the trusted finding, and the value is still returned."""
    def runtime_watch(sb: Sandbox) -> dict:
        args, blobs = protocol.encode([(4, 3), Rng(0)])
        return Submission(sb)._value(sb.request(
            {"op": "probe", "name": "xavier_normal", "args": args,
             "forbid": list(KIT_XAVIER)}, blobs))

    with Sandbox([BLIND.replace("sys.setprofile = ", "_ = "), DELEGATES]) as sb:
        sb.start()
        seeing = runtime_watch(sb)
    with Sandbox([BLIND, DELEGATES]) as sb:
        sb.start()
        blind = runtime_watch(sb)
        probe = Submission(sb).probe("xavier_normal", (4, 3), Rng(0), forbid=KIT_XAVIER)
    assert seeing["error"] is None and seeing["forbidden"] == list(KIT_XAVIER)
    assert blind["error"] is None and blind["forbidden"] == []  # the child says: nothing ran
    assert probe.forbidden == list(KIT_XAVIER) and probe.flagged == SENTENCE
    assert probe.value.shape == (4, 3) and probe.error is None


def test_an_honest_answer_using_other_kit_helpers_is_not_flagged():
    """initkit.fans.compute_fans and initkit.calculate_gain are allowed: nothing flagged,
    neither in the source nor at run time."""
    with Sandbox([BLIND.replace("sys.setprofile = lambda *a, **k: None", ""), HONEST]) as sb:
        sb.start()
        probe = Submission(sb).probe("xavier_normal", (4, 3), Rng(0), forbid=KIT_XAVIER)
    assert probe.forbidden == [] and probe.flagged is None
    assert probe.delegation_message("runs the kit") is None


CAUGHT = {
    "alias import": (
        ["from initkit.builtin_initializers import xavier_normal as glorot",
         "def xavier_normal(shape, rng):\n    return glorot(shape, rng)"],
        "xavier_normal calls glorot, which is the kit's "
        "initkit.builtin_initializers.xavier_normal, on line 2 of code cell 2"),
    "getattr with a constant": (
        ["import initkit as ik\nmod = ik.builtin_initializers",
         "def xavier_normal(shape, rng):\n    f = getattr(mod, 'xavier_' + 'normal')\n"
         "    return f(shape, rng)"],
        "xavier_normal uses getattr(mod, 'xavier_' + 'normal'), which is the kit's "
        "initkit.builtin_initializers.xavier_normal, on line 2 of code cell 2"),
    "registry dict and an alias name": (
        ["import initkit", "def xavier_normal(shape, rng):\n    \"\"\"Mine.\"\"\"\n"
         "    return initkit.initializers()['xavier_normal'](shape, rng)"],
        "xavier_normal calls initkit.initializers()['xavier_normal'] on line 3 of code cell 2"),
    "module alias, helper and a %%time cell": (
        ["import initkit\nkit = initkit\nreg = kit.registry",
         "def _draw(shape, rng):\n    return reg.get_initializer('glorot_normal')(shape, rng)",
         "%%time\ndef xavier_normal(shape, rng):\n    return _draw(shape, rng)"],
        "xavier_normal calls reg.get_initializer('glorot_normal'), which is the kit's "
        "initkit.builtin_initializers.xavier_normal, on line 2 of code cell 2 (in _draw, "
        "which xavier_normal calls)"),
    "eval of a constant and a line magic": (
        ["import initkit\n%time ok = 1",
         "def xavier_normal(shape, rng):\n    return eval(\"initkit.get_initializer("
         "'xavier_normal')\")(shape, rng)"],
        "xavier_normal runs eval(\"initkit.get_initializer('xavier_normal')\") on line 2 of "
        "code cell 2"),
    "star import": (
        ["from initkit import *",
         "def xavier_normal(shape, rng):\n    return get_initializer('xavier_normal')(shape, rng)"],
        "xavier_normal calls get_initializer('xavier_normal') "
        "(initkit.builtin_initializers.xavier_normal) on line 2 of code cell 2"),
}


@pytest.mark.parametrize("case", sorted(CAUGHT))
def test_aliases_getattr_registry_and_helpers_are_caught(case):
    """Each way of reaching the kit's xavier_normal is found, with its expression and line."""
    cells, evidence = CAUGHT[case]
    found = find_delegation(cells, "xavier_normal", KIT_XAVIER)
    assert found is not None and found.target == KIT_XAVIER[0]
    assert found.sentence() == f"{evidence}: the exercise is to write it; flagged for review"


def test_a_name_known_only_at_run_time_is_left_to_the_runtime_watch():
    """`initkit.get_initializer(name)` with a parameter is not resolved from the source."""
    cells = ["import initkit", "def xavier_normal(shape, rng, name='he_normal'):\n"
             "    return initkit.get_initializer(name)(shape, rng)"]
    assert find_delegation(cells, "xavier_normal", KIT_XAVIER) is None


def _pasted(kit_function, renames: dict[str, str], extra: str = "") -> str:
    """The kit's function as a student pastes it: docstring and comments gone, local names
    and the function's own name changed, maybe one line added."""
    src = textwrap.dedent(inspect.getsource(kit_function))
    tree = __import__("ast").parse(src)
    fdef = tree.body[0]
    fdef.body = fdef.body[1:]  # the docstring
    text = __import__("ast").unparse(tree)
    for old, new in renames.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text + (f"\n    {extra}" if extra else "")


def test_a_copy_of_the_kits_code_is_caught_exactly_and_nearly():
    """The kit's xavier_normal with every name changed is a copy; the kit's orthogonal with
    names changed and one line added is a near copy; both give the sentence."""
    from initkit import builtin_initializers as bi

    header = "import math\nimport numpy as np\nfrom initkit.fans import compute_fans\n" \
             "from initkit.builtin_initializers import _normal, as_shape"
    exact = _pasted(bi.xavier_normal, {"fan_in": "a", "fan_out": "b", "std": "s",
                                       "gain": "g"})
    found = find_delegation([header, exact], "xavier_normal", KIT_XAVIER)
    assert found is not None and found.how == f"is a copy of {KIT_XAVIER[0]}"
    assert found.sentence().startswith("xavier_normal is a copy of "
                                       "initkit.builtin_initializers.xavier_normal on line 1 "
                                       "of code cell 2")
    near = _pasted(bi.orthogonal, {"dims": "d", "rows": "m", "cols": "n", "flat": "a",
                                   "orthogonal": "my_orthogonal"},
                   extra="print('done')")
    found = find_delegation([header, near], "my_orthogonal", KIT_ORTHOGONAL)
    assert found is not None and found.how == f"is a copy of {KIT_ORTHOGONAL[0]}"


def _grader_constants(slug: str):
    path = next((ROOT / "graders" / slug).glob("test_*.py"))
    spec = importlib.util.spec_from_file_location(f"_constants_{slug}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answers(slug: str) -> list[str]:
    nb = json.loads((ROOT / "solutions" / f"{slug}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_course_solutions_are_never_flagged():
    """Every (function, forbidden implementations) pair the graders check is clean in the
    course's own solutions (ex02's `train`, which must use the kit's fit, is not such a
    pair)."""
    m1, m2, m3, m4 = (_grader_constants(s) for s in (
        "ex01_gradient_norms", "ex02_mnist_collapse", "ex03_orthogonal_rnn",
        "ex04_he_vs_xavier"))
    pairs = {
        "ex01_gradient_norms": [("weight_gradients", m1.KIT_BACKWARD),
                                ("gradient_norms", m1.KIT_BACKWARD),
                                ("xavier_normal", m1.KIT_XAVIER)],
        "ex02_mnist_collapse": [("count_distinct_units", m2.KIT_COUNT),
                                ("kit_draw", m2.KIT_CONSTANT)],
        "ex03_orthogonal_rnn": [("orthogonal", m3.KIT_ORTHOGONAL),
                                ("train_adding", m3.KIT_ORTHOGONAL)],
        "ex04_he_vs_xavier": [("compute_fans", m4.KIT_FANS),
                              ("he_normal", m4.KIT_HE + m4.KIT_FANS),
                              ("xavier_normal", m4.KIT_XAVIER + m4.KIT_FANS),
                              ("init_weights", m4.KIT_HE + m4.KIT_XAVIER),
                              ("train_curve", m4.KIT_HE + m4.KIT_XAVIER)],
    }
    flagged = {(slug, name): found.sentence() for slug, checks in pairs.items()
               for name, forbid in checks
               if (found := find_delegation(_answers(slug), name, forbid)) is not None}
    assert flagged == {}
    # the same reading does see the kit's fit in ex02's train (so it is not blind there)
    assert find_delegation(_answers("ex02_mnist_collapse"), "train", (m2.KIT_FIT,)) is not None


def test_ex01_graders_give_no_xavier_points_to_a_blinded_delegation(tmp_path):
    """ex01's own hidden graders, against its solution whose xavier_normal delegates to the
    kit after a no-op sys.setprofile: its three xavier_normal checks all fail."""
    nb = nbformat.read(str(ROOT / "solutions" / "ex01_gradient_norms.ipynb"), as_version=4)
    (cell,) = [c for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "xavier_normal"]
    cell.source = ("import sys\nimport initkit\nsys.setprofile = lambda *a, **k: None\n\n"
                   "def xavier_normal(shape, rng):\n"
                   "    return initkit.get_initializer('xavier_normal')(shape, rng)")
    path = tmp_path / "ex01_gradient_norms.ipynb"
    nbformat.write(nb, str(path))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-rfE", str(ROOT / "graders" / "ex01_gradient_norms"),
                           "--submission", str(path), "-k", "test_xavier_"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    summary = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 1 and "passed" not in summary, proc.stdout[-3000:]
    assert re.search(r"\b3 (failed|errors?)\b", summary), summary
