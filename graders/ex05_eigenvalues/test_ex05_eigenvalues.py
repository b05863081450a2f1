"""Hidden graders of ex05_eigenvalues (instructors only: never in exercises/ or the wheel).

Every check reaches the notebook through the ``submission`` fixture (data only) and draws
fresh inputs from ``grade_seed``, so answers hard-coded to the visible tests earn nothing
here. The ``grade_id`` of each ``points`` marker is the nbgrader cell whose hidden block runs
it (``initkit.course.hidden_checks``); the cell's points are the sum of its markers.

The contract they check is the notebook's: ``circular_law_radius(std, n) = std sqrt(n)``
(Girko 1984, Tao & Vu 2010), ``largest_singular_value(std, n) = 2 std sqrt(n)`` (the square
Marchenko-Pastur edge); ``init_std`` gives the entry std of xavier, he, bad and orthogonal
for an (n, n) matrix; ``weight_matrix(init, n, rng)`` draws one (n, n) matrix from ``rng``;
``singular_values(W)`` gives the min(m, k) singular values of any (m, k) matrix, largest
first; ``spectrum(init, n, rng)`` is ``(eigvals(W), singular_values(W))`` of
``W = weight_matrix(init, n, rng)``; ``fig`` has one panel per init titled with its name,
holding a scatter of the eigenvalues and the predicted circle as a line; the per-layer
variance growth is ``n std^2`` and the lesson's bad net gives about 1.1e33.

Finite n (measured over 600 seeds at n = 512, see ``RETRIES``): the spectral radius of a
Gaussian matrix overshoots std sqrt(n) by 3.0% on average (sd 1.4%, largest 9.1%) and by more
than 5% for 9.5% of the matrices, so a single-matrix 5% check would fail about one correct
answer in ten. The radius check re-measures on fresh matrices when the overshoot is between
5% and 25% (only the soft edge gives that; every named mistake is off by a factor of sqrt(2)
or more). The largest singular value fluctuates by 0.6% (Tracy-Widom; the 200 seeds measured
stayed within 2%): one matrix suffices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from initkit.course import check_variance, diagnose
from initkit.grading import Rng, expect
from initkit.grading.submission import StudentError

INITS = ("xavier", "he", "bad", "orthogonal")
GAUSSIAN = ("xavier", "he", "bad")
#: the lesson's printed "bad final variance" (VarianceSimulator(20, 128, seed=42))
LESSON_BAD = 1100063550125093781839691019976704.0
#: relative tolerance of the two laws at n >= 512
TOL = 0.05
#: overshoots of the spectral radius in (1 + TOL, SOFT_EDGE] are re-measured, up to RETRIES
#: fresh matrices: P(ratio > 1.05) ~ 0.10 and P(ratio > 1.25) < 1e-8 at n = 512 (a Gumbel
#: tail fitted to 600 seeds), so a correct answer fails with probability ~ 0.1**8 = 1e-8
SOFT_EDGE = 1.25
RETRIES = 8


def true_std(init: str, n: int) -> float:
    """The entry std of each init for an (n, n) matrix (n_in = n_out = n)."""
    return {"xavier": math.sqrt(2.0 / (n + n)), "he": math.sqrt(2.0 / n), "bad": 0.6,
            "orthogonal": 1.0 / math.sqrt(n)}[init]


def hidden_n(grade_seed: int) -> int:
    """The matrix size of the finite-n checks: 512, 528, 544 or 560."""
    return 512 + 16 * (grade_seed % 4)


def _float(submission, name: str, *args) -> float:
    call = ", ".join(repr(a) for a in args)
    return expect(submission.call(name, *args), float, what=f"{name}({call})")


def _exact(got: float, want: float, what: str, formula: str, mistakes: dict[str, float]):
    if math.isclose(got, want, rel_tol=1e-9):
        return
    phrase = diagnose(got, mistakes, 1e-6 * abs(want))
    hint = f" - did you {phrase}?" if phrase else ""
    raise AssertionError(f"{what} is {got:.6g}; {formula}{hint}")


# ----------------------------------------------------------------------------- the laws


def _law_inputs(grade_seed: int, k: int) -> list[tuple[float, int]]:
    rng = np.random.default_rng([grade_seed, k])
    return [(round(float(rng.uniform(0.01, 2.0)), 4), int(rng.integers(3, 5000)))
            for _ in range(4)]


@pytest.mark.points(1, grade_id="test_laws")
def test_circular_law_radius(submission, grade_seed):
    """circular_law_radius(std, n) is std * sqrt(n) exactly (Girko's circular law)."""
    for std, n in _law_inputs(grade_seed, 1):
        _exact(_float(submission, "circular_law_radius", std, n), std * math.sqrt(n),
               f"circular_law_radius({std}, {n})", "the radius is std * sqrt(n)",
               {"leave out sqrt(n)": std,
                "take sqrt(std * n) (std is a standard deviation, not a variance)":
                    math.sqrt(std * n),
                "use the variance std**2": std**2 * math.sqrt(n),
                "use n instead of sqrt(n)": std * n})


@pytest.mark.points(1, grade_id="test_laws")
def test_largest_singular_value(submission, grade_seed):
    """largest_singular_value(std, n) is 2 * std * sqrt(n) exactly (Marchenko-Pastur edge)."""
    for std, n in _law_inputs(grade_seed, 2):
        _exact(_float(submission, "largest_singular_value", std, n), 2 * std * math.sqrt(n),
               f"largest_singular_value({std}, {n})", "the edge is 2 * std * sqrt(n)",
               {"leave out sqrt(n)": 2 * std,
                "forget the factor 2 (std * sqrt(n) is the circular-law radius)":
                    std * math.sqrt(n),
                "use the variance std**2": 2 * std**2 * math.sqrt(n),
                "square it (4 std^2 n is the largest eigenvalue of W^T W)": 4 * std**2 * n})


# ----------------------------------------------------------------------------- the matrices


@pytest.mark.points(1, grade_id="test_matrices")
def test_init_std(submission, grade_seed):
    """init_std(init, n) is each init's entry std for an n x n matrix, for other sizes n."""
    rng = np.random.default_rng([grade_seed, 3])
    for n in (int(rng.integers(50, 400)), int(rng.integers(400, 3000))):
        for init in INITS:
            want = true_std(init, n)
            _exact(_float(submission, "init_std", init, n), want, f"init_std({init!r}, {n})",
                   {"xavier": "Glorot's std is sqrt(2 / (n_in + n_out))",
                    "he": "He's std is sqrt(2 / n_in)", "bad": "the lesson's bad std is 0.6",
                    "orthogonal": "each row of an orthogonal matrix is a unit vector, so its "
                                  "n entries have variance 1/n"}[init],
                   {"return the variance instead of the std": want**2,
                    "use 2/n_in (He's rule)": math.sqrt(2.0 / n),
                    "use 1/n_in (Xavier's for a square matrix)": math.sqrt(1.0 / n),
                    "give the orthogonal entries std 1 (they are 1/sqrt(n))": 1.0})


@pytest.mark.points(1, grade_id="test_matrices")
def test_weight_matrix_distribution(submission, grade_seed):
    """weight_matrix draws N(0, std^2) entries (variance, mean, kurtosis and KS against that
    normal, n^2 >= 6400 draws), or an orthogonal matrix, of shape (n, n). A correct answer
    fails with probability at most 6e-6 (three samples of check_variance's 2e-6)."""
    n = 80 + grade_seed % 41
    for i, init in enumerate(INITS):
        what = f"weight_matrix({init!r}, {n}, rng)"
        w = expect(submission.call("weight_matrix", init, n, Rng(grade_seed + i)),
                   shape=(n, n), dtype="f", what=what)
        if init == "orthogonal":
            err = float(np.abs(w.T @ w - np.eye(n)).max())
            assert err <= 1e-10, f"{what} is not orthogonal: Q^T Q differs from I by {err:.2g}"
            continue
        std = true_std(init, n)
        mistakes = {"pass the variance where the std is meant": std**4,
                    "use 2/n_in (He's rule)": 2.0 / n,
                    "use 1/n_in (Xavier's for a square matrix)": 1.0 / n}
        check_variance(w, std**2, what, formula=f"the {init} variance",
                       mistakes={k: v for k, v in mistakes.items()
                                 if not math.isclose(v, std**2, rel_tol=0.05)})


@pytest.mark.points(1, grade_id="test_matrices")
def test_weight_matrix_uses_rng(submission, grade_seed):
    """weight_matrix draws from the rng it is given: same seed, same matrix; new seed, new."""
    for init in ("he", "orthogonal"):
        what = f"weight_matrix({init!r}, 20, rng)"
        first, again, other = (expect(submission.call("weight_matrix", init, 20, Rng(s)),
                                      shape=(20, 20), what=what)
                               for s in (grade_seed + 50, grade_seed + 50, grade_seed + 51))
        assert np.array_equal(first, again), \
            f"two rngs with the same seed gave different {init} matrices - did you use the " \
            "global np.random instead of the given rng?"
        assert not np.array_equal(first, other), \
            f"rngs with different seeds gave the same {init} matrix: draw from the given rng"


# ----------------------------------------------------------------------------- the spectra


def _reference_rectangular(rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.normal(size=shape) for shape in ((7, 3), (3, 7), (1, 4), (6, 6))]


@pytest.mark.points(1, grade_id="test_spectra")
def test_singular_values(submission, grade_seed):
    """singular_values(W) are W's own min(m, k) singular values, largest first, any shape."""
    for w in _reference_rectangular(np.random.default_rng([grade_seed, 4])):
        what = f"singular_values of a {w.shape[0]} x {w.shape[1]} matrix"
        probe = submission.probe("singular_values", w)
        if probe.error:
            hint = " - did you call np.linalg.eigvals on a non-square matrix? Eigenvalues " \
                   "exist only for square ones; use np.linalg.svd(W, compute_uv=False)" \
                if probe.error_type == "LinAlgError" and w.shape[0] != w.shape[1] else ""
            raise AssertionError(f"{what} raised {probe.error}{hint}")
        got = probe.value
        if isinstance(got, list | tuple):
            got = np.asarray(got, dtype=float)
        want = np.linalg.svd(w, compute_uv=False)
        if isinstance(got, np.ndarray) and got.ndim == 1 and got.size == want.size \
                and got.dtype.kind in "biuf":
            if np.allclose(got, want, rtol=1e-8, atol=1e-12):
                continue
            if np.allclose(got, want**2, rtol=1e-8, atol=1e-12):
                raise AssertionError(f"{what} are the squares of its singular values - did "
                                     "you take the singular values of W^T W (or W W^T) "
                                     "instead of W's?")
            if np.allclose(np.sort(got), np.sort(want), rtol=1e-8, atol=1e-12):
                raise AssertionError(f"{what} are not in order: return them largest first")
            if w.shape[0] == w.shape[1] and np.allclose(
                    np.sort(got), np.sort(np.abs(np.linalg.eigvals(w))), rtol=1e-8):
                raise AssertionError(f"{what} are the moduli of its eigenvalues - did you "
                                     "take |eigenvalues| as singular values? They agree only "
                                     "for normal matrices; use np.linalg.svd")
        got = expect(got, shape=want.shape, dtype="f", what=what)
        raise AssertionError(f"{what} differ from np.linalg.svd(W, compute_uv=False)")


def _match(got: np.ndarray, want: np.ndarray, tol: float) -> bool:
    """The two arrays hold the same complex numbers in any order (within tol)."""
    if got.shape != want.shape:
        return False
    dist = np.abs(got[:, None] - want[None, :])
    return bool(dist.min(axis=0).max() <= tol and dist.min(axis=1).max() <= tol)


def _spectrum(submission, init: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    what = f"spectrum({init!r}, {n}, rng)"
    got = submission.call("spectrum", init, n, Rng(seed))
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise AssertionError(f"{what} should return a tuple (eigenvalues, singular_values)")
    ev = expect(got[0], shape=(n,), dtype="fc", what=f"{what}[0] (the eigenvalues)")
    sv = expect(got[1], shape=(n,), dtype="f", what=f"{what}[1] (the singular values)")
    return ev.astype(complex), sv


@pytest.mark.points(1, grade_id="test_spectra")
def test_spectrum_is_the_spectrum_of_weight_matrix(submission, grade_seed):
    """spectrum(init, n, rng) gives eigvals and singular values of weight_matrix(init, n, rng)."""
    n = 40
    for i, init in enumerate(INITS):
        seed = grade_seed + 100 + i
        w = expect(submission.call("weight_matrix", init, n, Rng(seed)), shape=(n, n),
                   what=f"weight_matrix({init!r}, {n}, rng)")
        again = expect(submission.call("weight_matrix", init, n, Rng(seed)), shape=(n, n),
                       what=f"weight_matrix({init!r}, {n}, rng)")
        ev, sv = _spectrum(submission, init, n, seed)
        want_ev = np.linalg.eigvals(w)
        want_sv = np.linalg.svd(w, compute_uv=False)
        scale = max(float(np.abs(want_ev).max()), 1e-300)
        if not np.array_equal(w, again):
            raise AssertionError("weight_matrix gives different matrices for the same seed, so "
                                 "spectrum cannot be checked against it - did you use the "
                                 "global np.random instead of the given rng?")
        if not _match(ev, want_ev.astype(complex), 1e-8 * scale):
            if _match(ev, (want_sv**2).astype(complex), 1e-8 * scale**2 * 4 + 1e-12):
                hint = " - did you take the eigenvalues of W^T W (the squared singular values)?"
            elif _match(ev, want_sv.astype(complex), 1e-8 * scale * 2):
                hint = " - these are its singular values"
            else:
                hint = (" - spectrum should draw exactly one matrix with "
                        "weight_matrix(init, n, rng) and nothing else from rng")
            raise AssertionError(f"spectrum({init!r}, {n}, rng)[0] are not the eigenvalues of "
                                 f"weight_matrix({init!r}, {n}, rng) with the same seed{hint}")
        if not np.allclose(sv, want_sv, rtol=1e-8, atol=1e-12):
            if np.allclose(sv, want_sv**2, rtol=1e-8, atol=1e-12):
                hint = " - did you report the singular values of W^T W (their squares)?"
            elif np.allclose(np.sort(sv), np.sort(np.abs(want_ev)), rtol=1e-8):
                hint = " - these are the moduli of the eigenvalues, not the singular values"
            elif np.allclose(np.sort(sv), np.sort(want_sv), rtol=1e-8):
                hint = " - list them largest first"
            else:
                hint = ""
            raise AssertionError(f"spectrum({init!r}, {n}, rng)[1] are not the singular "
                                 f"values of weight_matrix({init!r}, {n}, rng){hint}")


# ----------------------------------------------------------------------------- finite-n laws


@pytest.fixture(scope="module")
def edges(submission, grade_seed):
    """init -> list of (spectral radius / std sqrt(n), s_max / (2 std sqrt(n))) per matrix
    measured at the hidden n, re-measured while the radius is in the soft-edge band; or the
    failure sentence (str) when the submission could not be measured."""
    n = hidden_n(grade_seed)
    out: dict[str, list[tuple[float, float]] | str] = {}
    for i, init in enumerate(GAUSSIAN):
        radius = true_std(init, n) * math.sqrt(n)
        ratios: list[tuple[float, float]] = []
        try:
            for retry in range(RETRIES):
                ev, sv = _spectrum(submission, init, n, grade_seed + 1000 * (i + 1) + retry)
                ratios.append((float(np.abs(ev).max()) / radius,
                               float(sv.max()) / (2 * radius)))
                if not 1 + TOL < ratios[-1][0] <= SOFT_EDGE:
                    break
        except StudentError as exc:
            out[init] = str(exc)
            continue
        out[init] = ratios
    return n, out


def _mistake(ratio: float, init: str, n: int) -> str:
    """A hint for a measured/predicted ratio: a std given as a variance gives ratio = std."""
    phrase = diagnose(ratio, {"pass the variance where the std is meant": true_std(init, n)},
                      0.1 * ratio)
    return f" - did you {phrase}?" if phrase else " - check init_std and weight_matrix"


@pytest.mark.points(1, grade_id="test_edges")
def test_spectral_radius(submission, edges):
    """At hidden n >= 512 the spectral radius is within 5% of std * sqrt(n) for each init."""
    n, measured = edges
    for init in GAUSSIAN:
        ratios = measured[init]
        if isinstance(ratios, str):
            raise AssertionError(ratios)
        ratio = ratios[-1][0]
        assert abs(ratio - 1) <= TOL, \
            f"the spectral radius of the {init} matrices at n = {n} is {ratio:.3g} times the " \
            f"circular-law radius std * sqrt(n); it should be within 5%{_mistake(ratio, init, n)}"


@pytest.mark.points(1, grade_id="test_edges")
def test_largest_singular_value_edge(submission, edges):
    """At hidden n >= 512 the largest singular value is within 5% of 2 std sqrt(n)."""
    n, measured = edges
    for init in GAUSSIAN:
        ratios = measured[init]
        if isinstance(ratios, str):
            raise AssertionError(ratios)
        for rho, ratio in ratios:
            if abs(ratio - 1) <= TOL:
                continue
            edge = 2 * true_std(init, n) * math.sqrt(n)
            if abs(ratio / edge - 1) <= TOL:
                hint = " - did you report the singular values of W^T W (their squares)?"
            elif math.isclose(2 * ratio, rho, rel_tol=1e-9):
                hint = " - did you take the largest |eigenvalue| (the spectral radius, about " \
                       "half the edge) as the largest singular value?"
            else:
                hint = _mistake(ratio, init, n)
            raise AssertionError(f"the largest singular value of the {init} matrices at n = {n} "
                                 f"is {ratio:.3g} times 2 * std * sqrt(n); it should be within "
                                 f"5%{hint}")


@pytest.mark.points(1, grade_id="test_edges")
def test_orthogonal_spectrum_on_unit_circle(submission, grade_seed):
    """An orthogonal matrix's eigenvalues and singular values all have modulus 1 (to 1e-8)."""
    n = hidden_n(grade_seed)
    ev, sv = _spectrum(submission, "orthogonal", n, grade_seed + 7)
    worst_ev = float(np.abs(np.abs(ev) - 1).max())
    worst_sv = float(np.abs(sv - 1).max())
    assert worst_ev <= 1e-8, \
        f"an orthogonal matrix's eigenvalues should all have modulus 1; at n = {n} one is off " \
        f"by {worst_ev:.2g} - is weight_matrix('orthogonal', n, rng) orthogonal?"
    assert worst_sv <= 1e-8, \
        f"an orthogonal matrix's singular values should all be 1; at n = {n} one is off by " \
        f"{worst_sv:.2g}"


# ----------------------------------------------------------------------------- the figure


def _panels(submission) -> dict[str, object]:
    fig = submission.figure("fig")
    panels = {}
    for init in INITS:
        found = [ax for ax in fig.axes if ax.title.strip().lower().startswith(init)]
        assert found, f"fig has no panel whose title begins with {init!r}: give each panel " \
                      "its init's name, ax.set_title(...)"
        panels[init] = found[0]
    return panels


def _eigen_points(ax, init: str) -> np.ndarray:
    clouds = [s for s in ax.lines if s.kind == "scatter" and s.x.size >= 512]
    assert clouds, f"the {init!r} panel has no scatter of at least 512 eigenvalues: " \
                   "ax.scatter(ev.real, ev.imag)"
    cloud = max(clouds, key=lambda s: s.x.size)
    return cloud.x + 1j * cloud.y


@pytest.mark.points(1, grade_id="test_figure")
def test_figure_shows_each_inits_eigenvalues(submission):
    """Each init's panel shows its n >= 512 eigenvalues: the disc, or the unit circle."""
    for init, ax in _panels(submission).items():
        z = _eigen_points(ax, init)
        n = z.size
        modulus = np.abs(z)
        if init == "orthogonal":
            assert np.abs(modulus - 1).max() <= 1e-6, \
                "the 'orthogonal' panel's points should all lie on the unit circle |λ| = 1"
            continue
        radius = true_std(init, n) * math.sqrt(n)
        # uniform on the disc: the median modulus is R / sqrt(2); the edge overshoots a little
        median = float(np.median(modulus)) * math.sqrt(2) / radius
        top = float(modulus.max()) / radius
        if abs(median - 1) <= TOL and 1 - TOL <= top <= SOFT_EDGE:
            continue
        theirs = float(np.median(modulus)) * math.sqrt(2)  # the radius of the disc drawn
        if 1 - TOL <= modulus.max() / theirs <= SOFT_EDGE:  # a filled disc, of another size
            raise AssertionError(
                f"the {init!r} panel's eigenvalues fill a disc of radius {theirs:.3g}, not the "
                f"circular law's std * sqrt(n) = {radius:.3g} for {n} x {n} {init} matrices: "
                f"the matrices' entries have std {theirs / math.sqrt(n):.3g} instead of "
                f"{true_std(init, n):.3g}{_upstream_std(submission, init, n)}")
        raise AssertionError(
            f"the {init!r} panel's points do not fill the disc of radius std * sqrt(n) of "
            f"{n} x {n} {init} matrices: plot x = ev.real, y = ev.imag of its eigenvalues")


def _upstream_std(submission, init: str, n: int) -> str:
    """" - init_std is wrong above" when the student's init_std(init, n) is, else a pointer."""
    try:
        got = float(submission.call("init_std", init, n))
    except (AssertionError, TypeError, ValueError):
        got = None
    if got is not None and not math.isclose(got, true_std(init, n), rel_tol=1e-6):
        return f" - init_std({init!r}, {n}) = {got:.4g} is wrong above; the figure follows it"
    return " - check weight_matrix (the matrices check above)"


def _circle_radii(ax) -> list[float]:
    """Radii of the panel's lines that are closed circles around 0."""
    radii = []
    for line in ax.lines:
        if line.kind != "line" or line.x.size < 16:
            continue
        r = np.hypot(line.x, line.y)
        if r.mean() <= 0 or r.std() > 1e-6 * r.mean():
            continue
        angles = np.sort(np.arctan2(line.y, line.x))
        gaps = np.diff(np.concatenate([angles, [angles[0] + 2 * np.pi]]))
        if gaps.max() <= 0.5:
            radii.append(float(r.mean()))
    return radii


@pytest.mark.points(1, grade_id="test_figure")
def test_figure_draws_the_predicted_circles(submission):
    """Each init's panel draws the circle of radius std * sqrt(n) as a line."""
    failures: list[tuple[str | None, str]] = []
    for init, ax in _panels(submission).items():
        n = _eigen_points(ax, init).size
        std = true_std(init, n)
        want = std * math.sqrt(n)
        radii = _circle_radii(ax)
        assert radii, f"the {init!r} panel has no closed circle drawn as a line: " \
                      "t = np.linspace(0, 2 * np.pi, 200); ax.plot(r * np.cos(t), r * np.sin(t))" \
                      " (a plt.Circle patch is not read)"
        if any(math.isclose(r, want, rel_tol=1e-6) for r in radii):
            continue
        upstream = _upstream_std(submission, init, n)
        if "is wrong above" in upstream and any(
                math.isclose(r, float(submission.call("init_std", init, n)) * math.sqrt(n),
                             rel_tol=1e-6) for r in radii):
            failures.append(("init_std", f"the {init!r} panel's circle has radius "
                                         f"{radii[0]:.4g}, std * sqrt(n) with your std"
                                         f"{upstream}"))
            continue
        phrase = diagnose(radii[0], {"leave out sqrt(n)": std,
                                     "take sqrt(std * n)": math.sqrt(std * n),
                                     "use the variance std**2": std**2 * math.sqrt(n),
                                     "draw the singular-value edge 2 std sqrt(n)": 2 * want},
                          1e-6 * want)
        failures.append((phrase, f"the {init!r} panel's circle has radius {radii[0]:.4g}, not "
                                 f"the circular-law radius std * sqrt(n) of its {n} eigenvalues"
                                 + (f" - did you {phrase}?" if phrase else "")))
    if failures:
        # a panel where the mistake is told apart (for xavier, std = 1/sqrt(n), leaving out
        # sqrt(n) and squaring the std give the same radius), else the first panel
        named = [sentence for phrase, sentence in failures if phrase]
        raise AssertionError((named or [failures[0][1]])[0])


# ----------------------------------------------------------------------------- the lesson


@pytest.mark.points(1, grade_id="test_lesson")
def test_growth_formulas(submission, grade_seed):
    """per_layer_growth is n * std^2 and predicted_final_variance its power, at other inputs."""
    rng = np.random.default_rng([grade_seed, 5])
    for _ in range(3):
        std, n = round(float(rng.uniform(0.05, 1.5)), 3), int(rng.integers(10, 400))
        layers, var0 = int(rng.integers(3, 25)), round(float(rng.uniform(0.2, 3.0)), 3)
        g = n * std**2
        _exact(_float(submission, "per_layer_growth", std, n), g,
               f"per_layer_growth({std}, {n})", "the variance grows by n * std^2 per layer",
               {"use n * std (the std where the variance is asked)": n * std,
                "use the radius std * sqrt(n) (the variance grows by its square)":
                    std * math.sqrt(n), "leave out n": std**2})
        got = expect(submission.call("predicted_final_variance", std, n, layers,
                                     input_variance=var0), float,
                     what=f"predicted_final_variance({std}, {n}, {layers}, input_variance={var0})")
        _exact(got, var0 * g**layers,
               f"predicted_final_variance({std}, {n}, {layers}, input_variance={var0})",
               "it is input_variance * (n std^2)^layers",
               {"use layers - 1 layers": var0 * g ** (layers - 1),
                "use layers + 1 layers": var0 * g ** (layers + 1),
                "leave out input_variance": g**layers,
                "use n * std (the std where the variance is asked)": var0 * (n * std) ** layers})


@pytest.mark.points(1, grade_id="test_lesson")
def test_predicted_bad_order_of_magnitude(submission):
    """predicted_bad is within a factor of 10 of the lesson's bad final variance 1.1e33."""
    assert "predicted_bad" in submission, "the notebook defines no variable predicted_bad"
    got = expect(submission.get("predicted_bad"), float, what="predicted_bad")
    assert got > 0, f"predicted_bad is {got:.3g}; a variance is positive"
    off = math.log10(got / LESSON_BAD)
    if abs(off) < 1:
        return
    phrase = diagnose(got, {"use n * std (the std where the variance is asked)": 76.8**20,
                            "use the radius std * sqrt(n) as the growth": 46.08**10,
                            "use 19 layers": 46.08**19, "use 21 layers": 46.08**21},
                      1e-6 * got)
    raise AssertionError(f"predicted_bad is {got:.3g}, {abs(off):.1f} orders of magnitude "
                         f"{'above' if off > 0 else 'below'} the lesson's 1.1e33"
                         + (f" - did you {phrase}?" if phrase else ""))
