"""Honest answers to ex05_eigenvalues that a student could write from the released notebook
alone: each must get full autograded marks in ``initkit check``, ``initkit grade`` and
``nbgrader autograde``.

``HONEST[name]`` replaces answer cells (by grade_id) of the reference, like ``PLANTED`` in
``spec_ex05_eigenvalues.py``; the cells it does not list keep the reference answer. Every
entry follows the text's contracts: entry std sigma (not the variance), draws only from the
given ``rng`` in the stated calls and order (one ``normal`` per matrix, the QR of one
standard normal draw for ``"orthogonal"``), singular values of ``W`` largest first, the
tuple ``(eigenvalues, singular values)``, one generator ``default_rng(0)`` for the four
spectra in the order of ``INITS``, a 2 x 2 ``fig`` whose panels are titled by init with a
scatter of the eigenvalues and the circle of radius ``sigma sqrt(N)`` drawn as a line.
"""

_LESSON_PRINT = '''
print(f"per-layer growth 128 * 0.6^2 = {per_layer_growth(0.6, 128):.2f}; "
      f"predicted final variance {predicted_bad:.3g}")
'''

HONEST = {
    # line magics: %matplotlib inline on top, %time assigning the dict the tests read
    "magics_time": {"experiment": '''%matplotlib inline
rng = np.random.default_rng(0)
%time spectra = {init: spectrum(init, N, rng) for init in INITS}

for init in INITS:
    ev, sv = spectra[init]
    std = init_std(init, N)
    print(init, np.abs(ev).max(), circular_law_radius(std, N), sv[0],
          largest_singular_value(std, N))

fig, axes = plt.subplots(2, 2)
t = np.linspace(0, 2 * np.pi, 200)
for ax, init in zip(axes.flat, INITS):
    ev = spectra[init][0]
    r = circular_law_radius(init_std(init, N), N)
    ax.scatter(ev.real, ev.imag, s=4)
    ax.plot(r * np.cos(t), r * np.sin(t))
    ax.set_title(f"{init}: R = {r:.2f}")
    ax.set_aspect("equal")
'''},
    # cell magic %%time around the definitions; %timeit -n1 -r1 on a throwaway generator
    "cell_magics": {
        "laws": '''%%time
def circular_law_radius(std, n):
    return float(std * n ** 0.5)


def largest_singular_value(std, n):
    return 2 * circular_law_radius(std, n)
''',
        "spectra": '''def singular_values(W):
    return np.linalg.svd(W, compute_uv=False)


def spectrum(init, n, rng):
    W = weight_matrix(init, n, rng)
    return np.linalg.eigvals(W), singular_values(W)


%timeit -n1 -r1 spectrum("he", 64, np.random.default_rng(1))
''',
        "lesson": '''%%time
def per_layer_growth(std, n):
    return float(n * std * std)


def predicted_final_variance(std, n, layers, input_variance=1.0):
    return float(input_variance * per_layer_growth(std, n) ** layers)


predicted_bad = predicted_final_variance(0.6, 128, 20)
''' + _LESSON_PRINT},
    # display(...) at the end of cells and bare expressions as last lines
    "display_and_bare": {
        "laws": '''import math


def circular_law_radius(std, n):
    return std * math.sqrt(n)


def largest_singular_value(std, n):
    return 2.0 * std * math.sqrt(n)


circular_law_radius(0.5, 400), largest_singular_value(0.5, 400)
''',
        "experiment": '''from IPython.display import display

rng = np.random.default_rng(0)
spectra = {init: spectrum(init, N, rng) for init in INITS}
for init in INITS:
    ev, sv = spectra[init]
    std = init_std(init, N)
    display((init, float(np.abs(ev).max()), circular_law_radius(std, N), float(sv[0]),
             largest_singular_value(std, N)))

fig, axes = plt.subplots(2, 2, figsize=(7, 7))
t = np.linspace(0, 2 * np.pi, 200)
for ax, init in zip(axes.ravel(), INITS):
    ev, _ = spectra[init]
    r = circular_law_radius(init_std(init, N), N)
    ax.scatter(ev.real, ev.imag, s=4)
    ax.plot(r * np.cos(t), r * np.sin(t))
    ax.set_title(f"{init}: R = {r:.3g}")
    ax.set_aspect("equal")
fig.tight_layout()
display(fig)
''',
        "lesson": '''def per_layer_growth(std, n):
    return float(n * std**2)


def predicted_final_variance(std, n, layers, input_variance=1.0):
    return float(input_variance * per_layer_growth(std, n) ** layers)


predicted_bad = predicted_final_variance(0.6, 128, 20)
''' + _LESSON_PRINT + '''predicted_bad
'''},
    # extra honest figure content: unit circle, the singular-value edge, axes lines, grid,
    # legend, labels, suptitle, colorbar-free extra text
    "extra_figure": {"experiment": '''rng = np.random.default_rng(0)
spectra = {init: spectrum(init, N, rng) for init in INITS}
for init in INITS:
    ev, sv = spectra[init]
    std = init_std(init, N)
    print(f"{init:>10}: rho = {np.abs(ev).max():.3f} vs R = {circular_law_radius(std, N):.3f};"
          f" s1 = {sv.max():.3f} vs 2R = {largest_singular_value(std, N):.3f}")

fig, axes = plt.subplots(2, 2, figsize=(9, 9))
t = np.linspace(0, 2 * np.pi, 200)
for ax, init in zip(axes.ravel(), INITS):
    ev, sv = spectra[init]
    std = init_std(init, N)
    r = circular_law_radius(std, N)
    ax.scatter(ev.real, ev.imag, s=4, label="eigenvalues", color="k")
    ax.plot(r * np.cos(t), r * np.sin(t), "r-", lw=2, label=f"circular law R = {r:.2f}")
    ax.plot(np.cos(t), np.sin(t), ":", color="gray", label="unit circle")
    edge = largest_singular_value(std, N)
    ax.plot(edge * np.cos(t), edge * np.sin(t), "g--", label=f"s1 edge 2R = {edge:.2f}")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(f"{init.upper()}: rho = {np.abs(ev).max():.2f}, R = {r:.2f}")
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.text(0.02, 0.02, f"s1 = {sv[0]:.2f}", transform=ax.transAxes)
    ax.set_aspect("equal")
fig.suptitle("Spectra of 512 x 512 initial weight matrices")
fig.tight_layout()
'''},
    # explicit Python loops instead of comprehensions and vectorised calls
    "loops": {
        "matrices": '''import math


def init_std(init, n):
    if init == "xavier":
        return math.sqrt(2.0 / (n + n))
    elif init == "he":
        return math.sqrt(2.0 / n)
    elif init == "bad":
        return 0.6
    elif init == "orthogonal":
        return 1.0 / math.sqrt(n)
    raise ValueError(f"unknown init {init!r}")


def weight_matrix(init, n, rng):
    if init != "orthogonal":
        return rng.normal(0.0, init_std(init, n), size=(n, n))
    G = rng.normal(0.0, 1.0, size=(n, n))
    Q, R = np.linalg.qr(G)
    for j in range(n):            # flip column j when R's diagonal entry is negative
        if R[j, j] < 0:
            Q[:, j] = -Q[:, j]
    return Q
''',
        "experiment": '''rng = np.random.default_rng(0)
spectra = {}
for init in INITS:
    spectra[init] = spectrum(init, N, rng)

for init in INITS:
    eigenvalues, svals = spectra[init]
    rho = 0.0
    for lam in eigenvalues:
        rho = max(rho, abs(lam))
    std = init_std(init, N)
    print(init, round(rho, 3), round(circular_law_radius(std, N), 3), round(svals[0], 3),
          round(largest_singular_value(std, N), 3))

fig, axes = plt.subplots(2, 2)
for k in range(len(INITS)):
    init = INITS[k]
    ax = axes[k // 2][k % 2]
    eigenvalues = spectra[init][0]
    ax.scatter([z.real for z in eigenvalues], [z.imag for z in eigenvalues], s=4)
    r = circular_law_radius(init_std(init, N), N)
    xs, ys = [], []
    for i in range(200):
        angle = 2 * np.pi * i / 199
        xs.append(r * np.cos(angle))
        ys.append(r * np.sin(angle))
    ax.plot(xs, ys)
    ax.set_title(init + " (R = %.2f)" % r)
    ax.set_aspect("equal")
''',
        "lesson": '''def per_layer_growth(std, n):
    return float(n * std**2)


def predicted_final_variance(std, n, layers, input_variance=1.0):
    variance = float(input_variance)
    for _ in range(layers):
        variance *= per_layer_growth(std, n)
    return variance


predicted_bad = predicted_final_variance(0.6, 128, 20)
''' + _LESSON_PRINT},
    # other valid numpy calls drawing the same numbers: standard_normal * std, np.power,
    # the sign fix as a product with a diagonal matrix, sorting the svd explicitly
    "other_numpy": {
        "laws": '''def circular_law_radius(std, n):
    return float(np.multiply(std, np.sqrt(n)))


def largest_singular_value(std, n):
    return float(np.prod([2.0, std, np.sqrt(n)]))
''',
        "matrices": '''def init_std(init, n):
    fan_in = fan_out = n
    return {"xavier": float(np.sqrt(2 / (fan_in + fan_out))),
            "he": float(np.sqrt(2 / fan_in)),
            "bad": 0.6,
            "orthogonal": float(1 / np.sqrt(n))}[init]


def weight_matrix(init, n, rng):
    if init == "orthogonal":
        Q, R = np.linalg.qr(rng.standard_normal((n, n)))
        return Q @ np.diag(np.sign(np.diag(R)))
    return rng.standard_normal((n, n)) * init_std(init, n)
''',
        "spectra": '''def singular_values(W):
    s = np.linalg.svd(np.atleast_2d(W), full_matrices=False)[1]
    return np.sort(s)[::-1]


def spectrum(init, n, rng):
    W = weight_matrix(init, n, rng)
    return (np.linalg.eig(W)[0], singular_values(W))
''',
        "lesson": '''def per_layer_growth(std, n):
    return float(n * np.square(std))


def predicted_final_variance(std, n, layers, input_variance=1.0):
    return float(input_variance * np.power(per_layer_growth(std, n), layers))


predicted_bad = predicted_final_variance(0.6, 128, 20)
''' + _LESSON_PRINT},
    # scipy.linalg for the spectra (svdvals is "largest first" too), einsum for the sign fix
    "scipy_einsum": {
        "matrices": '''def init_std(init, n):
    variance = {"xavier": 2.0 / (n + n), "he": 2.0 / n, "bad": 0.36, "orthogonal": 1.0 / n}
    return float(np.sqrt(variance[init])) if init != "bad" else 0.6


def weight_matrix(init, n, rng):
    if init == "orthogonal":
        G = rng.normal(0.0, 1.0, size=(n, n))
        Q, R = np.linalg.qr(G)
        return np.einsum("ij,j->ij", Q, np.sign(np.diag(R)))
    return rng.normal(0.0, init_std(init, n), size=(n, n))
''',
        "spectra": '''import scipy.linalg


def singular_values(W):
    return scipy.linalg.svdvals(np.asarray(W, dtype=float))


def spectrum(init, n, rng):
    W = weight_matrix(init, n, rng)
    return scipy.linalg.eigvals(W), singular_values(W)
'''},
    # singular values by their definition in the introduction: square roots of the
    # eigenvalues of the (smaller) Gram matrix, clipped at 0 and sorted largest first
    "gram_eigh_definition": {"spectra": '''def singular_values(W):
    """The square roots of the eigenvalues of W^T W (or of W W^T, the smaller one)."""
    W = np.asarray(W, dtype=float)
    gram = W.T @ W if W.shape[0] >= W.shape[1] else W @ W.T
    eig = np.linalg.eigvalsh(gram)              # ascending, real (the Gram matrix is symmetric)
    return np.sqrt(np.clip(eig, 0.0, None))[::-1]


def spectrum(init, n, rng):
    W = weight_matrix(init, n, rng)
    return np.linalg.eigvals(W), singular_values(W)
'''},
    # the student's own names, helpers, type hints, docstrings, early returns, np.asarray
    "names_helpers_hints": {
        "laws": '''def _sqrt(x: float) -> float:
    """Square root of a non-negative number."""
    return float(x) ** 0.5


def circular_law_radius(std: float, n: int) -> float:
    """Girko's circular law: the eigenvalues fill the disc of radius sigma * sqrt(n)."""
    return float(std) * _sqrt(n)


def largest_singular_value(std: float, n: int) -> float:
    """Marchenko-Pastur edge of a square matrix: 2 sigma sqrt(n)."""
    radius = circular_law_radius(std, n)
    return 2.0 * radius
''',
        "matrices": '''STD_RULES = {
    "xavier": lambda n: (2.0 / (n + n)) ** 0.5,     # Glorot, n_in = n_out = n
    "he": lambda n: (2.0 / n) ** 0.5,               # He, fan-in
    "bad": lambda n: 0.6,                            # the lesson's N(0, 0.6^2)
    "orthogonal": lambda n: n ** -0.5,               # unit rows
}


def init_std(init: str, n: int) -> float:
    """Entry standard deviation sigma of an n x n matrix of this init."""
    return float(STD_RULES[init](n))


def _haar_orthogonal(size: int, gen: np.random.Generator) -> np.ndarray:
    """Haar orthogonal matrix: QR of a Gaussian matrix with R's diagonal made positive."""
    gaussian = gen.normal(0.0, 1.0, size=(size, size))
    q_mat, r_mat = np.linalg.qr(gaussian)
    signs = np.sign(np.diag(r_mat))
    return q_mat * signs[np.newaxis, :]


def weight_matrix(init: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """One (n, n) weight matrix of this init drawn from rng."""
    if init == "orthogonal":
        return _haar_orthogonal(n, rng)
    sigma = init_std(init, n)
    weights = rng.normal(0.0, sigma, size=(n, n))
    return weights
''',
        "spectra": '''def singular_values(W) -> np.ndarray:
    """Singular values of W (any shape), largest first."""
    matrix = np.asarray(W, dtype=np.float64)
    if matrix.size == 0:
        return np.zeros(0)
    return np.linalg.svd(matrix, compute_uv=False)


def spectrum(init: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues, singular values) of one weight_matrix(init, n, rng)."""
    weights = weight_matrix(init, n, rng)
    eigenvalues = np.linalg.eigvals(weights)
    return eigenvalues, singular_values(weights)
''',
        "experiment": '''def draw_panel(ax, name: str, eigenvalues: np.ndarray, radius: float) -> None:
    """Eigenvalues as points and the circular-law circle as a line."""
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.scatter(np.real(eigenvalues), np.imag(eigenvalues), s=4)
    ax.plot(radius * np.cos(theta), radius * np.sin(theta))
    ax.set_title(f"{name}: R = {radius:.2f}")
    ax.set_aspect("equal")


generator = np.random.default_rng(0)
spectra = {init: spectrum(init, N, generator) for init in INITS}

predicted = {init: (circular_law_radius(init_std(init, N), N),
                    largest_singular_value(init_std(init, N), N)) for init in INITS}
for init, (eigs, sing) in spectra.items():
    print(f"{init}: max|lambda| = {np.max(np.abs(eigs)):.3f} (R = {predicted[init][0]:.3f}), "
          f"s_max = {np.max(sing):.3f} (2R = {predicted[init][1]:.3f})")

fig, axes = plt.subplots(2, 2)
for panel, init in zip(axes.flatten(), INITS):
    draw_panel(panel, init, spectra[init][0], predicted[init][0])
''',
        "lesson": '''def per_layer_growth(std: float, n: int) -> float:
    """g = n sigma^2 = R^2: the variance grows by the square of the radius."""
    radius = circular_law_radius(std, n)
    return float(radius ** 2)


def predicted_final_variance(std: float, n: int, layers: int,
                             input_variance: float = 1.0) -> float:
    """Var(x_L) = Var(x_0) g^L."""
    if layers == 0:
        return float(input_variance)
    growth = per_layer_growth(std, n)
    return float(input_variance * growth ** layers)


predicted_bad = predicted_final_variance(0.6, 128, 20)  # the lesson's bad net
''' + _LESSON_PRINT},
    # pyplot state machine: plt.figure + plt.subplot + plt.title, the circle as exp(i t)
    "pyplot_state_machine": {"experiment": '''rng = np.random.default_rng(0)
spectra = dict((init, spectrum(init, N, rng)) for init in INITS)

for init in INITS:
    ev, sv = spectra[init]
    print("%-10s rho = %.3f  R = %.3f  s1 = %.3f  edge = %.3f" % (
        init, abs(ev).max(), circular_law_radius(init_std(init, N), N), sv[0],
        largest_singular_value(init_std(init, N), N)))

fig = plt.figure(figsize=(8, 8))
t = np.linspace(0, 2 * np.pi, 200)
for i, init in enumerate(INITS, start=1):
    plt.subplot(2, 2, i)
    ev = spectra[init][0]
    r = circular_law_radius(init_std(init, N), N)
    circle = r * np.exp(1j * t)
    plt.scatter(ev.real, ev.imag, s=4)
    plt.plot(circle.real, circle.imag, "k")
    plt.title(f"{init}")
    plt.gca().set_aspect("equal")
plt.tight_layout()
plt.show()
'''},
    # eigenvalues returned sorted (any order is allowed), abs/hypot for moduli, the figure
    # built with fig.add_subplot and tuple unpacking of the 2 x 2 axes
    "sorted_eigs_unpacked_axes": {
        "spectra": '''def singular_values(W):
    values = np.linalg.svd(np.asarray(W), compute_uv=False)
    return np.asarray(sorted(values, reverse=True), dtype=float)


def spectrum(init, n, rng):
    W = weight_matrix(init, n, rng)
    ev = np.linalg.eigvals(W).astype(complex)
    ev = ev[np.argsort(-np.abs(ev))]                # largest modulus first
    return ev, singular_values(W)
''',
        "experiment": '''rng = np.random.default_rng(0)
spectra = {init: spectrum(init, N, rng) for init in INITS}
for init in INITS:
    ev, sv = spectra[init]
    print(init, "spectral radius", np.hypot(ev.real, ev.imag).max(), "predicted",
          circular_law_radius(init_std(init, N), N), "| s1", sv.max(), "predicted",
          largest_singular_value(init_std(init, N), N))

fig, ((ax_x, ax_h), (ax_b, ax_o)) = plt.subplots(2, 2, figsize=(8, 8), sharex=False)
t = np.linspace(0, 2 * np.pi, 200)
for ax, init in ((ax_x, "xavier"), (ax_h, "he"), (ax_b, "bad"), (ax_o, "orthogonal")):
    ev = spectra[init][0]
    r = circular_law_radius(init_std(init, N), N)
    ax.scatter(x=ev.real, y=ev.imag, s=4, c=np.abs(ev), cmap="viridis")
    ax.plot(r * np.cos(t), r * np.sin(t), color="red")
    ax.set(title=f"{init} init, R = {r:.2f}", aspect="equal")
'''},
}
