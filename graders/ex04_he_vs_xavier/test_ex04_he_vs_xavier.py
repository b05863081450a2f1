"""Hidden graders of ex04_he_vs_xavier (instructors only: never in exercises/ or the wheel).

Every check reaches the notebook through the ``submission`` fixture (data only) and draws
fresh inputs from ``grade_seed``, so answers hard-coded to the visible tests earn nothing
here. The ``grade_id`` of each ``points`` marker is the nbgrader cell whose hidden block runs
it (``initkit.course.hidden_checks``); the cell's points are the sum of its markers.

The contract is the notebook's: weights in PyTorch's layout ``(out, in, *kernel)``;
``compute_fans`` returns ``(in * r, out * r)`` with r the product of the kernel dimensions;
``he_normal`` draws N(0, 2/fan) (fan by ``mode``) and ``xavier_normal`` N(0, 2/(fan_in +
fan_out)), each with one call on the given generator; ``init_weights(init, seed)`` draws the
21 matrices of ``WIDTHS`` from one ``default_rng(seed)``, input layer first, with the
student's own initializer; ``train_curve(init, seed)`` trains them with the notebook's
``fit`` call and returns ``history.loss``.

The training checks rerun ``train_curve`` with ``RERUNS`` hidden seeds inside the notebook's
process and replay the first ``REPLAY`` steps of each here, from the weights the student's
``init_weights`` gives for that seed, with the same engine: a curve that was not trained from
those weights (stored, printed, drawn by hand) is not the replay and earns nothing.

"He below Xavier by more than ``MARGIN``" compares the means of the final losses over the
seeds, because one seed does not always show it: at seed 2142254010 (a suite run's) the
reference's gap (Xavier's final loss minus He's) is 0.22, as Xavier leaves its plateau
(2.108), and over 654 random seeds it was at least 0.376 (two below 0.45): a single-seed check
fails a correct notebook about once in several hundred gradings. No two of these 655 seeds
average below 0.29, so a correct notebook fails the two-seed check with a rate well below
1e-5. He with LeCun's 1/fan_in (the
``missing_sqrt2`` plant) stalls like Xavier: its gap stayed in [-0.135, 0.013] over 288
seeds, far below ``MARGIN``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from initkit.course import check_normal, check_variance
from initkit.course.checks import CheckFailed, Mistake
from initkit.grading import Rng, expect

DEPTH, WIDTH = 20, 64
WIDTHS = [784, *[WIDTH] * DEPTH, 10]
SHAPES = [(n_out, n_in) for n_in, n_out in zip(WIDTHS[:-1], WIDTHS[1:], strict=True)]
STEPS, BATCH, EPOCHS, LR, MOMENTUM = 200, 32, 2, 0.01, 0.9
LAST, MARGIN = 20, 0.25
REPLAY = 20  # steps of a run the grader trains again itself
RERUNS = 2  # hidden seeds train_curve reruns with; "He below Xavier" compares their means
KIT_FANS = ("initkit.fans.compute_fans",)
KIT_HE = ("initkit.builtin_initializers.he_normal", "initkit.builtin_initializers.he_uniform")
KIT_XAVIER = ("initkit.builtin_initializers.xavier_normal",
              "initkit.builtin_initializers.xavier_uniform")
OWN = {"he": "he_normal", "xavier": "xavier_normal"}


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    r = math.prod(shape[2:])
    return shape[1] * r, shape[0] * r


def _final(losses: np.ndarray) -> float:
    return float(np.mean(losses[-LAST:]))


@lru_cache(maxsize=1)
def _data():
    import initkit

    return initkit.data.load_mnist(seed=0, source="subset")


def replay(weights: list[np.ndarray], seed: int, steps: int = REPLAY) -> np.ndarray:
    """The first ``steps`` losses of the notebook's training run from ``weights``."""
    from threadpoolctl import threadpool_limits

    import initkit

    model = initkit.nn.MLP(WIDTHS, activation="relu", init="zeros", seed=0)
    for layer, w in zip(model.dense_layers(), weights, strict=True):
        layer.W.data[...] = w
    with threadpool_limits(1):
        history = initkit.train.fit(model, _data(), epochs=EPOCHS, batch_size=BATCH, lr=LR,
                                    momentum=MOMENTUM, seed=seed, max_steps=steps,
                                    progress=False)
    return np.asarray(history.loss, dtype=float)


# ----------------------------------------------------------------------------- compute_fans


def _check_fans(submission, shape: tuple[int, ...], forbid: bool = False) -> None:
    if forbid:
        probe = submission.probe("compute_fans", shape, forbid=KIT_FANS)
        if probe.error:
            raise AssertionError(f"compute_fans({shape}) raised {probe.error}")
        if probe.forbidden:
            raise AssertionError(probe.flagged or "compute_fans calls the kit's own "
                                 "compute_fans (initkit.fans): write it yourself; no points "
                                 "for delegating")
        got = probe.value
    else:
        got = submission.call("compute_fans", shape)
    if not isinstance(got, tuple | list) or len(got) != 2 \
            or not all(type(v) is int for v in got):
        raise AssertionError(f"compute_fans({shape}) should return a tuple of two ints "
                             f"(fan_in, fan_out), got {got!r}")
    got = tuple(got)
    want = _fans(shape)
    if got == want:
        return
    if got == want[::-1]:
        hint = " - did you read the shape as (in, out)? PyTorch's layout is (out, in, *kernel)"
    elif len(shape) > 2 and got == (shape[1], shape[0]):
        hint = " - did you leave out the receptive field (the product of the kernel sizes)?"
    elif len(shape) > 2 and got == (shape[1] * sum(shape[2:]), shape[0] * sum(shape[2:])):
        hint = " - the receptive field is the product of the kernel sizes, not their sum"
    else:
        hint = ""
    raise AssertionError(f"compute_fans({shape}) is {got}, not (fan_in, fan_out) = "
                         f"(in * r, out * r){hint}")


@pytest.mark.points(1, grade_id="test_compute_fans")
def test_fans_dense(submission, grade_seed):
    """compute_fans gives (in, out) of dense (out, in) weights, square or not."""
    rng = np.random.default_rng(grade_seed)
    shapes = [(10, 784), (300, 7), (1, 5), (64, 64)]
    shapes += [tuple(int(d) for d in rng.integers(1, 500, size=2)) for _ in range(3)]
    for i, shape in enumerate(shapes):
        _check_fans(submission, shape, forbid=i == 0)


@pytest.mark.points(1, grade_id="test_compute_fans")
def test_fans_conv(submission, grade_seed):
    """compute_fans multiplies by the receptive field of 1-d, 2-d and 3-d conv weights."""
    rng = np.random.default_rng(grade_seed + 1)
    shapes = [(32, 16, 5), (64, 32, 3, 3), (16, 3, 5, 2), (8, 4, 3, 3, 3)]
    for ndim in (1, 2, 3):
        channels = tuple(int(d) for d in rng.integers(1, 65, size=2))
        kernel = tuple(int(d) for d in rng.integers(2, 8, size=ndim))
        shapes.append(channels + kernel)
    for i, shape in enumerate(shapes):
        _check_fans(submission, shape, forbid=i == 0)


# ----------------------------------------------------------------------------- initializers


def _own(submission, name: str, forbid: tuple[str, ...], seed: int) -> None:
    probe = submission.probe(name, (40, 30), Rng(seed), forbid=forbid + KIT_FANS)
    if probe.error:
        pytest.fail(f"{name}((40, 30), rng) raised {probe.error}")
    if probe.forbidden:
        kit = probe.forbidden[0].rsplit(".", 1)[-1]
        pytest.fail(probe.flagged or f"{name} calls the kit's own {kit} "
                    "(initkit.get_initializer, initkit.builtin_initializers or initkit.fans): "
                    "the exercise is to write the formula yourself; no points for delegating")


@pytest.fixture(scope="module")
def own_he(submission, grade_seed):
    """Fails every he_normal check when he_normal delegates to the kit."""
    _own(submission, "he_normal", KIT_HE, grade_seed)
    return True


@pytest.fixture(scope="module")
def own_xavier(submission, grade_seed):
    """Fails every xavier_normal check when xavier_normal delegates to the kit."""
    _own(submission, "xavier_normal", KIT_XAVIER, grade_seed)
    return True


def _draw(submission, name: str, shape: tuple[int, ...], seed: int, **kw) -> np.ndarray:
    got = submission.call(name, shape, Rng(seed), **kw)
    if isinstance(got, np.ndarray) and len(shape) >= 2 and got.shape == shape[::-1] \
            and shape != shape[::-1]:
        raise AssertionError(f"{name}({shape}) has shape {got.shape}: the (in, out) layout; "
                             "PyTorch's (and the notebook's) is (out, in, *kernel)")
    return expect(got, shape=shape, dtype="f", what=f"{name}({shape}, rng)")


def _check_shapes(submission, name: str, seed: int) -> None:
    for i, shape in enumerate([(300, 100), (17, 5), (1, 64), (64, 1), (8, 3, 5),
                               (6, 4, 3, 3), (2, 3, 2, 3, 4)]):
        _draw(submission, name, shape, seed + i)


# shapes where the named mistakes give variances at least 2x apart (n >= 3456 draws)
VARIANCE_SHAPES = [(400, 100), (50, 800), (64, 32, 3, 3), (32, 16, 25), (16, 8, 3, 3, 3)]


def _he_mistakes(shape: tuple[int, ...], fan: int, other: int) -> dict[str, float]:
    fan_in, fan_out = _fans(shape)
    out = {"use fan_out where fan_in is meant (or the other way round)": 2 / other,
           "leave out the factor 2 (1/fan is LeCun's rule)": 1 / fan,
           "use Glorot's 2/(fan_in + fan_out)": 2 / (fan_in + fan_out),
           "pass the variance where the std is meant": (2 / fan) ** 2}
    if len(shape) > 2:
        out["leave out the receptive field of the kernel"] = 2 / (fan // math.prod(shape[2:]))
    return out


@pytest.mark.points(1, grade_id="test_he_normal")
def test_he_shape(submission, own_he, grade_seed):
    """he_normal returns exactly the requested (out, in, *kernel) shape, non-square too."""
    _check_shapes(submission, "he_normal", grade_seed)


def _their_fans(submission, shape: tuple[int, ...]) -> tuple[int, int] | None:
    """The student's compute_fans(shape) when it is wrong (two numbers), else None."""
    try:
        got = submission.call("compute_fans", shape)
    except AssertionError:
        return None
    if isinstance(got, tuple | list) and len(got) == 2 \
            and all(isinstance(v, int | float | np.integer) for v in got) \
            and tuple(int(v) for v in got) != _fans(shape) and min(got) > 0:
        return int(got[0]), int(got[1])
    return None


def _check_he(submission, w: np.ndarray, shape: tuple[int, ...], mode: str) -> None:
    """He's variance 2/fan; when the miss is the student's compute_fans, that is named."""
    fan_in, fan_out = _fans(shape)
    fan, other = (fan_in, fan_out) if mode == "fan_in" else (fan_out, fan_in)
    what = f"he_normal({shape})" if mode == "fan_in" else f"he_normal({shape}, mode='fan_out')"
    try:
        check_variance(w, 2 / fan, what, formula=f"He's variance 2/{mode}",
                       mistakes=_he_mistakes(shape, fan, other))
    except CheckFailed as failure:
        _blame_compute_fans(submission, failure, w, shape, what, "He's rule",
                            lambda fans: 2 / (fans[0] if mode == "fan_in" else fans[1]))


def _blame_compute_fans(submission, failure: CheckFailed, w: np.ndarray,
                        shape: tuple[int, ...], what: str, rule: str, variance) -> None:
    """Re-raise ``failure``, or name compute_fans when the draws follow its wrong fans."""
    theirs = _their_fans(submission, shape)
    if theirs is None or failure.mistake_id not in ("fans_swapped", "wrong_scale",
                                                     "no_receptive_field"):
        raise failure
    try:
        check_variance(w, variance(theirs), what)
    except CheckFailed:
        raise failure from None
    name = what.split("(", 1)[0]
    raise CheckFailed(f"{what} draws with variance {variance(theirs):.4g}, {rule} applied to "
                      f"your compute_fans({shape}) = {theirs}, which is wrong above (it should "
                      f"be {_fans(shape)}): fix compute_fans and {name} follows",
                      Mistake("compute_fans_upstream", "compute_fans is wrong upstream")
                      ) from None


@pytest.mark.points(1, grade_id="test_he_normal")
def test_he_variance_fan_in(submission, own_he, grade_seed):
    """he_normal draws N(0, 2/fan_in) for dense and conv shapes (He et al. 2015): variance,
    mean, kurtosis and KS against that normal; a miss caused by compute_fans says so. A
    correct answer fails with probability at most 1e-5 (five samples of check_variance's 2e-6)."""
    for i, shape in enumerate(VARIANCE_SHAPES):
        w = _draw(submission, "he_normal", shape, grade_seed + 10 + i)
        _check_he(submission, w, shape, "fan_in")


@pytest.mark.points(1, grade_id="test_he_normal")
def test_he_variance_fan_out(submission, own_he, grade_seed):
    """he_normal(..., mode="fan_out") draws N(0, 2/fan_out), keeping the backward pass (false
    failures at most 1e-5: five samples of check_variance's 2e-6)."""
    for i, shape in enumerate(VARIANCE_SHAPES):
        w = _draw(submission, "he_normal", shape, grade_seed + 20 + i, mode="fan_out")
        _check_he(submission, w, shape, "fan_out")


def _check_draws(submission, name: str, seed: int) -> None:
    """Normal draws at whatever scale (the variance is the variance checks' job, so a wrong
    scale costs once), and the given rng's stream: same seed, same draw. The normality check
    fails a correct answer with probability at most 6e-7 (check_normal)."""
    shape = (200, 150)
    w = _draw(submission, name, shape, seed + 30)
    check_normal(w, f"{name}({shape})")
    again = _draw(submission, name, shape, seed + 30)
    other = _draw(submission, name, shape, seed + 31)
    assert np.array_equal(w, again), \
        "two rngs with the same seed gave different weights - did you use the global " \
        "np.random instead of the given rng?"
    assert not np.array_equal(w, other), \
        "rngs with different seeds gave the same weights: draw from the given rng"


@pytest.mark.points(1, grade_id="test_he_normal")
def test_he_draws(submission, own_he, grade_seed):
    """he_normal draws normal weights, from the rng it is given (same seed, same weights)."""
    _check_draws(submission, "he_normal", grade_seed)


@pytest.mark.points(1, grade_id="test_xavier_normal")
def test_xavier_shape(submission, own_xavier, grade_seed):
    """xavier_normal returns exactly the requested (out, in, *kernel) shape, non-square too."""
    _check_shapes(submission, "xavier_normal", grade_seed)


@pytest.mark.points(1, grade_id="test_xavier_normal")
def test_xavier_variance(submission, own_xavier, grade_seed):
    """xavier_normal draws N(0, 2/(fan_in + fan_out)) for dense and conv shapes (Glorot 2010),
    shape included (false failures at most 1e-5: five samples of check_variance's 2e-6)."""
    for i, shape in enumerate(VARIANCE_SHAPES):
        fan_in, fan_out = _fans(shape)
        target = 2 / (fan_in + fan_out)
        mistakes = {"use fan_in alone (2/fan_in is He's rule)": 2 / fan_in,
                    "use 1/fan_in (LeCun's rule)": 1 / fan_in,
                    "pass the variance where the std is meant": target**2}
        if len(shape) > 2:
            r = math.prod(shape[2:])
            mistakes["leave out the receptive field of the kernel"] = target * r
        w = _draw(submission, "xavier_normal", shape, grade_seed + 10 + i)
        what = f"xavier_normal({shape})"
        try:
            check_variance(w, target, what, formula="Glorot's variance 2/(fan_in + fan_out)",
                           mistakes=mistakes)
        except CheckFailed as failure:
            _blame_compute_fans(submission, failure, w, shape, what, "Glorot's rule",
                                lambda fans: 2 / (fans[0] + fans[1]))


@pytest.mark.points(1, grade_id="test_xavier_normal")
def test_xavier_draws(submission, own_xavier, grade_seed):
    """xavier_normal draws normal weights, from the rng it is given (same seed, same weights)."""
    _check_draws(submission, "xavier_normal", grade_seed)


# ----------------------------------------------------------------------------- training


def _forbid_all() -> tuple[str, ...]:
    return KIT_HE + KIT_XAVIER


def _kit_message(what: str, forbidden: list[str]) -> str:
    kit = forbidden[0].rsplit(".", 1)[-1]
    return (f"{what} ran the kit's own {kit}: the run must use your he_normal and "
            "xavier_normal")


def _spy_message(what: str, init: str, calls: dict[str, int]) -> str | None:
    own, other = OWN[init], OWN["xavier" if init == "he" else "he"]
    if calls.get(own, 0) != len(SHAPES):
        return (f"{what} called your {own} {calls.get(own, 0)} times; it should draw each of "
                f"the {len(SHAPES)} weight matrices with it")
    if calls.get(other, 0):
        return f"{what} also called {other}: the {init!r} run uses {own} only"
    return None


def _ignores_rng(submission, init: str, seed: int) -> str | None:
    """The sentence for an initializer that ignores its rng (so no run can be replayed)."""
    own = OWN[init]
    try:
        a = submission.call(own, SHAPES[1], Rng(seed))
        b = submission.call(own, SHAPES[1], Rng(seed))
    except AssertionError:
        return None
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and not np.array_equal(a, b):
        return (f"your {own} gives different weights for the same rng seed (it does not draw "
                "from the given rng: named in its own check above), so this run cannot be "
                f"repeated and checked; fix {own} and this check follows")
    return None


def _weights(submission, init: str, seed: int) -> list[np.ndarray]:
    got = submission.call("init_weights", init, seed)
    if not isinstance(got, list | tuple) or len(got) != len(SHAPES):
        raise AssertionError(f"init_weights({init!r}, seed) should return a list of "
                             f"{len(SHAPES)} arrays, got {type(got).__name__}")
    return [expect(w, shape=s, dtype="f", what=f"init_weights({init!r}, seed)[{i}]")
            for i, (w, s) in enumerate(zip(got, SHAPES, strict=True))]


@pytest.mark.points(1, grade_id="test_training")
def test_init_weights(submission, grade_seed):
    """init_weights draws the 21 matrices with your initializer from one default_rng(seed)."""
    for init in ("he", "xavier"):
        what = f"init_weights({init!r}, seed)"
        probe = submission.probe("init_weights", init, grade_seed, spy=list(OWN.values()),
                                 forbid=_forbid_all())
        if probe.error:
            raise AssertionError(f"{what} raised {probe.error}")
        if probe.forbidden:
            raise AssertionError(_kit_message(what, probe.forbidden))
        problem = _spy_message(what, init, probe.calls)
        if problem:
            raise AssertionError(problem)
        upstream = _ignores_rng(submission, init, grade_seed)
        if upstream:
            raise AssertionError(f"{what}: {upstream}")
        weights = _weights(submission, init, grade_seed)
        first = submission.call(OWN[init], SHAPES[0], Rng(grade_seed))
        assert isinstance(first, np.ndarray) and np.allclose(weights[0], first, rtol=1e-6), \
            f"{what}[0] is not the first draw of np.random.default_rng(seed) with your " \
            f"{OWN[init]} - make one generator from the seed and draw every matrix from it, " \
            "input layer first (did you use the global np.random?)"
        assert not np.array_equal(weights[1], weights[2]), \
            f"{what} gave two hidden layers the same weights: draw every matrix from one " \
            "generator instead of making a new one per layer"
        again = _weights(submission, init, grade_seed)
        assert all(np.array_equal(a, b) for a, b in zip(weights, again, strict=True)), \
            f"{what} gave different weights for the same seed"


def _rerun_one(submission, init: str, seed: int) -> np.ndarray | str:
    """train_curve(init, seed) in the notebook's process: the curve, or why it does not count."""
    what = f"train_curve({init!r}, seed)"
    probe = submission.probe("train_curve", init, seed, spy=list(OWN.values()),
                             forbid=_forbid_all())
    if probe.error:
        return f"{what} raised {probe.error}"
    if probe.forbidden:
        return _kit_message(what, probe.forbidden)
    problem = _spy_message(what, init, probe.calls)
    if problem:
        return problem
    value = probe.value
    if isinstance(value, list):
        value = np.asarray(value, dtype=float)
    try:
        curve = expect(value, shape=(STEPS,), dtype="f", what=what)
    except AssertionError as exc:
        return str(exc)
    upstream = _ignores_rng(submission, init, seed)
    if upstream:
        return f"{what}: {upstream}"
    try:
        want = replay(_weights(submission, init, seed), seed)
    except AssertionError as exc:
        return str(exc)
    if not np.allclose(curve[:REPLAY], want, rtol=1e-5, atol=1e-6):
        return (f"the losses of {what} are not those of training init_weights({init!r}, "
                "seed) with the notebook's fit call (same seed, epochs, batch size, lr, "
                "momentum, steps); return history.loss of that run")
    return curve


@pytest.fixture(scope="module")
def rerun(submission, grade_seed):
    """train_curve(init, seed) for both inits and the RERUNS hidden seeds: init -> the
    curves (one per seed), or why they do not count."""
    out = {}
    for init in ("he", "xavier"):
        curves = [_rerun_one(submission, init, grade_seed + k) for k in range(RERUNS)]
        problems = [c for c in curves if isinstance(c, str)]
        out[init] = problems[0] if problems else curves
    return out


def _curves(rerun, init: str) -> list[np.ndarray]:
    got = rerun[init]
    if isinstance(got, str):
        raise AssertionError(got)
    return got


@pytest.mark.points(1, grade_id="test_training")
def test_train_curve_trains(submission, rerun):
    """train_curve reruns with new seeds: your initializers, the notebook's training run."""
    for init in ("he", "xavier"):
        _curves(rerun, init)


@pytest.mark.points(1, grade_id="test_training")
def test_he_below_xavier_on_rerun(submission, rerun):
    """On reruns with two hidden seeds, He's final loss ends clearly below Xavier's (their
    means over the two seeds)."""
    he = float(np.mean([_final(c) for c in _curves(rerun, "he")]))
    xavier = float(np.mean([_final(c) for c in _curves(rerun, "xavier")]))
    assert he < xavier - MARGIN, \
        f"on reruns with two new seeds He's final loss is {he:.3f} and Xavier's {xavier:.3f} " \
        f"(means over the seeds); He's should be lower by more than {MARGIN} - check the " \
        "initializers' variances"


# ----------------------------------------------------------------------------- the figure


def _figure_lines(submission) -> dict:
    fig = submission.figure("fig")
    assert fig.axes, "fig has no axes: plot into `fig, ax = plt.subplots()`"
    lines = {line.label.strip().lower(): line for line in fig.axes[0].lines
             if line.kind == "line"}
    missing = [label for label in ("he", "xavier") if label not in lines]
    shown = sorted(label for label in lines if not label.startswith("_")) or "none"
    assert not missing, f"fig has no line labelled {missing[0]!r} (labels found: " \
                        f"{shown}); label each curve with ax.plot(..., label=...)"
    return lines


@pytest.mark.points(1, grade_id="test_figure")
def test_figure_curves(submission):
    """fig shows a 'he' and a 'xavier' curve of one point per step, steps 1 to 200."""
    lines = _figure_lines(submission)
    for label in ("he", "xavier"):
        line = lines[label]
        assert line.y.shape == (STEPS,), \
            f"the {label!r} curve has {line.y.size} points, not one per step ({STEPS})"
        assert np.array_equal(line.x, np.arange(1, STEPS + 1)), \
            f"the {label!r} curve's x values should be the steps 1, 2, ..., {STEPS}"


@pytest.mark.points(1, grade_id="test_figure")
def test_figure_is_the_run(submission):
    """fig's curves are the seed-0 training runs, and He's final loss is clearly below Xavier's."""
    lines = _figure_lines(submission)
    for label in ("he", "xavier"):
        y = lines[label].y
        assert y.shape == (STEPS,), f"the {label!r} curve should have {STEPS} points"
        upstream = _ignores_rng(submission, label, 0)
        if upstream:
            raise AssertionError(f"the {label!r} curve: {upstream}")
        want = replay(_weights(submission, label, 0), 0)
        assert np.allclose(y[:REPLAY], want, rtol=1e-5, atol=1e-6), \
            f"the {label!r} curve is not train_curve({label!r}, 0): plot the losses of that run"
    he, xavier = _final(lines["he"].y), _final(lines["xavier"].y)
    assert he < xavier - MARGIN, \
        f"in fig He's final loss is {he:.3f} and Xavier's {xavier:.3f}; He's should be " \
        f"lower by more than {MARGIN}"
