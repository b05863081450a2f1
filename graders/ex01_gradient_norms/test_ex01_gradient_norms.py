"""Hidden graders of ex01_gradient_norms (instructors only: never in exercises/ or the wheel).

Every check reaches the notebook through the ``submission`` fixture (data only) and draws
fresh inputs from ``grade_seed``, so answers hard-coded to the visible tests earn nothing
here. The ``grade_id`` of each ``points`` marker is the nbgrader cell whose hidden block runs
it (``initkit.course.hidden_checks``); the cell's points are the sum of its markers.

The contract they check is the notebook's, word for word: ``x`` has shape ``(n_0, B)`` (one
sample per column); ``h_0 = x``, ``h_l = tanh(W_l h_{l-1})`` with ``W_l`` of shape
``(n_l, n_{l-1})``; the loss is ``L = (1/B) * sum(h_L)``; ``weight_gradients`` returns
``[dL/dW_1, ..., dL/dW_L]`` and ``gradient_norms`` their Frobenius norms, input layer first.
"""

from __future__ import annotations

import numpy as np
import pytest

from initkit.course import check_variance
from initkit.grading import Rng, expect

WIDTH, DEPTH, BATCH = 128, 20, 16
SMALL, LARGE = 0.002, 0.02
KIT_XAVIER = ("initkit.builtin_initializers.xavier_normal",)
KIT_BACKWARD = ("initkit.nn.layers.Dense.backward", "initkit.simulation.simulate")


def reference_gradients(weights: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """dL/dW_l of the notebook's network, by the chain rule written out once more."""
    hs = [x]
    for w in weights:
        hs.append(np.tanh(w @ hs[-1]))
    upstream = np.ones_like(hs[-1]) / x.shape[1]  # dL/dh_L for L = mean over the batch of sum
    grads: list[np.ndarray] = [np.empty(0)] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        delta = upstream * (1.0 - hs[layer + 1] ** 2)  # dL/da_l = dL/dh_l * tanh'(a_l)
        grads[layer] = delta @ hs[layer].T
        upstream = weights[layer].T @ delta
    return grads


def _no_tanh_prime(weights, x):
    """The mistake of leaving tanh'(a) out of the backward pass."""
    hs = [x]
    for w in weights:
        hs.append(np.tanh(w @ hs[-1]))
    upstream = np.ones_like(hs[-1]) / x.shape[1]
    grads = [np.empty(0)] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        grads[layer] = upstream @ hs[layer].T
        upstream = weights[layer].T @ upstream
    return grads


def _student_gradients(submission, weights, x) -> list[np.ndarray]:
    probe = submission.probe("weight_gradients", weights, x, forbid=KIT_BACKWARD)
    if probe.error:
        raise AssertionError(f"weight_gradients raised {probe.error}")
    if probe.forbidden:
        raise AssertionError(probe.flagged or "weight_gradients runs the kit's own backward "
                             f"pass ({probe.forbidden[0]}): write the chain rule yourself")
    got = probe.value
    if not isinstance(got, list | tuple) or len(got) != len(weights):
        raise AssertionError(f"weight_gradients should return a list of {len(weights)} arrays "
                             f"(one per layer), got {type(got).__name__} of length "
                             f"{len(got) if hasattr(got, '__len__') else '?'}")
    return [expect(g, shape=w.shape, what=f"weight_gradients(...)[{i}]")
            for i, (g, w) in enumerate(zip(got, weights, strict=True))]


def _random_net(rng: np.random.Generator, widths: tuple[int, ...], batch: int, std: float):
    weights = [rng.normal(scale=std, size=(n_out, n_in))
               for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)]
    return weights, rng.normal(size=(widths[0], batch))


# ----------------------------------------------------------------------------- constant_init


@pytest.mark.points(1, grade_id="test_constant_init")
def test_constant_init(submission):
    """constant_init(shape, value) is a float array of exactly that shape, every entry value."""
    for shape, value in [((3, 4), 0.5), ((7,), -0.25), ((2, 3, 4), 0.0), ((5, 2), 3)]:
        got = expect(submission.call("constant_init", shape, value), shape=shape, dtype="f",
                     what=f"constant_init({shape}, {value})")
        assert np.all(got == value), \
            f"constant_init({shape}, {value}) has entries other than {value}"


# ----------------------------------------------------------------------------- xavier_normal


@pytest.fixture(scope="module")
def own_xavier(submission, grade_seed):
    """Fails every xavier check when xavier_normal delegates to the kit's implementation."""
    probe = submission.probe("xavier_normal", (40, 30), Rng(grade_seed), forbid=KIT_XAVIER)
    if probe.error:
        pytest.fail(f"xavier_normal((40, 30), rng) raised {probe.error}")
    if probe.forbidden:
        pytest.fail(probe.flagged or "xavier_normal calls the kit's own xavier_normal "
                    "(initkit.get_initializer or initkit.builtin_initializers): the exercise "
                    "is to write Glorot's formula yourself; no points for delegating")
    return True


@pytest.mark.points(1, grade_id="test_xavier_normal")
def test_xavier_shape(submission, own_xavier, grade_seed):
    """xavier_normal returns exactly the requested (out, in) shape, also for non-square ones."""
    for i, shape in enumerate([(300, 100), (17, 5), (1, 64), (64, 1)]):
        got = submission.call("xavier_normal", shape, Rng(grade_seed + i))
        if isinstance(got, np.ndarray) and got.shape == shape[::-1]:
            raise AssertionError(f"xavier_normal({shape}) has shape {got.shape}: the (in, out) "
                                 "layout; PyTorch's (and the notebook's) is (out, in)")
        expect(got, shape=shape, dtype="f", what=f"xavier_normal({shape}, rng)")


@pytest.mark.points(1, grade_id="test_xavier_normal")
def test_xavier_variance(submission, own_xavier, grade_seed):
    """xavier_normal draws N(0, 2/(fan_in + fan_out)) for non-square shapes (Glorot 2010):
    the variance, mean 0, a normal's kurtosis and its CDF (KS), so uniform draws of the
    right variance, a spike or two values lose this point. A correct answer fails with
    probability at most 6e-6 (three samples of check_variance's 2e-6)."""
    for i, (fan_out, fan_in) in enumerate([(400, 100), (50, 800), (120, 360)]):
        w = expect(submission.call("xavier_normal", (fan_out, fan_in), Rng(grade_seed + 10 + i)),
                   shape=(fan_out, fan_in), what=f"xavier_normal(({fan_out}, {fan_in}))")
        target = 2.0 / (fan_in + fan_out)
        check_variance(w, target, f"xavier_normal(({fan_out}, {fan_in}))",
                       formula="Glorot's variance 2/(fan_in + fan_out)",
                       mistakes={"use fan_in alone (2/fan_in is He's rule)": 2 / fan_in,
                                 "use fan_out alone": 2 / fan_out,
                                 "use 1/fan_in (LeCun's rule)": 1 / fan_in,
                                 "pass the variance where the std is meant": target**2,
                                 "take the square root twice": target**0.5})


@pytest.mark.points(1, grade_id="test_xavier_normal")
def test_xavier_uses_rng(submission, own_xavier, grade_seed):
    """xavier_normal draws from the rng it is given: same seed, same draw; new seed, new draw."""
    first = expect(submission.call("xavier_normal", (30, 20), Rng(grade_seed + 99)),
                   shape=(30, 20), what="xavier_normal((30, 20), rng)")
    again = expect(submission.call("xavier_normal", (30, 20), Rng(grade_seed + 99)),
                   shape=(30, 20), what="xavier_normal((30, 20), rng)")
    other = expect(submission.call("xavier_normal", (30, 20), Rng(grade_seed + 100)),
                   shape=(30, 20), what="xavier_normal((30, 20), rng)")
    assert np.array_equal(first, again), \
        "two rngs with the same seed gave different weights - did you use the global " \
        "np.random instead of the given rng?"
    assert not np.array_equal(first, other), \
        "rngs with different seeds gave the same weights: draw from the given rng"


# ----------------------------------------------------------------------------- gradients


@pytest.mark.points(2, grade_id="test_gradient_norms")
def test_weight_gradients(submission, grade_seed):
    """weight_gradients equals a reference backward pass on random nets of other shapes."""
    rng = np.random.default_rng(grade_seed)
    for widths, batch in [((6, 4, 9, 3, 5), 3), ((10, 10, 10), 1), ((2, 7, 1), 5)]:
        weights, x = _random_net(rng, widths, batch, std=0.7)
        got = _student_gradients(submission, weights, x)
        want = reference_gradients(weights, x)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if np.allclose(g, w, rtol=1e-8, atol=1e-12):
                continue
            if np.allclose(g, _no_tanh_prime(weights, x)[i], rtol=1e-8, atol=1e-12):
                hint = " - did you leave out tanh'(a) = 1 - tanh(a)^2?"
            elif np.allclose(g, batch * w, rtol=1e-8, atol=1e-12) and batch > 1:
                hint = " - did you forget the 1/B of the loss's mean over the batch?"
            elif np.allclose(g, -w, rtol=1e-8, atol=1e-12):
                hint = " - the sign is flipped"
            else:
                hint = ""
            raise AssertionError(
                f"weight_gradients(...)[{i}] differs from the chain rule on a net with layer "
                f"widths {widths} and batch {batch} (relative error "
                f"{np.linalg.norm(g - w) / np.linalg.norm(w):.2g}){hint}")


#: nets of the gradient_norms check: deeper than the visible test's one layer, non-square
NORM_NETS = [((5, 8, 8, 8, 8, 3), 4), ((12, 6, 9, 4), 3)]


def _student_norms(submission, weights, x) -> np.ndarray:
    probe = submission.probe("gradient_norms", weights, x, forbid=KIT_BACKWARD)
    if probe.error:
        raise AssertionError(f"gradient_norms raised {probe.error}")
    if probe.forbidden:
        raise AssertionError(probe.flagged or "gradient_norms runs the kit's own backward "
                             "pass: write it yourself")
    value = probe.value
    if isinstance(value, list | tuple):
        value = np.asarray(value, dtype=float)
    return expect(value, shape=(len(weights),), dtype="f", what="gradient_norms(weights, x)")


def _upstream_gradients(submission, weights, x) -> str | None:
    """Why the student's weight_gradients is wrong on this net ("" if it raised), or None."""
    try:
        got = _student_gradients(submission, weights, x)
    except AssertionError:
        return ""
    want = reference_gradients(weights, x)
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True))
           if not np.allclose(g, w, rtol=1e-6, atol=1e-300)]
    return f"dL/dW_{bad[0] + 1}" if bad else None


@pytest.mark.points(1, grade_id="test_gradient_norms")
def test_gradient_norms(submission, grade_seed):
    """gradient_norms (the student's own function, called) gives each layer's Frobenius norm
    of dL/dW, input layer first, on nets deeper than the visible one-layer test."""
    rng = np.random.default_rng(grade_seed + 1)
    for widths, batch in NORM_NETS:
        weights, x = _random_net(rng, widths, batch, std=0.6)
        got = _student_norms(submission, weights, x)
        want = np.array([np.linalg.norm(g) for g in reference_gradients(weights, x)])
        if np.allclose(got, want, rtol=1e-8):
            continue
        if np.allclose(got, want[::-1], rtol=1e-8) and not np.allclose(want, want[::-1]):
            raise AssertionError("gradient_norms lists the output layer first: the notebook "
                                 "asks for the input layer first (norms[0] is dL/dW_1)")
        if np.allclose(got, want**2, rtol=1e-8):
            raise AssertionError("gradient_norms returns squared norms: take the square root")
        wrong = np.flatnonzero(~np.isclose(got, want, rtol=1e-8))
        upstream = _upstream_gradients(submission, weights, x)
        if upstream:
            because = " - they follow your weight_gradients, which is wrong above " \
                      f"({upstream} of this net)"
        elif np.isclose(got[-1], want[-1], rtol=1e-8):
            because = " - right for the last layer, wrong further back: the chain rule " \
                      "passes dL/dh_{l-1} = W_l^T delta_l back, with tanh' in delta_l"
        else:
            because = ""
        raise AssertionError(
            f"gradient_norms(weights, x)[{int(wrong[0])}] is {got[wrong[0]]:.6g}, not the "
            f"Frobenius norm {want[wrong[0]]:.6g} of dL/dW_{int(wrong[0]) + 1} on a random net "
            f"with widths {widths} and batch {batch}{because}")


# ----------------------------------------------------------------------------- the experiment


def _constant_net(submission, value: float) -> list[np.ndarray]:
    w = expect(submission.call("constant_init", (WIDTH, WIDTH), value), shape=(WIDTH, WIDTH),
               what=f"constant_init(({WIDTH}, {WIDTH}), {value})")
    return [w] * DEPTH


def _upstream_note(submission, weights, x, what: str) -> str:
    """" - ... which is wrong above" when weight_gradients is wrong on this net, else ""."""
    upstream = _upstream_gradients(submission, weights, x)
    if upstream is None:
        return ""
    return f" - {what} come from your weight_gradients, which is wrong above" + \
        (f" ({upstream} of this net differs from the chain rule)" if upstream else "")


@pytest.mark.points(2, grade_id="test_constant_collapse")
def test_norms_fall_for_constants_and_stay_level_for_xavier(submission, grade_seed):
    """Constant 0.02 makes the norms fall by orders of magnitude; Xavier's stay level.

    The cell's visible test checks that constant weights give rank-1 gradients. A hidden
    rank-1 check on larger nets used to hold one of this cell's two points, but no student
    mistake could fail it alone: with constant weights every unit of a layer has the same h
    and (by W^T delta with constant W) the same delta, so any backward pass that treats
    units alike gives rank 1, and one that does not fails ``test_weight_gradients`` (exact
    against the chain rule on random nets). Both points are earned here."""
    x = np.random.default_rng(grade_seed + 3).random((WIDTH, BATCH))
    net = _constant_net(submission, LARGE)
    norms = [float(np.linalg.norm(g)) for g in _student_gradients(submission, net, x)]
    fall = norms[-1] / max(norms[0], 1e-300)
    if not fall > 1e6:
        size = f"{fall:.3g} times smaller" if fall >= 1 else \
            f"{1 / max(fall, 1e-300):.3g} times larger (it grows towards the input)"
        raise AssertionError(
            f"with constant weights {LARGE} the input layer's gradient norm should be more than "
            f"a million times smaller than the output layer's; it is {size}"
            + _upstream_note(submission, net, x, "these norms"))
    for k in range(3):
        draws = submission.call_many("xavier_normal", [
            ((WIDTH, WIDTH), Rng(grade_seed + 1000 * (k + 1) + layer)) for layer in range(DEPTH)])
        weights = [expect(w, shape=(WIDTH, WIDTH), what="xavier_normal((128, 128), rng)")
                   for w in draws]
        xav = [float(np.linalg.norm(g)) for g in _student_gradients(submission, weights, x)]
        ratio = max(xav) / max(min(xav), 1e-300)
        assert ratio < 10, f"with Xavier weights the gradient norms span a factor {ratio:.3g} " \
                           "across the layers; they should stay within a small band" \
                           + _upstream_note(submission, weights, x, "these norms")


def _labels(lines: dict) -> list[str]:
    """The labels a reader sees (matplotlib's automatic '_child3' names are not labels)."""
    return sorted(label for label in lines if not label.startswith("_"))


@pytest.mark.points(2, grade_id="test_figure")
def test_figure(submission):
    """fig shows one labelled 20-point curve per init on a log y axis, as the notebook says;
    other lines (a reference line, markers) are ignored."""
    fig = submission.figure("fig")
    assert fig.axes, "fig has no axes: plot into `fig, ax = plt.subplots()`"
    want = ["xavier", f"constant {SMALL}", f"constant {LARGE}"]
    axes = [ax for ax in fig.axes
            if {line.label.strip().lower() for line in ax.lines} & set(want)] or fig.axes
    ax = axes[0]
    assert ax.yscale == "log", "fig's y axis should be logarithmic: ax.set_yscale('log')"
    lines = {line.label.strip().lower(): line for line in ax.lines if line.kind == "line"}
    missing = [label for label in want if label not in lines]
    assert not missing, f"fig has no line labelled {missing[0]!r} (labels found: " \
                        f"{_labels(lines) or 'none'}); label each curve with " \
                        "ax.plot(..., label=...)"
    x = np.random.default_rng(0).random((WIDTH, BATCH))
    layers = np.arange(1, DEPTH + 1)
    for label in want:
        line = lines[label]
        assert line.y.shape == (DEPTH,), f"the {label!r} curve has {line.y.size} points, not 20"
        assert np.array_equal(line.x, layers), \
            f"the {label!r} curve's x values should be the layers 1, 2, ..., 20"
    for value in (SMALL, LARGE):
        net = [np.full((WIDTH, WIDTH), value)] * DEPTH
        want_norms = [np.linalg.norm(g) for g in reference_gradients(net, x)]
        curve = lines[f"constant {value}"].y
        if np.allclose(curve, want_norms, rtol=1e-6):
            continue
        try:
            theirs = _student_norms(submission, net, x)
        except AssertionError:
            theirs = None
        if theirs is not None and np.allclose(curve, theirs, rtol=1e-6):
            raise AssertionError(f"the 'constant {value}' curve is your gradient_norms' output, "
                                 "which is wrong above: fix gradient_norms and the curve "
                                 "follows")
        raise AssertionError(f"the 'constant {value}' curve is not gradient_norms of the "
                             "20-layer constant net on x = np.random.default_rng(0).random("
                             "(128, 16))")
    xav = lines["xavier"].y
    assert np.all(xav > 0) and xav.max() / xav.min() < 10, \
        "the 'xavier' curve should stay within a factor of 10 across the layers (its weights " \
        "come from your xavier_normal: if its check above fails, fix that first)"
