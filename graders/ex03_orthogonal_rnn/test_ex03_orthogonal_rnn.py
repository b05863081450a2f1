"""Hidden graders of ex03_orthogonal_rnn (instructors only: never in exercises/ or the wheel).

Every check reaches the notebook through the ``submission`` fixture (data only) and draws
fresh inputs from ``grade_seed``, so answers hard-coded to the visible tests earn nothing.
The ``grade_id`` of each ``points`` marker is the nbgrader cell whose hidden block runs it.

The contract is the notebook's, word for word:

* ``orthogonal(shape, rng, gain=1.0)``: a float array of the 2-D ``shape`` = (rows, cols) with
  ``W^T W = gain^2 I`` (square and tall) or ``W W^T = gain^2 I`` (wide), Haar-distributed
  (QR of a Gaussian drawn from ``rng``, columns of Q times sign(diag R); Mezzadri 2007).
* ``bptt_gradient_norms(W_hh, steps, activation)``: h_0 = 1 (all ones), a_t = W_hh h_{t-1},
  h_t = phi(a_t) for t = 1 ... T; L = sum(h_T) / sqrt(n); g_T = dL/dh_T, g_{t-1} =
  W_hh^T (phi'(a_t) * g_t); the array [||g_T||, ||g_{T-1}||, ..., ||g_0||] of length T + 1.
* ``train_adding(init, seed)``: the notebook's recipe; the per-epoch test MSEs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from initkit.course.checks import N_SE
from initkit.grading import Rng, expect

KIT_ORTHOGONAL = ("initkit.builtin_initializers.orthogonal",
                  "scipy.stats._multivariate.ortho_group_gen.rvs")
STEPS, N_HIDDEN = 100, 64          # the gradient experiment of the notebook
EPOCHS, BASELINE = 30, 1.0 / 6.0   # the adding-problem run of the notebook
SEQ_LEN, HIDDEN, N_TRAIN, N_TEST = 10, 32, 1000, 200
BATCH, LR, G_TRAIN = 100, 0.01, 3.0
#: The adding rerun judges a submission at a hidden seed only where the notebook's recipe
#: itself (reference_adding, run here) meets both claims by this much test MSE: orthogonal
#: below 1/6 - margin, Gaussian above orthogonal + margin. Measured over 1,998 random seeds
#: (of 1 ... 1,000,000): the recipe misses a claim outright at 3 (0.15%; e.g. 276031 and
#: 470722, where the orthogonal run stays near the baseline, 0.142 and 0.150), and is within
#: the margin at one more; at such a seed a correct answer misses it too, so the rerun moves
#: on to the next seed. Elsewhere the gap is 0.014 at the least (four seeds below 0.03).
ADDING_MARGIN = 0.01
#: at most this many seeds: all of them unclear has probability ~(4 / 1998)^5, about 3e-14
ADDING_SEEDS = 5
LABELS = ("orthogonal", "gaussian g=0.5", "gaussian g=1", "gaussian g=1.5")
#: systematic excess of the measured per-step log-growth of ||(W^T)^k u|| over log g, for a
#: Gaussian W of width 64 over 100 steps: ~0.023 from the polynomial factor (log(T+1))/(2T)
#: and ~0.02 from the finite-width spectral radius (measured: +0.041 over 200 draws, per-draw
#: standard deviation 0.049). Allowed on top of N_SE standard errors of the draws' mean.
RATE_BIAS = 0.1
#: per-draw standard deviation of that log-growth rate (the same for every g: W = g G/sqrt(n)
#: scales the rate by log g only): measured 0.044 and 0.045 over 200 draws each at g = 0.5
#: and 1.5, 0.049 in an earlier run; the larger is kept
RATE_SD = 0.049
HAAR_DRAWS = 300


# ----------------------------------------------------------------------------- references


def reference_norms(w: np.ndarray, steps: int, activation: str) -> np.ndarray:
    """The notebook's gradient norms through time, written out once more."""
    n = w.shape[0]
    h, pre = np.ones(n), []
    for _ in range(steps):
        a = w @ h
        pre.append(a)
        h = a if activation == "linear" else np.tanh(a)
    g = np.ones(n) / math.sqrt(n)
    norms = [float(np.linalg.norm(g))]
    for a in reversed(pre):
        delta = g if activation == "linear" else g * (1.0 - np.tanh(a) ** 2)
        g = w.T @ delta
        norms.append(float(np.linalg.norm(g)))
    return np.array(norms)


def _variant_norms(w, steps, activation, *, prime=True, transpose=True):
    """The usual slips of the backward pass: tanh' left out, W where W^T belongs."""
    n = w.shape[0]
    h, pre = np.ones(n), []
    for _ in range(steps):
        a = w @ h
        pre.append(a)
        h = a if activation == "linear" else np.tanh(a)
    g = np.ones(n) / math.sqrt(n)
    norms = [float(np.linalg.norm(g))]
    for a in reversed(pre):
        delta = g * (1.0 - np.tanh(a) ** 2) if prime and activation == "tanh" else g
        g = (w.T if transpose else w) @ delta
        norms.append(float(np.linalg.norm(g)))
    return np.array(norms)


def reference_orthogonal(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The notebook's orthogonal: QR of a Gaussian drawn from ``rng``, sign-fixed."""
    rows, cols = shape
    a = rng.normal(size=(rows, cols))
    q, r = np.linalg.qr(a.T if rows < cols else a)
    q = q * np.sign(np.diag(r))
    return q.T if rows < cols else q


def reference_adding(init: str, seed: int) -> np.ndarray:
    """The notebook's ``train_adding(init, seed)``, step for step: the per-epoch test MSEs."""
    from initkit.data import adding_problem
    from initkit.nn import RNN
    from initkit.train import fit

    rng = np.random.default_rng(seed)
    data = adding_problem(n_train=N_TRAIN, n_test=N_TEST, steps=SEQ_LEN, seed=seed)
    if init == "orthogonal":
        w = reference_orthogonal((HIDDEN, HIDDEN), rng)
    else:
        w = rng.normal(0.0, G_TRAIN / np.sqrt(HIDDEN), size=(HIDDEN, HIDDEN))
    model = RNN(2, HIDDEN, 1, init_hh="zeros", seed=seed)
    model.W_hh.data[...] = w
    return fit(model, data, epochs=EPOCHS, batch_size=BATCH, lr=LR, optimizer="adam",
               seed=seed, progress=False).test_loss


def adding_claims_hold(orth: np.ndarray, gauss: np.ndarray, margin: float = 0.0) -> bool:
    """The orthogonal run ends below the baseline and the Gaussian one above it, by margin."""
    return bool(orth[-1] < BASELINE - margin and gauss[-1] > orth[-1] + margin)


# ----------------------------------------------------------------------------- orthogonal


@pytest.fixture(scope="module")
def own_orthogonal(submission, grade_seed):
    """Fails every orthogonal check when orthogonal delegates to a library's implementation."""
    probe = submission.probe("orthogonal", (6, 6), Rng(grade_seed), forbid=KIT_ORTHOGONAL)
    if probe.error:
        pytest.fail(f"orthogonal((6, 6), rng) raised {probe.error}")
    if probe.forbidden:
        pytest.fail(probe.flagged or "orthogonal calls a library's orthogonal initializer "
                    "(the kit's or scipy's): the exercise is to write the QR recipe yourself; "
                    "no points for delegating")
    return True


def _orthogonal(submission, shape, seed, gain=None) -> np.ndarray:
    args = (shape, Rng(seed)) if gain is None else (shape, Rng(seed), gain)
    what = f"orthogonal({shape}, rng{'' if gain is None else f', gain={gain}'})"
    return _shaped(submission.call("orthogonal", *args), shape, what)


def _shaped(got, shape, what: str) -> np.ndarray:
    """``got`` as an array of ``shape``, or the sentence naming how its shape went wrong."""
    rows, cols = shape
    if isinstance(got, np.ndarray) and got.ndim == 2 and tuple(got.shape) != shape:
        if rows < cols and got.shape == (cols, rows):
            raise AssertionError(f"{what} has shape {got.shape}: for a wide shape you took Q "
                                 "of the transposed problem - transpose it back")
        if rows < cols and got.shape == (rows, rows):
            raise AssertionError(f"{what} has shape {got.shape}: numpy's QR of the wide "
                                 "(rows, cols) matrix gives a square Q; take the QR of the "
                                 "transpose and transpose its Q back")
        if rows > cols and got.shape == (cols, cols):
            raise AssertionError(f"{what} has shape {got.shape}: is that R instead of Q?")
    return expect(got, shape=shape, dtype="f", what=what)


def _gram(w: np.ndarray) -> np.ndarray:
    rows, cols = w.shape
    return w @ w.T if rows < cols else w.T @ w


def _orthogonality_hint(w: np.ndarray, gain: float) -> str:
    rows, cols = w.shape
    gram = _gram(w)
    eye = np.eye(min(rows, cols))
    if np.allclose(gram, gain**4 * eye, atol=1e-8) and abs(gain) != 1:
        return " - did you multiply by gain**2? W W^T = gain^2 I already squares the gain"
    if np.allclose(gram, abs(gain) * eye, atol=1e-8) and abs(gain) != 1:
        return " - did you multiply by sqrt(gain)? the rows/columns should have norm gain"
    if np.allclose(gram, eye, atol=1e-8) and abs(gain) != 1:
        return " - did you leave out the gain?"
    if rows < cols:
        flat = w.reshape(cols, rows)
        if np.allclose(flat.T @ flat, gain**2 * np.eye(rows), atol=1e-8):
            return (" - you reshaped Q of the transposed problem to the shape: a reshape is "
                    "not a transpose (use .T)")
    if rows == cols and np.allclose(np.tril(w, -1), 0.0) and not np.allclose(w, np.diag(
            np.diag(w))):
        return " - it is upper triangular: did you return R instead of Q?"
    return ""


@pytest.mark.points(1, grade_id="test_orthogonal")
def test_orthogonal_is_orthogonal(submission, own_orthogonal, grade_seed):
    """orthogonal gives W^T W = I for square and tall shapes and W W^T = I for wide ones."""
    for i, shape in enumerate([(7, 7), (12, 5), (4, 11), (1, 9), (9, 1), (32, 32)]):
        w = _orthogonal(submission, shape, grade_seed + 1 + i)
        kind = "W W^T" if shape[0] < shape[1] else "W^T W"
        assert np.allclose(_gram(w), np.eye(min(shape)), atol=1e-10), \
            f"orthogonal({shape}, rng): {kind} is not the identity" + _orthogonality_hint(w, 1.0)


@pytest.mark.points(1, grade_id="test_orthogonal")
def test_orthogonal_gain(submission, own_orthogonal, grade_seed):
    """orthogonal(shape, rng, gain) gives W W^T (wide) or W^T W (tall) = gain^2 I."""
    for i, (shape, gain) in enumerate([((8, 8), 2.0), ((10, 4), 0.5), ((3, 7), 3.7),
                                       ((6, 6), 1.0 / 3.0)]):
        w = _orthogonal(submission, shape, grade_seed + 20 + i, gain)
        kind = "W W^T" if shape[0] < shape[1] else "W^T W"
        assert np.allclose(_gram(w), gain**2 * np.eye(min(shape)), atol=1e-10), \
            f"orthogonal({shape}, rng, gain={gain}): {kind} is not gain^2 I" \
            + _orthogonality_hint(w, gain)


@pytest.mark.points(1, grade_id="test_orthogonal")
def test_orthogonal_uses_rng(submission, own_orthogonal, grade_seed):
    """orthogonal draws from the rng it is given: same seed, same matrix; new seed, new one."""
    first = _orthogonal(submission, (6, 4), grade_seed + 99)
    again = _orthogonal(submission, (6, 4), grade_seed + 99)
    other = _orthogonal(submission, (6, 4), grade_seed + 100)
    assert np.array_equal(first, again), \
        "two rngs with the same seed gave different matrices - did you use the global " \
        "np.random instead of the given rng?"
    assert not np.array_equal(first, other), \
        "rngs with different seeds gave the same matrix: draw the Gaussian from the given rng"


def _haar_sample(submission, shape, seed0) -> np.ndarray:
    """HAAR_DRAWS matrices orthogonal(shape, rng) of the seeds seed0, seed0 + 1, ... (one
    round trip to the notebook for all of them)."""
    draws = submission.call_many("orthogonal", [(shape, Rng(seed0 + k))
                                                for k in range(HAAR_DRAWS)])
    return np.array([_shaped(w, shape, f"orthogonal({shape}, rng)") for w in draws])


def _check_haar(draws: np.ndarray, shape) -> None:
    """Q[0, 0] > 0 half of the time and mean trace 0: both exact for the Haar measure, each
    judged by the Haar measure's own standard error (0.5 / sqrt(draws) for the sign,
    sqrt(min(shape) / max(shape) / draws) for the trace) at N_SE = 5: a correct answer fails
    with probability about 1.2e-6 by design; measured 0 / 1,200 (400 seeds x 3 shapes)."""
    first = draws[:, 0, 0]
    positive = float(np.mean(first > 0))
    se = 0.5 / math.sqrt(len(first))
    if abs(positive - 0.5) > N_SE * se:
        if positive < 0.5 - N_SE * se:
            hint = (" - numpy's QR makes Q[0, 0] negative every time: did you forget the sign "
                    "fix, multiplying each column of Q by sign(diag R)?")
        else:
            hint = " - multiply the columns by sign(diag R), not by the signs of Q's diagonal"
        raise AssertionError(f"orthogonal({shape}) gave Q[0, 0] > 0 in {positive:.0%} of "
                             f"{len(first)} draws; for a Haar-distributed matrix it is 50%"
                             + hint)
    k = min(shape)
    trace = np.einsum("dii->d", draws[:, :k, :k])
    # Haar: the k diagonal entries have mean 0, variance 1/max(shape) and are uncorrelated
    # (a column's sign flip), so the trace has variance k / max(shape): the target's SE
    trace_se = math.sqrt(k / max(shape) / len(trace))
    assert abs(float(trace.mean())) <= N_SE * trace_se, \
        f"the trace of orthogonal({shape}) averages {trace.mean():.3f} over {len(trace)} " \
        "draws; for a Haar-distributed matrix it is 0 - check the sign fix (columns of Q " \
        "times sign(diag R))"


@pytest.mark.points(1, grade_id="test_haar")
def test_haar_square(submission, own_orthogonal, grade_seed):
    """Square draws are Haar-distributed: Q[0,0] is positive half of the time, mean trace 0."""
    _check_haar(_haar_sample(submission, (4, 4), grade_seed + 1000), (4, 4))


@pytest.mark.points(1, grade_id="test_haar")
def test_haar_tall_and_wide(submission, own_orthogonal, grade_seed):
    """Tall and wide draws are Haar-distributed too (the sign fix on the transposed QR)."""
    _check_haar(_haar_sample(submission, (5, 3), grade_seed + 5000), (5, 3))
    _check_haar(_haar_sample(submission, (3, 5), grade_seed + 9000), (3, 5))


# ----------------------------------------------------------------------------- bptt


def _student_norms(submission, w, steps, activation) -> np.ndarray:
    what = f"bptt_gradient_norms(W_hh, {steps}, {activation!r})"
    got = submission.call_unchecked("bptt_gradient_norms", w, steps, activation)
    if isinstance(got, list | tuple):
        got = np.asarray(got, dtype=float)
    got = expect(got, shape=(steps + 1,), dtype="f", finite=False, what=what)
    assert np.all(np.isfinite(got)), f"{what} contains NaN or infinity"
    return got


def _bptt_hint(got, w, steps, activation) -> str:
    want = reference_norms(w, steps, activation)
    n = w.shape[0]
    if np.allclose(got, want[::-1], rtol=1e-8):
        return " - the order is reversed: entry 0 is ||dL/dh_T|| (= 1), the last ||dL/dh_0||"
    if np.allclose(got, math.sqrt(n) * want, rtol=1e-8):
        return " - entry 0 should be 1: the loss is sum(h_T) / sqrt(n)"
    if np.allclose(got, want**2, rtol=1e-8):
        return " - these are squared norms: take the square root"
    if activation == "tanh" and np.allclose(got, _variant_norms(w, steps, activation,
                                                                prime=False), rtol=1e-8):
        return " - did you leave out tanh'(a_t) = 1 - tanh(a_t)^2?"
    if np.allclose(got, _variant_norms(w, steps, activation, transpose=False), rtol=1e-8):
        return " - the gradient flows back through W_hh^T, not W_hh"
    return ""


@pytest.mark.points(2, grade_id="test_bptt")
def test_bptt_matches_reference(submission, grade_seed):
    """bptt_gradient_norms equals a reference BPTT on hidden W_hh, linear and tanh."""
    rng = np.random.default_rng(grade_seed)
    for n, steps, g in [(5, 7, 1.3), (16, 25, 0.9), (3, 1, 2.0), (40, 60, 1.2), (8, 0, 1.0)]:
        w = rng.normal(0.0, g / math.sqrt(n), size=(n, n))
        for activation in ("linear", "tanh"):
            got = _student_norms(submission, w, steps, activation)
            want = reference_norms(w, steps, activation)
            assert np.allclose(got, want, rtol=1e-8, atol=1e-300), \
                f"bptt_gradient_norms(W_hh, {steps}, {activation!r}) differs from " \
                f"backprop through time on a {n} x {n} W_hh" \
                + _bptt_hint(got, w, steps, activation)


@pytest.mark.points(1, grade_id="test_bptt")
def test_bptt_on_orthogonal_and_far_from_zero(submission, grade_seed):
    """On an orthogonal W_hh, linear norms stay 1 and tanh ones follow the reference."""
    rng = np.random.default_rng(grade_seed + 1)
    q, r = np.linalg.qr(rng.normal(size=(24, 24)))
    w = q * np.sign(np.diag(r))
    lin = _student_norms(submission, w, 40, "linear")
    assert np.allclose(lin, 1.0, atol=1e-10), \
        "with a linear phi and an orthogonal W_hh every norm should be 1" \
        + _bptt_hint(lin, w, 40, "linear")
    # a saturating tanh (tanh' far from 1); gain 2 and 20 steps keep the chaotic forward pass
    # from amplifying rounding: other correct summation orders agree to 2e-13 (300 seeds)
    big = 2.0 * w
    got = _student_norms(submission, big, 20, "tanh")
    assert np.allclose(got, reference_norms(big, 20, "tanh"), rtol=1e-8, atol=1e-300), \
        "bptt_gradient_norms(2 Q, 20, 'tanh') differs from backprop through time" \
        + _bptt_hint(got, big, 20, "tanh")


# ----------------------------------------------------------------------------- comparison


def _rate(norms: np.ndarray) -> float:
    return float(np.log(norms[-1] / norms[0]) / (len(norms) - 1))


@pytest.mark.points(2, grade_id="test_compare")
def test_rates_with_student_functions(submission, own_orthogonal, grade_seed):
    """With your functions: linear orthogonal keeps the norm (1e-10); Gaussian g goes like g^T.

    The mean rate of 8 draws may miss log g by RATE_BIAS plus N_SE standard errors of the
    target's spread (RATE_SD / sqrt(8)): a correct answer's mean sits about 9 of its standard
    errors inside that, so false failures are below 1e-15 by design; measured 0 / 600
    (300 seeds x 2 gains), the largest miss 0.52 of the tolerance."""
    for k in range(3):
        w = _orthogonal(submission, (N_HIDDEN, N_HIDDEN), grade_seed + 300 + k)
        lin = _student_norms(submission, w, STEPS, "linear")
        worst = float(np.max(np.abs(lin - 1.0)))
        assert worst <= 1e-10, \
            f"with your orthogonal W_hh and a linear phi the gradient norm should stay 1 " \
            f"over {STEPS} steps; it moves by {worst:.2g}"
    rng = np.random.default_rng(grade_seed + 400)
    for g in (1.5, 0.5):
        rates = []
        for _ in range(8):
            w = rng.normal(0.0, g / math.sqrt(N_HIDDEN), size=(N_HIDDEN, N_HIDDEN))
            rates.append(_rate(_student_norms(submission, w, STEPS, "linear")))
        mean = float(np.mean(rates))
        se = RATE_SD / math.sqrt(len(rates))  # the target's spread, not the answers' own
        assert abs(mean - math.log(g)) <= RATE_BIAS + N_SE * se, \
            f"for Gaussian W_hh with g = {g} (linear phi), the gradient norm changes by a " \
            f"factor {math.exp(mean):.3g} per step on average over 8 draws; g^T predicts " \
            f"about {g} per step" + (" - is the order reversed (entry 0 is ||dL/dh_T||)?"
                                     if abs(mean + math.log(g)) < 0.2 else "")


def _lines(ax) -> dict:
    return {line.label.strip().lower(): line for line in ax.lines if line.kind == "line"}


@pytest.mark.points(1, grade_id="test_compare")
def test_bptt_figure(submission):
    """fig_bptt: linear and tanh panels, one labelled 101-point curve per init, log y axes."""
    fig = submission.figure("fig_bptt")
    assert len(fig.axes) >= 2, "fig_bptt should have two axes: fig_bptt, (ax_lin, ax_tanh) = " \
                               "plt.subplots(1, 2)"
    for ax, name in zip(fig.axes[:2], ("linear", "tanh"), strict=True):
        assert ax.yscale == "log", f"the {name} panel's y axis should be logarithmic"
        lines = _lines(ax)
        for label in LABELS:
            assert label in lines, f"the {name} panel has no curve labelled {label!r} " \
                                   f"(found {sorted(lines)})"
            line = lines[label]
            assert line.y.shape == (STEPS + 1,) and np.array_equal(line.x, np.arange(STEPS + 1)), \
                f"the {name} panel's {label!r} curve should have x = 0, 1, ..., {STEPS}"
    lin = _lines(fig.axes[0])
    assert np.allclose(lin["orthogonal"].y, 1.0, atol=1e-10), \
        "the linear panel's 'orthogonal' curve should stay at 1"
    assert lin["gaussian g=1.5"].y[-1] > 1e8 and lin["gaussian g=0.5"].y[-1] < 1e-12, \
        "in the linear panel g = 1.5 should grow to about 1.5^100 and g = 0.5 vanish to " \
        "about 0.5^100: are the Gaussians N(0, g^2/n), drawn as the notebook says?"


# ----------------------------------------------------------------------------- adding task


def _train(submission, init: str, seed: int) -> np.ndarray:
    probe = submission.probe("train_adding", init, seed, spy=["orthogonal"],
                             forbid=KIT_ORTHOGONAL)
    if probe.error:
        raise AssertionError(f"train_adding({init!r}, seed) raised {probe.error}")
    if probe.forbidden:
        raise AssertionError(f"train_adding({init!r}, seed) ran the kit's orthogonal "
                             "initializer (RNN's default init_hh='orthogonal'?): build the RNN "
                             "with init_hh='zeros' and set W_hh from your own orthogonal")
    if init == "orthogonal" and not probe.calls.get("orthogonal"):
        raise AssertionError("train_adding('orthogonal', seed) never called your orthogonal")
    value = probe.value
    if isinstance(value, list | tuple):
        value = np.asarray(value, dtype=float)
    return expect(value, shape=(EPOCHS,), dtype="f",
                  what=f"train_adding({init!r}, seed) (the {EPOCHS} per-epoch test MSEs)")


@pytest.mark.points(2, grade_id="test_adding")
def test_adding_rerun_with_hidden_seed(submission, grade_seed):
    """Rerun with a hidden seed: orthogonal ends below the baseline 1/6, Gaussian worse.

    Where the submission misses a claim, the seed counts only if the notebook's recipe
    meets both there by ``ADDING_MARGIN`` (:func:`reference_adding`, trusted); otherwise the
    next seed is tried, up to ``ADDING_SEEDS``. So a correct answer is never failed by a
    seed at which the recipe itself fails (seed 276031: orthogonal 0.142, Gaussian 0.134).
    """
    for k in range(ADDING_SEEDS):
        seed = 1 + (grade_seed + k) % 1_000_000
        orth = _train(submission, "orthogonal", seed)
        gauss = _train(submission, "gaussian", seed)
        if adding_claims_hold(orth, gauss) or adding_claims_hold(
                reference_adding("orthogonal", seed), reference_adding("gaussian", seed),
                ADDING_MARGIN):
            break
    assert orth[-1] < BASELINE, \
        f"with a hidden seed, the orthogonal RNN's final test MSE is {orth[-1]:.4f}, not " \
        f"below the no-learning baseline 1/6: check the recipe of train_adding"
    assert gauss[-1] > orth[-1], \
        f"with a hidden seed, the Gaussian RNN's final test MSE {gauss[-1]:.4f} is not worse " \
        f"than the orthogonal one's {orth[-1]:.4f}: is its W_hh N(0, g^2/n) with g = G_TRAIN?"


@pytest.mark.points(1, grade_id="test_adding")
def test_adding_figure(submission):
    """fig_adding: both runs' test MSE per epoch and the baseline 1/6, labelled."""
    fig = submission.figure("fig_adding")
    assert fig.axes, "fig_adding has no axes: plot into `fig_adding, ax = plt.subplots()`"
    lines = _lines(fig.axes[0])
    for label in ("orthogonal", "gaussian", "baseline"):
        assert label in lines, f"fig_adding has no line labelled {label!r} (found " \
                               f"{sorted(lines)})"
    assert np.allclose(lines["baseline"].y, BASELINE, rtol=1e-6), \
        "the 'baseline' line should be at the no-learning MSE 1/6"
    for label in ("orthogonal", "gaussian"):
        line = lines[label]
        assert line.y.shape == (EPOCHS,) and np.array_equal(line.x, np.arange(1, EPOCHS + 1)), \
            f"the {label!r} curve should have one point per epoch, x = 1, ..., {EPOCHS}"
    assert lines["orthogonal"].y[-1] < BASELINE and \
        lines["orthogonal"].y[-1] < lines["gaussian"].y[-1], \
        "the 'orthogonal' curve should end below the baseline and below the 'gaussian' one"
