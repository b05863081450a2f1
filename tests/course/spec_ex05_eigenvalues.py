"""Planted wrong answers of ex05_eigenvalues and the points each must lose.

``PLANTED[name]`` replaces answer cells (by grade_id) of the reference; ``EXPECTED[name]``
gives the score of every autograded cell that the mistake costs points (the others keep
full marks), the same under ``nbgrader autograde`` and ``initkit grade``.
"""

PLANTED = {
    # the visible law test names it; the circles drawn with it are too small as well
    "sqrt_n_missing": {"laws": '''
def circular_law_radius(std, n):
    return float(std)


def largest_singular_value(std, n):
    return float(2.0 * std)
'''},
    # the std where the variance is asked: 76.8 per layer instead of 46.08
    "growth_uses_std": {"lesson": '''
def per_layer_growth(std, n):
    return float(n * std)


def predicted_final_variance(std, n, layers, input_variance=1.0):
    return float(input_variance * per_layer_growth(std, n) ** layers)


predicted_bad = predicted_final_variance(0.6, 128, 20)
'''},
    # |eigenvalues| as singular values: LinAlgError on the visible 2 x 3 matrix, and the
    # "largest singular value" is then the spectral radius, half the edge
    "eigvals_nonsquare": {"spectra": '''
def singular_values(W):
    return np.sort(np.abs(np.linalg.eigvals(W)))[::-1]


def spectrum(init, n, rng):
    W = weight_matrix(init, n, rng)
    return np.linalg.eigvals(W), singular_values(W)
'''},
    # the singular values of W^T W are the squares of W's
    "gram_singular_values": {"spectra": '''
def singular_values(W):
    return np.linalg.svd(W.T @ W, compute_uv=False)


def spectrum(init, n, rng):
    W = weight_matrix(init, n, rng)
    return np.linalg.eigvals(W), singular_values(W)
'''},
    # the visible same-seed test of weight_matrix's own cell fails (not spectrum's: that
    # cell keeps singular_values' point, and its spectrum check names weight_matrix as why)
    "global_np_random": {"matrices": '''
def init_std(init, n):
    stds = {"xavier": np.sqrt(2.0 / (n + n)), "he": np.sqrt(2.0 / n), "bad": 0.6,
            "orthogonal": 1.0 / np.sqrt(n)}
    return float(stds[init])


def weight_matrix(init, n, rng):
    if init == "orthogonal":
        q, r = np.linalg.qr(np.random.normal(0.0, 1.0, size=(n, n)))
        return q * np.sign(np.diag(r))
    return np.random.normal(0.0, init_std(init, n), size=(n, n))
'''},
    # only the hidden checks see it: init_std and the orthogonal panel's circle
    "orthogonal_std_one": {"matrices": '''
def init_std(init, n):
    stds = {"xavier": np.sqrt(2.0 / (n + n)), "he": np.sqrt(2.0 / n), "bad": 0.6,
            "orthogonal": 1.0}
    return float(stds[init])


def weight_matrix(init, n, rng):
    if init == "orthogonal":
        q, r = np.linalg.qr(rng.normal(0.0, 1.0, size=(n, n)))
        return q * np.sign(np.diag(r))
    return rng.normal(0.0, init_std(init, n), size=(n, n))
'''},
    # the variance passed where numpy wants the std (init_std itself is right): the visible
    # variance test names it; the spectra and the panels drawn from it shrink
    "variance_for_std": {"matrices": '''
def init_std(init, n):
    stds = {"xavier": np.sqrt(2.0 / (n + n)), "he": np.sqrt(2.0 / n), "bad": 0.6,
            "orthogonal": 1.0 / np.sqrt(n)}
    return float(stds[init])


def weight_matrix(init, n, rng):
    if init == "orthogonal":
        q, r = np.linalg.qr(rng.normal(0.0, 1.0, size=(n, n)))
        return q * np.sign(np.diag(r))
    return rng.normal(0.0, init_std(init, n) ** 2, size=(n, n))
'''},
    # the singular values scattered in the panels instead of the eigenvalues
    "panels_show_singular_values": {"experiment": '''
rng = np.random.default_rng(0)
spectra = {init: spectrum(init, N, rng) for init in INITS}

fig, axes = plt.subplots(2, 2, figsize=(8, 8))
t = np.linspace(0.0, 2.0 * np.pi, 200)
for ax, init in zip(axes.ravel(), INITS, strict=True):
    _, sv = spectra[init]
    r = circular_law_radius(init_std(init, N), N)
    ax.scatter(sv, np.zeros_like(sv), s=4)
    ax.plot(r * np.cos(t), r * np.sin(t), linestyle="--")
    ax.set_title(f"{init}: R = {r:.3g}")
'''},
    # the sign fix written as q * diag(R) instead of q * sign(diag(R)): no longer orthogonal
    "sign_fix_without_sign": {"matrices": '''
def init_std(init, n):
    stds = {"xavier": np.sqrt(2.0 / (n + n)), "he": np.sqrt(2.0 / n), "bad": 0.6,
            "orthogonal": 1.0 / np.sqrt(n)}
    return float(stds[init])


def weight_matrix(init, n, rng):
    if init == "orthogonal":
        q, r = np.linalg.qr(rng.normal(0.0, 1.0, size=(n, n)))
        return q * np.diag(r)
    return rng.normal(0.0, init_std(init, n), size=(n, n))
'''},
}

EXPECTED = {
    "sqrt_n_missing": {"test_laws": 0.0, "test_figure": 1.0},
    "growth_uses_std": {"test_lesson": 0.0},
    "eigvals_nonsquare": {"test_spectra": 0.0, "test_edges": 0.0},
    "gram_singular_values": {"test_spectra": 0.0, "test_edges": 0.0},
    "global_np_random": {"test_matrices": 0.0, "test_spectra": 1.0},
    "orthogonal_std_one": {"test_matrices": 2.0, "test_figure": 1.0},
    "variance_for_std": {"test_matrices": 0.0, "test_edges": 0.0, "test_figure": 1.0},
    "panels_show_singular_values": {"test_figure": 1.0},
    "sign_fix_without_sign": {"test_matrices": 0.0, "test_edges": 0.0, "test_figure": 1.0},
}

#: the planted mistake `nbgrader autograde` grades too (beside the reference and the release)
NBGRADER_PLANT = "global_np_random"

#: sentences the feedback must show for a planted mistake (what a teaching assistant says)
SENTENCES = {
    "sqrt_n_missing": "did you leave out sqrt(n)?",
    "growth_uses_std": "did you use n * std (the std where the variance is asked)?",
    "eigvals_nonsquare": "did you call np.linalg.eigvals on a non-square matrix?",
    "gram_singular_values": "did you take the singular values of W^T W",
    "global_np_random": "did you use the global np.random instead of the given rng?",
    "orthogonal_std_one": "did you give the orthogonal entries std 1 (they are 1/sqrt(n))?",
}

#: what `initkit check` prints for the untouched release (the visible tests' sentences)
CHECK_RELEASE = ["not implemented yet", "FAILED"]
