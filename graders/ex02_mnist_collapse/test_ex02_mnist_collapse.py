"""Hidden graders of ex02_mnist_collapse (instructors only: never in exercises/ or the wheel).

Every check reaches the notebook through the ``submission`` fixture (data only) and draws
fresh inputs from ``grade_seed``: the crafted matrices of ``count_distinct_units`` and the
seeds the student's ``train`` is rerun with, inside the grading sandbox. A run is believed
only when its numbers follow from what it returns: the grader recounts the hidden units of
the returned weights and recomputes the test accuracy from the returned weights and biases
on the same test split, so curves printed or stored without training earn nothing.

The contract is the notebook's: ``train(init, seed, hack=None)`` builds
``nn.MLP([784, 128, 10], activation="relu", init=init, seed=seed, dtype=float64)``, trains it
with ``fit(..., epochs=3, batch_size=64, lr=0.1, momentum=0.9, seed=seed)`` (a hack changes
one setting) and returns ``loss``, ``test_accuracy``, ``n_distinct``, ``weights``, ``biases``.

Numbers the verdicts rest on, measured with the reference over 100 seeds (0-49, 1000-1049;
a constant run's seed only shuffles the batches): the constant net always ends with exactly 1
distinct hidden unit (float64 keeps equal rows bit-identical), also with each of the four
hacks; its test accuracy is 0.10-0.29 (0.10-0.30 with a hack): a single ReLU unit feeding 10
logits, against the majority-class rate 0.10 of the stratified test split (100 images per
digit). He's final test accuracy is 0.900-0.945 (mean 0.929, sd 0.008), always with 128
distinct units; a tiny perturbation or dropout always gives 128 distinct units.
"""

from __future__ import annotations

import numpy as np
import pytest

from initkit.grading import Rng, expect

WIDTHS = [784, 128, 10]
EPOCHS, STEPS_PER_EPOCH = 3, 63
ATOL = 1e-6
CONSTANT, PLUGIN, VALUE = "ex02_constant", "ex02-plugin", 0.01
HACKS = ("adam", "large_lr", "more_epochs", "batch_norm")
#: the majority-class rate of the test split (100 of each digit) and what a collapsed net
#: may reach above it: measured at most 0.30 over 100 seeds
MAJORITY, CONSTANT_MAX = 0.10, 0.40
HE_MIN = 0.90
KIT_COUNT = ("initkit.nn.observe.unit_symmetry", "initkit.nn.observe._count_distinct",
             "initkit.nn.observe.symmetry")
KIT_CONSTANT = ("initkit.builtin_initializers.constant",)
KIT_FIT = "initkit.train.fit"


def reference_count(w: np.ndarray, atol: float) -> int:
    """The notebook's greedy count, written out once more."""
    remaining = np.arange(len(w))
    count = 0
    while remaining.size:
        same = np.isclose(w[remaining], w[remaining[0]], rtol=0, atol=atol,
                          equal_nan=True).all(axis=1)
        remaining = remaining[~same]
        count += 1
    return count


# ----------------------------------------------------------------------------- count


def _count(submission, w: np.ndarray, atol: float, what: str) -> int:
    probe = submission.probe("count_distinct_units", w, atol, forbid=KIT_COUNT)
    if probe.error:
        raise AssertionError(f"count_distinct_units({what}) raised {probe.error}")
    if probe.forbidden:
        raise AssertionError(probe.flagged or "count_distinct_units calls the kit's own "
                             f"symmetry count ({probe.forbidden[0]}): write the comparison "
                             "yourself")
    value = probe.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return expect(value, int, what=f"count_distinct_units({what})")


def _groups(rng: np.random.Generator, k: int, copies: int, d: int, scale: float = 1.0):
    """k well separated prototype rows, each repeated ``copies`` times, rows shuffled."""
    protos = rng.normal(scale=scale, size=(k, d))
    rows = np.repeat(protos, copies, axis=0)
    return rows[rng.permutation(len(rows))]


@pytest.mark.points(1, grade_id="test_count_distinct_units")
def test_count_exact_duplicates_and_permutations(submission, grade_seed):
    """Exact duplicates count once, in any row order; all-distinct rows and one row count right."""
    rng = np.random.default_rng(grade_seed)
    for k, copies, d in [(3, 4, 5), (1, 7, 3), (6, 1, 4), (5, 3, 10)]:
        w = _groups(rng, k, copies, d)
        got = _count(submission, w, ATOL, f"{k} distinct rows, each {copies} times")
        assert got == k, f"a ({len(w)}, {d}) matrix of {k} distinct rows repeated {copies} " \
                         f"times (shuffled) has {k} units; count_distinct_units says {got}"
        again = _count(submission, w[rng.permutation(len(w))], ATOL, "the rows permuted")
        assert again == got, "permuting the rows changed count_distinct_units' answer " \
                             f"({got} -> {again}); the count must not depend on row order"
    one = rng.normal(size=(1, 9))
    assert _count(submission, one, ATOL, "one row") == 1, "a single row is 1 unit"
    w = rng.normal(size=(4, 6))
    shuffled = np.vstack([w, np.roll(w, 1, axis=1)])  # same entries, other order: distinct
    got = _count(submission, shuffled, ATOL, "rows with the same entries in another order")
    assert got == 8, "rows holding the same numbers in a different order are different " \
                     f"units (8 here); count_distinct_units says {got} - did you compare " \
                     "sorted rows, norms or sums instead of the rows entry by entry?"


@pytest.mark.points(1, grade_id="test_count_distinct_units")
def test_count_within_atol(submission, grade_seed):
    """Rows within atol of each other (float noise) are one unit; the given atol is used."""
    rng = np.random.default_rng(grade_seed + 1)
    for atol in (1e-6, 1e-3):
        base = _groups(rng, 4, 5, 8)
        noisy = base + rng.uniform(-atol / 4, atol / 4, size=base.shape)
        got = _count(submission, noisy, atol, f"4 groups with noise below atol={atol:g}")
        hint = " - did you compare exactly (np.unique or ==) instead of within atol?" \
            if got == len(noisy) else ""
        assert got == 4, f"rows that differ by less than atol={atol:g} are one unit: 4 units " \
                         f"here, count_distinct_units says {got}{hint}"
        row = rng.uniform(-atol, atol, size=(1, 8))  # small: no relative tolerance helps
        apart = np.vstack([row, row + 4 * atol])
        got = _count(submission, apart, atol, f"two rows 4*atol apart (atol={atol:g})")
        assert got == 2, f"two rows that differ by 4*atol (atol={atol:g}) are 2 units; " \
                         f"count_distinct_units says {got} - did you use the atol argument?"
    # every entry large, so that a relative tolerance (1e-5 * |w| > 1e-3) hides the gap
    big = rng.choice([-1.0, 1.0], size=(3, 5)) * rng.uniform(500.0, 2000.0, size=(3, 5))
    pair = np.vstack([big, big + 1e-3])
    got = _count(submission, pair, 1e-6, "large weights 1e-3 apart, atol=1e-6")
    assert got == 6, "rows of large weights that differ by 1e-3 are different units at " \
                     f"atol=1e-6 (6 here); count_distinct_units says {got} - did you leave a " \
                     "relative tolerance on (np.allclose's default rtol)? Use rtol=0"


@pytest.mark.points(1, grade_id="test_count_distinct_units")
def test_count_nan_rows(submission, grade_seed):
    """NaN equals NaN in the same place (a diverged unit still equals its copies)."""
    rng = np.random.default_rng(grade_seed + 2)
    w = _groups(rng, 3, 3, 6)
    w[np.all(w == w[0], axis=1), 2] = np.nan  # one group has a NaN in column 2
    got = _count(submission, w, ATOL, "rows with NaN in the same place")
    assert got == 3, "rows equal except for a NaN in the same place are one unit (NaN counts " \
                     f"as equal to NaN): 3 units here, count_distinct_units says {got}"
    nans = np.full((4, 5), np.nan)
    nans[1, 0] = 0.0  # NaN where the others have 0: a different unit
    got = _count(submission, nans, ATOL, "all-NaN rows and one row with a number")
    assert got == 2, "three all-NaN rows are one unit and a row with a number where they have " \
                     f"NaN is another: 2 units, count_distinct_units says {got}"
    infs = np.vstack([np.full((2, 3), np.inf), np.full((1, 3), -np.inf)])
    got = _count(submission, infs, ATOL, "rows of +inf and of -inf")
    assert got == 2, "two rows of +inf are one unit and a row of -inf another (2 units); " \
                     f"count_distinct_units says {got}"


# ----------------------------------------------------------------------------- plugin


def _draw(submission, shape, seed, **params) -> np.ndarray:
    probe = submission.probe("kit_draw", CONSTANT, shape, Rng(seed), forbid=KIT_CONSTANT,
                             **params)
    if probe.error:
        raise AssertionError(f"drawing {CONSTANT!r} from the registry with shape {shape} and "
                             f"{params or 'no parameters'} raised {probe.error}")
    if probe.forbidden:
        raise AssertionError(probe.flagged or f"{CONSTANT!r} runs the kit's own constant "
                             "initializer: write constant_init yourself; no points for "
                             "delegating")
    return expect(probe.value, shape=shape, what=f"kit_draw({CONSTANT!r}, {shape}, rng)")


@pytest.mark.points(1, grade_id="test_plugin")
def test_plugin_registered_by_name(submission):
    """The plugin is registered under PLUGIN and its initializer under CONSTANT."""
    plugin = submission.call("kit_plugin_of", CONSTANT)
    assert plugin == PLUGIN, f"{CONSTANT!r} is registered by plugin {plugin!r}; register your " \
                             "ConstantPlugin() with initkit.register_plugin(..., name=PLUGIN)"


@pytest.mark.points(1, grade_id="test_plugin")
def test_plugin_is_exactly_constant(submission, grade_seed):
    """The registered initializer fills any shape with exactly `value`, in the dtype asked."""
    rng = np.random.default_rng(grade_seed + 3)
    cases = [((7, 5), {}), ((3, 4, 2), {"value": float(rng.uniform(-2, 2))}),
             ((1, 9), {"value": 0.0}), ((64, 784), {"value": float(rng.uniform(0, 1))}),
             ((6, 3), {"value": 0.25, "dtype": "float32"})]
    for i, (shape, params) in enumerate(cases):
        w = _draw(submission, shape, grade_seed + i, **params)
        value = params.get("value", VALUE)
        if not params and np.all(w == w.flat[0]) and w.flat[0] != VALUE:
            raise AssertionError(f"with no value given {CONSTANT!r} should fill with VALUE = "
                                 f"{VALUE}; it gave {w.flat[0]:g}")
        assert np.all(w == np.asarray(value, dtype=w.dtype)), \
            f"{CONSTANT!r} with {params or 'no parameters'} should be all {value:g} exactly; " \
            f"its entries range from {w.min():g} to {w.max():g}" + \
            (" - did you ignore the value argument?" if np.all(w == VALUE) else "")
        want_dtype = params.get("dtype", "float64")
        assert w.dtype == np.dtype(want_dtype), \
            f"{CONSTANT!r} with dtype={want_dtype} returned {w.dtype}: pass dtype to np.full"


# ----------------------------------------------------------------------------- train


class Run:
    """One ``train`` call of the student's, validated against the contract."""

    def __init__(self, submission, init: str, seed: int, hack: str | None = None,
                 spy: tuple[str, ...] = ()):
        what = f"train({init!r}, {seed}" + (f", hack={hack!r})" if hack else ")")
        self.what = what
        probe = submission.probe("train", init, seed, hack=hack, spy=list(spy),
                                 watch=[KIT_FIT], finite=False)
        if probe.error:
            raise AssertionError(f"{what} raised {probe.error}")
        self.fit_ran = KIT_FIT in probe.ran
        self.calls = probe.calls
        out = probe.value
        if not isinstance(out, dict):
            raise AssertionError(f"{what} should return a dict, got {type(out).__name__}")
        missing = [k for k in ("loss", "test_accuracy", "n_distinct", "weights", "biases")
                   if k not in out]
        if missing:
            raise AssertionError(f"{what} returned no {missing[0]!r}: see the table in "
                                 "section 3")
        self.loss = np.asarray(out["loss"], dtype=float).ravel()
        self.test_accuracy = np.asarray(out["test_accuracy"], dtype=float).ravel()
        self.n_distinct = [int(v) for v in np.asarray(out["n_distinct"]).ravel()]
        self.weights = [np.asarray(w) for w in _as_list(out["weights"], what, "weights")]
        self.biases = [np.asarray(b) for b in _as_list(out["biases"], what, "biases")]
        shapes = [(n_out, n_in) for n_in, n_out in zip(WIDTHS[:-1], WIDTHS[1:], strict=True)]
        if [w.shape for w in self.weights] != shapes:
            raise AssertionError(f"{what}['weights'] has shapes "
                                 f"{[w.shape for w in self.weights]}; the Dense layers' W "
                                 f"are {shapes} (input side first)")
        if [b.shape for b in self.biases] != [(n,) for n in WIDTHS[1:]]:
            raise AssertionError(f"{what}['biases'] should be the Dense layers' b, of shapes "
                                 f"{[(n,) for n in WIDTHS[1:]]}")
        if len(self.n_distinct) != len(WIDTHS) - 2:
            raise AssertionError(f"{what}['n_distinct'] should have one count per hidden "
                                 f"layer ({len(WIDTHS) - 2}), got {len(self.n_distinct)}")

    def require_float64(self) -> None:
        dtypes = sorted({str(w.dtype) for w in self.weights})
        assert dtypes == ["float64"], \
            f"{self.what} trained in {', '.join(dtypes)}; the notebook trains in DTYPE = " \
            "float64 (nn.MLP(..., dtype=DTYPE)): float32 round-off breaks the symmetry"

    def require_trained(self, epochs: int = EPOCHS) -> None:
        assert self.fit_ran, f"{self.what} did not run initkit.train.fit: train the model " \
                             "with the kit's fit, as section 3 says"
        steps = epochs * STEPS_PER_EPOCH
        assert self.loss.size == steps and self.test_accuracy.size == epochs, \
            f"{self.what} returned {self.loss.size} step losses and " \
            f"{self.test_accuracy.size} test accuracies; {epochs} epochs give {steps} and " \
            f"{epochs}"

    def recount(self) -> list[int]:
        """The distinct hidden units of the returned weights, counted here."""
        return [reference_count(w.astype(float), ATOL) for w in self.weights[:-1]]

    def recomputed_accuracy(self, data) -> float:
        """Test accuracy of the returned weights and biases (plain MLP, ReLU), computed here."""
        h = data.x_test.astype(np.float64)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.astype(np.float64).T + b.astype(np.float64)
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return float(np.mean(h.argmax(axis=1) == data.y_test))

    def require_consistent(self, data) -> None:
        """The reported counts and accuracy are those of the returned, trained model."""
        assert self.n_distinct == self.recount(), \
            f"{self.what} reports {self.n_distinct} distinct hidden units but its returned " \
            f"weights have {self.recount()} (count_distinct_units(W, ATOL) of each hidden W)"
        acc = self.recomputed_accuracy(data)
        assert abs(acc - self.test_accuracy[-1]) <= 2.5e-3, \
            f"{self.what} reports a final test accuracy of {self.test_accuracy[-1]:.3f}, but " \
            f"its returned weights and biases classify {acc:.3f} of the test set: return " \
            "history.test_accuracy and the trained model's weights"


def _as_list(value, what: str, key: str) -> list:
    if isinstance(value, list | tuple):
        return list(value)
    raise AssertionError(f"{what}[{key!r}] should be a list of arrays, one per Dense layer")


@pytest.fixture(scope="module")
def data():
    """The notebook's test split, loaded here (the trusted side)."""
    import initkit

    return initkit.data.load_mnist(source="subset", seed=0)


@pytest.fixture(scope="module")
def constant_run(submission, grade_seed):
    """The student's constant run at the hidden seed (the student's constant_init watched)."""
    return Run(submission, CONSTANT, grade_seed, spy=("constant_init",))


@pytest.fixture(scope="module")
def he_run(submission, grade_seed):
    """The student's He run at the hidden seed."""
    return Run(submission, "he", grade_seed)


@pytest.fixture(scope="module")
def he_run_next(submission, grade_seed):
    """The student's He run at the next seed."""
    return Run(submission, "he", grade_seed + 1)


@pytest.mark.points(1, grade_id="test_train")
def test_train_follows_the_contract(submission, constant_run):
    """train runs the kit's fit on the constant plugin and returns what section 3 asks."""
    constant_run.require_trained()
    assert constant_run.calls.get("constant_init", 0) > 0, \
        f"train({CONSTANT!r}, seed) never called your constant_init: build the MLP with " \
        "init=init, the registry name it is given (not the kit's 'constant')"
    constant_run.require_float64()
    assert np.all(np.isfinite(constant_run.loss)), "the constant run's loss is not finite"


@pytest.mark.points(2, grade_id="test_train")
def test_constant_net_collapses(constant_run, data):
    """At a hidden seed the constant net keeps 1 distinct hidden unit and stays near chance."""
    run = constant_run
    run.require_trained()
    run.require_float64()
    run.require_consistent(data)
    assert run.n_distinct == [1] * (len(WIDTHS) - 2), \
        f"the constant net ended with {run.n_distinct} distinct hidden units; equal units " \
        "stay equal under SGD, so it should be 1 per hidden layer"
    acc = run.test_accuracy[-1]
    assert acc <= CONSTANT_MAX, \
        f"the constant net reached test accuracy {acc:.3f}; one unit copied 128 times stays " \
        f"near the majority-class rate {MAJORITY:.2f} (below {CONSTANT_MAX}) - is every " \
        "weight matrix drawn from your constant initializer?"


@pytest.mark.points(1, grade_id="test_train")
def test_he_net_learns(he_run, he_run_next, data):
    """At hidden seeds the He net has 128 distinct units and reaches >= 0.90 test accuracy."""
    for run in (he_run, he_run_next):
        run.require_trained()
        run.require_consistent(data)
        assert run.n_distinct == WIDTHS[1:-1], \
            f"the He net has {run.n_distinct} distinct hidden units; random rows are all " \
            f"distinct ({WIDTHS[1:-1]})"
    # the reference's final accuracy over 2,000 random seeds: mean 0.929, sd 0.008, two runs
    # below 0.90 (0.878, 0.896): the verdict is the better of two seeds, so a correct answer
    # fails only if both are that unlucky, about once in a million gradings
    acc = max(he_run.test_accuracy[-1], he_run_next.test_accuracy[-1])
    assert acc >= HE_MIN, f"the He net reached test accuracy {acc:.3f} after {EPOCHS} " \
                          f"epochs (the better of two seeds); with the notebook's settings it " \
                          f"reaches >= {HE_MIN}"


@pytest.mark.points(1, grade_id="test_train")
def test_seed_changes_the_run(he_run, he_run_next):
    """train uses its seed: another seed gives another He run (weights and loss curve)."""
    assert not np.array_equal(he_run_next.loss, he_run.loss), \
        "train('he', seed) gave the same loss curve for two seeds: pass seed to nn.MLP and fit"
    assert not np.array_equal(he_run_next.weights[0], he_run.weights[0]), \
        "train('he', seed) gave the same weights for two seeds: pass seed=seed to nn.MLP"


# ----------------------------------------------------------------------------- figure


@pytest.mark.points(2, grade_id="test_figure")
def test_figure(submission):
    """fig has the 'he' and 'constant' loss curves of train(..., SEED), per step."""
    fig = submission.figure("fig")
    assert fig.axes, "fig has no axes: plot into `fig, ax = plt.subplots()`"
    lines = {line.label.strip().lower(): line for ax in fig.axes for line in ax.lines
             if line.kind == "line"}
    missing = [name for name in ("he", "constant") if name not in lines]
    assert not missing, f"fig has no line labelled {missing[0]!r} (labels found: " \
                        f"{sorted(lines)}); label each curve with ax.plot(..., label=...)"
    finals = {}
    for name, init in (("he", "he"), ("constant", CONSTANT)):
        run = Run(submission, init, 0)
        run.require_trained()
        want = run.loss
        line = lines[name]
        assert line.y.size == want.size, \
            f"the {name!r} curve has {line.y.size} points; train's loss has {want.size}"
        assert np.array_equal(line.x, np.arange(1, want.size + 1)), \
            f"the {name!r} curve's x values should be the steps 1, 2, ..., {want.size}"
        assert np.allclose(line.y, want, rtol=1e-9, atol=1e-12), \
            f"the {name!r} curve is not train({init!r}, SEED)['loss']"
        finals[name] = float(np.mean(want[-STEPS_PER_EPOCH:]))
    assert finals["he"] < finals["constant"], \
        "the He curve should end below the constant one"


# ----------------------------------------------------------------------------- hack

#: hack -> the kit code its run must execute (None: checked another way)
HACK_CODE = {"adam": "initkit.nn.optim.Adam.step", "batch_norm": "initkit.nn.layers.Norm.forward",
             "large_lr": None, "more_epochs": None}


@pytest.mark.points(2, grade_id="test_hack")
def test_hack_keeps_the_symmetry(submission, grade_seed):
    """The chosen hack really runs, and the constant net still has 1 distinct hidden unit."""
    hack = submission.get("MY_HACK")
    assert hack in HACKS, f"MY_HACK is {hack!r}; choose one of {HACKS}"
    code = HACK_CODE[hack]
    what = f"train({CONSTANT!r}, seed, hack={hack!r})"
    probe = submission.probe("train", CONSTANT, grade_seed, hack=hack, finite=False,
                             watch=[KIT_FIT] + ([code] if code else []))
    if probe.error:
        raise AssertionError(f"{what} raised {probe.error}")
    out = probe.value if isinstance(probe.value, dict) else {}
    loss = np.asarray(out.get("loss", []), dtype=float).ravel()
    weights = out.get("weights") if isinstance(out.get("weights"), list | tuple) else []
    assert KIT_FIT in probe.ran, f"{what} did not train with the kit's fit"
    if code:
        assert code in probe.ran, \
            f"{what} never ran {code.rsplit('.', 2)[-2]}: apply the hack as section 3's table says"
    epochs = 4 * EPOCHS if hack == "more_epochs" else EPOCHS
    assert loss.size == epochs * STEPS_PER_EPOCH, \
        f"{what} made {loss.size} steps; it should make {epochs * STEPS_PER_EPOCH}"
    if hack == "large_lr":
        plain = Run(submission, CONSTANT, grade_seed).loss
        assert loss[0] == pytest.approx(plain[0]) and not np.allclose(loss[:20], plain[:20]), \
            f"{what} trained exactly like the plain run: use lr=10 * LR"
    counts = [int(c) for c in np.asarray(out.get("n_distinct", [])).ravel()]
    assert counts == [1] * (len(WIDTHS) - 2), \
        f"{what} reports {counts} distinct hidden units; a deterministic hack keeps equal " \
        "units equal (1 per hidden layer)"
    assert len(weights) == len(WIDTHS) - 1 and \
        [reference_count(np.asarray(w, dtype=float), ATOL) for w in weights[:-1]] == counts, \
        f"{what}['n_distinct'] is not the count of its returned hidden weights"
