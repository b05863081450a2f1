"""Honest answers to ex03_orthogonal_rnn that a student could write from the released notebook alone.

``HONEST[name]`` replaces answer cells (by grade_id) of the reference, like ``spec_*.PLANTED``;
every entry follows the notebook's text (shapes, the (rows, cols) layout, the draw order from
one ``rng``, float64, the labels and x values of the figures) in a different style, and must
score full marks in ``initkit check``, ``initkit grade`` and ``nbgrader autograde``.
"""

_TRAIN = '''
def train_adding(init, seed):
    rng = np.random.default_rng(seed)
    data = adding_problem(n_train=N_TRAIN, n_test=N_TEST, steps=SEQ_LEN, seed=seed)
    if init == "orthogonal":
        W = orthogonal((HIDDEN, HIDDEN), rng)
    else:
        W = rng.normal(0.0, G_TRAIN / np.sqrt(HIDDEN), size=(HIDDEN, HIDDEN))
    model = RNN(2, HIDDEN, 1, init_hh="zeros", seed=seed)
    model.W_hh.data[...] = W
    history = fit(model, data, epochs=EPOCHS, batch_size=BATCH, lr=LR, optimizer="adam",
                  seed=seed, progress=False)
    return history.test_loss

'''

HONEST = {
    # IPython cell magic: a %%time cell that defines orthogonal; %matplotlib inline and a
    # line-magic assignment `%time W_orth = ...` whose name the next lines use
    "magics": {
        "orthogonal": '''%%time
def orthogonal(shape, rng, gain=1.0):
    rows, cols = shape
    a = rng.normal(size=(rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return gain * q
''',
        "compare": '''%matplotlib inline
rng = np.random.default_rng(0)
%time W_orth = orthogonal((N_HIDDEN, N_HIDDEN), rng)
matrices = {"orthogonal": W_orth}
for g in (0.5, 1, 1.5):
    matrices[f"gaussian g={g}"] = rng.normal(0.0, g / np.sqrt(N_HIDDEN), size=(N_HIDDEN, N_HIDDEN))
%timeit -n1 -r1 bptt_gradient_norms(W_orth, STEPS, "tanh")

fig_bptt, (ax_lin, ax_tanh) = plt.subplots(1, 2)
for ax, activation in ((ax_lin, "linear"), (ax_tanh, "tanh")):
    for label, W in matrices.items():
        ax.plot(np.arange(STEPS + 1), bptt_gradient_norms(W, STEPS, activation), label=label)
    ax.set_yscale("log")
''',
    },
    # display(...) at the end of cells and a bare expression as the last line
    "display_and_bare_expression": {
        "compare": '''rng = np.random.default_rng(0)
matrices = {"orthogonal": orthogonal((N_HIDDEN, N_HIDDEN), rng)}
for g in (0.5, 1, 1.5):
    matrices[f"gaussian g={g}"] = rng.normal(0.0, g / np.sqrt(N_HIDDEN), size=(N_HIDDEN, N_HIDDEN))
fig_bptt, (ax_lin, ax_tanh) = plt.subplots(1, 2)
for ax, activation in ((ax_lin, "linear"), (ax_tanh, "tanh")):
    for label, W in matrices.items():
        ax.plot(np.arange(STEPS + 1), bptt_gradient_norms(W, STEPS, activation), label=label)
    ax.set_yscale("log")
    ax.legend()
display(fig_bptt)
{label: bptt_gradient_norms(W, STEPS, "linear")[-1] for label, W in matrices.items()}
''',
        "adding": _TRAIN + '''
losses = {init: train_adding(init, 0) for init in ("orthogonal", "gaussian")}
fig_adding, ax = plt.subplots()
for init in losses:
    ax.plot(np.arange(1, EPOCHS + 1), losses[init], label=init)
ax.axhline(BASELINE, label="baseline")
ax.legend()
display(fig_adding)
losses
''',
    },
    # extra honest figure content: reference lines, the theory g^k, grids, titles, legends
    "extra_figure_content": {
        "compare": '''rng = np.random.default_rng(0)
matrices = {"orthogonal": orthogonal((N_HIDDEN, N_HIDDEN), rng)}
for g in (0.5, 1, 1.5):
    matrices[f"gaussian g={g}"] = rng.normal(0.0, g / np.sqrt(N_HIDDEN), size=(N_HIDDEN, N_HIDDEN))

k = np.arange(STEPS + 1)
fig_bptt, (ax_lin, ax_tanh) = plt.subplots(1, 2, figsize=(12, 4))
for ax, activation in ((ax_lin, "linear"), (ax_tanh, "tanh")):
    for label, W in matrices.items():
        ax.plot(k, bptt_gradient_norms(W, STEPS, activation), label=label)
    ax.axhline(1.0, color="black", linewidth=0.5)
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(activation)
    ax.set_xlabel("k (steps back)")
for g in (0.5, 1.5):
    ax_lin.plot(k, float(g) ** k, "k:", label=f"theory {g}^k")
ax_tanh.plot(k, 1.14 ** (k / 2), "k--")          # chi_1^(k/2) for g = 1.5, unlabelled
ax_lin.legend(fontsize="small")
ax_tanh.legend(fontsize="small")
fig_bptt.suptitle("gradient norm through time")
''',
        "adding": _TRAIN + '''
losses = {init: train_adding(init, 0) for init in ("orthogonal", "gaussian")}
fig_adding, ax = plt.subplots()
for init in ("orthogonal", "gaussian"):
    ax.plot(np.arange(1, EPOCHS + 1), losses[init], "o-", label=init)
ax.axhline(BASELINE, color="red", linestyle=":", label="baseline")
ax.axvline(EPOCHS, color="gray", alpha=0.3)
ax.set_yscale("log")
ax.grid(True)
ax.set_xlabel("epoch")
ax.set_ylabel("test MSE")
ax.set_title("adding problem")
ax.legend()
''',
    },
    # explicit Python loops: the sign fix column by column, the backward pass element by element
    "loops": {
        "orthogonal": '''
def orthogonal(shape, rng, gain=1.0):
    rows, cols = shape
    wide = rows < cols
    a = rng.normal(size=(cols, rows) if wide else (rows, cols))
    q, r = np.linalg.qr(a)
    for j in range(q.shape[1]):
        if r[j, j] < 0:
            q[:, j] = -q[:, j]
    if wide:
        q = q.T
    out = np.empty(shape)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = gain * q[i, j]
    return out
''',
        "bptt": '''
import math

def bptt_gradient_norms(W_hh, steps, activation):
    n = W_hh.shape[0]
    h = np.ones(n)
    pre = []
    for t in range(steps):
        a = np.zeros(n)
        for i in range(n):
            a[i] = np.dot(W_hh[i], h)
        pre.append(a)
        h = a.copy() if activation == "linear" else np.tanh(a)
    g = np.full(n, 1.0 / math.sqrt(n))
    norms = [np.linalg.norm(g)]
    for t in range(steps - 1, -1, -1):
        a = pre[t]
        delta = np.empty(n)
        for i in range(n):
            d = 1.0 if activation == "linear" else 1.0 - math.tanh(a[i]) ** 2
            delta[i] = d * g[i]
        g = W_hh.T @ delta
        norms.append(np.linalg.norm(g))
    return np.array(norms, dtype=float)
''',
    },
    # other numpy calls: standard_normal, np.einsum / np.dot, diag matrix products, sqrt(sum)
    "other_numpy_calls": {
        "orthogonal": '''
def orthogonal(shape, rng, gain=1.0):
    rows, cols = shape
    a = rng.standard_normal((rows, cols))
    q, r = np.linalg.qr(a.T if rows < cols else a, mode="reduced")
    q = q @ np.diag(np.sign(np.diagonal(r)))
    return np.multiply(gain, q.T if rows < cols else q)
''',
        "bptt": '''
def bptt_gradient_norms(W_hh, steps, activation):
    n = len(W_hh)
    hs = [np.ones(n)]
    for _ in range(steps):
        a = np.dot(W_hh, hs[-1])
        hs.append(a if activation == "linear" else np.tanh(a))
    g = np.ones(n) * n ** -0.5
    norms = np.empty(steps + 1)
    norms[0] = np.sqrt(np.sum(g ** 2))
    for k in range(1, steps + 1):
        h_t = hs[steps - k + 1]                      # h_t = phi(a_t), t = T - k + 1
        dphi = np.ones(n) if activation == "linear" else 1.0 - h_t ** 2   # tanh' = 1 - tanh^2
        g = np.einsum("ij,i->j", W_hh, dphi * g)     # W^T (phi' * g)
        norms[k] = np.sqrt(np.sum(g ** 2))
    return norms
''',
        "compare": '''rng = np.random.default_rng(0)
W_list = [orthogonal((N_HIDDEN, N_HIDDEN), rng)]
gains = [0.5, 1, 1.5]
for g in gains:
    W_list.append(rng.standard_normal((N_HIDDEN, N_HIDDEN)) * (g / N_HIDDEN ** 0.5))
names = ["orthogonal"] + ["gaussian g=" + str(g) for g in gains]

fig_bptt, axes = plt.subplots(1, 2)
ax_lin, ax_tanh = axes
steps_back = np.arange(0, STEPS + 1)
for name, W in zip(names, W_list):
    ax_lin.plot(steps_back, bptt_gradient_norms(W, STEPS, "linear"), label=name)
    ax_tanh.plot(steps_back, bptt_gradient_norms(W, STEPS, "tanh"), label=name)
for ax in axes:
    ax.set_yscale("log")
''',
    },
    # the student's own names, helpers, type hints, docstrings, early returns, np.asarray
    "helpers_type_hints_docstrings": {
        "orthogonal": '''
def _sign_fixed_q(m: np.ndarray) -> np.ndarray:
    """Q of the QR of a tall-or-square m, column j times sign(R[j, j]) (Mezzadri 2007)."""
    q, r = np.linalg.qr(m)
    return q * np.sign(np.diag(r))[np.newaxis, :]


def orthogonal(shape: tuple[int, int], rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """A Haar-random (rows, cols) matrix with orthonormal columns (or rows, if wide) times gain."""
    n_out, n_in = shape
    if n_out >= n_in:
        return float(gain) * _sign_fixed_q(rng.normal(size=(n_out, n_in)))
    return float(gain) * _sign_fixed_q(rng.normal(size=(n_in, n_out))).T
''',
        "bptt": '''
def _phi(x: np.ndarray, kind: str) -> np.ndarray:
    return x if kind == "linear" else np.tanh(x)


def _phi_prime(x: np.ndarray, kind: str) -> np.ndarray:
    return np.ones_like(x) if kind == "linear" else 1.0 - np.tanh(x) ** 2


def bptt_gradient_norms(W_hh, steps: int, activation: str) -> np.ndarray:
    """||dL/dh_{T-k}|| for k = 0..steps, L = sum(h_T) / sqrt(n), h_0 = ones (no input, no bias)."""
    W = np.asarray(W_hh, dtype=np.float64)
    n = W.shape[0]
    grad = np.ones(n) / np.sqrt(n)
    if steps == 0:
        return np.array([np.linalg.norm(grad)])
    state = np.ones(n)
    preacts: list[np.ndarray] = []
    for _ in range(steps):
        preacts.append(W @ state)
        state = _phi(preacts[-1], activation)
    result = [np.linalg.norm(grad)]
    while preacts:
        grad = W.T @ (_phi_prime(preacts.pop(), activation) * grad)
        result.append(np.linalg.norm(grad))
    return np.asarray(result)
''',
        "adding": '''
def _recurrent_matrix(init: str, rng: np.random.Generator) -> np.ndarray:
    """Step 2 of the recipe: my orthogonal, or the Gaussian N(0, G_TRAIN^2 / HIDDEN)."""
    if init == "orthogonal":
        return orthogonal((HIDDEN, HIDDEN), rng)
    if init == "gaussian":
        return rng.normal(0.0, G_TRAIN / np.sqrt(HIDDEN), size=(HIDDEN, HIDDEN))
    raise ValueError(f"unknown init {init!r}")


def train_adding(init: str, seed: int) -> np.ndarray:
    """Per-epoch test MSE of the kit's tanh RNN on the adding problem with W_hh from init."""
    generator = np.random.default_rng(seed)
    dataset = adding_problem(n_train=N_TRAIN, n_test=N_TEST, steps=SEQ_LEN, seed=seed)
    W_rec = _recurrent_matrix(init, generator)
    net = RNN(2, HIDDEN, 1, init_hh="zeros", seed=seed)
    net.W_hh.data[...] = W_rec
    hist = fit(net, dataset, epochs=EPOCHS, batch_size=BATCH, lr=LR, optimizer="adam",
               seed=seed, progress=False)
    return np.asarray(hist.test_loss)


epochs = np.arange(1, EPOCHS + 1)
losses = {}
for name in ["orthogonal", "gaussian"]:
    losses[name] = train_adding(name, 0)

fig_adding, ax = plt.subplots()
for name, mse in losses.items():
    ax.plot(epochs, mse, label=name)
ax.axhline(BASELINE, label="baseline")
''',
    },
    # the wide case by drawing (rows, cols) and transposing it; sign fix with np.where
    "draw_then_transpose_where": {
        "orthogonal": '''
def orthogonal(shape, rng, gain=1.0):
    a = rng.normal(size=tuple(shape))        # always (rows, cols) ...
    transposed = a.shape[0] < a.shape[1]
    if transposed:
        a = a.T                              # ... transposed for a wide shape
    q, r = np.linalg.qr(a)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    q = q * signs
    return gain * (q.T if transposed else q)
''',
    },
    # comments everywhere, a list of matrices built in a loop, list for the x values
    "lists_and_comments": {
        "compare": '''# one generator for all four matrices, in the order the text gives
rng = np.random.default_rng(0)
mats = []
labels = []
mats.append(orthogonal((N_HIDDEN, N_HIDDEN), rng))   # first: orthogonal
labels.append("orthogonal")
for g in [0.5, 1, 1.5]:                               # then the three Gaussians
    std = g / np.sqrt(N_HIDDEN)
    mats.append(rng.normal(0.0, std, size=(N_HIDDEN, N_HIDDEN)))
    labels.append(f"gaussian g={g}")

fig_bptt, (ax_lin, ax_tanh) = plt.subplots(1, 2)
x = list(range(STEPS + 1))                            # k = 0 ... STEPS
for i in range(len(mats)):
    ax_lin.plot(x, bptt_gradient_norms(mats[i], STEPS, "linear"), label=labels[i])
for i in range(len(mats)):
    ax_tanh.plot(x, bptt_gradient_norms(mats[i], STEPS, "tanh"), label=labels[i])
ax_lin.set_yscale("log")   # gradients explode / vanish exponentially
ax_tanh.set_yscale("log")
''',
        "adding": _TRAIN + '''
# train both (the same seed 0) and plot the test MSE per epoch
losses = dict()
losses["orthogonal"] = train_adding("orthogonal", 0)
losses["gaussian"] = train_adding("gaussian", 0)
fig_adding, ax = plt.subplots()
ax.plot(list(range(1, EPOCHS + 1)), losses["orthogonal"], label="orthogonal")
ax.plot(list(range(1, EPOCHS + 1)), losses["gaussian"], label="gaussian")
ax.axhline(BASELINE, label="baseline")   # no-learning MSE 1/6
''',
    },
    # a recursive backward pass and a state stored per step (h_t instead of a_t)
    "recursion": {
        "bptt": '''
def bptt_gradient_norms(W_hh, steps, activation):
    linear = activation == "linear"

    def forward(h, t, acc):
        if t == 0:
            return acc
        a = W_hh @ h
        return forward(a if linear else np.tanh(a), t - 1, acc + [a])

    def backward(g, pre, acc):
        if not pre:
            return acc
        a = pre[-1]
        g = W_hh.T @ (g if linear else (1 - np.tanh(a) ** 2) * g)
        return backward(g, pre[:-1], acc + [np.linalg.norm(g)])

    n = W_hh.shape[0]
    pre = forward(np.ones(n), steps, [])
    g_T = np.ones(n) / np.sqrt(n)
    return np.array(backward(g_T, pre, [np.linalg.norm(g_T)]))
''',
    },
    # the figure through plt.figure / add_subplot, the y scale through plt.yscale, and a
    # dict dispatch for the Gaussian scale in train_adding
    "pyplot_state_machine": {
        "compare": '''rng = np.random.default_rng(0)
W_o = orthogonal((N_HIDDEN, N_HIDDEN), rng)
W_g = {g: rng.normal(0.0, g / np.sqrt(N_HIDDEN), size=(N_HIDDEN, N_HIDDEN)) for g in (0.5, 1, 1.5)}

fig_bptt, (ax_lin, ax_tanh) = plt.subplots(1, 2, sharey=True)
for ax, act in zip([ax_lin, ax_tanh], ["linear", "tanh"]):
    plt.sca(ax)
    plt.plot(np.arange(STEPS + 1), bptt_gradient_norms(W_o, STEPS, act), label="orthogonal")
    for g, W in W_g.items():
        plt.plot(np.arange(STEPS + 1), bptt_gradient_norms(W, STEPS, act), label=f"gaussian g={g}")
    plt.yscale("log")
    plt.legend()
plt.show()
''',
        "adding": '''
def train_adding(init, seed):
    rng = np.random.default_rng(seed)
    data = adding_problem(n_train=N_TRAIN, n_test=N_TEST, steps=SEQ_LEN, seed=seed)
    make = {
        "orthogonal": lambda: orthogonal((HIDDEN, HIDDEN), rng),
        "gaussian": lambda: rng.normal(0.0, G_TRAIN / np.sqrt(HIDDEN), size=(HIDDEN, HIDDEN)),
    }
    W = make[init]()
    model = RNN(2, HIDDEN, 1, init_hh="zeros", seed=seed)
    model.W_hh.data[...] = W
    return fit(model, data, epochs=EPOCHS, batch_size=BATCH, lr=LR, optimizer="adam",
               seed=seed, progress=False).test_loss


losses = {init: train_adding(init, 0) for init in ("orthogonal", "gaussian")}
fig_adding, ax = plt.subplots()
plt.sca(ax)
for init in ("orthogonal", "gaussian"):
    plt.plot(np.arange(1, EPOCHS + 1), losses[init], label=init)
plt.axhline(BASELINE, label="baseline")
plt.legend()
plt.show()
''',
    },
    # orthogonal through a square-only helper applied to the tall problem, with an early
    # return for the square case and the gain as a float
    "early_returns": {
        "orthogonal": '''
def orthogonal(shape, rng, gain=1.0):
    rows, cols = (int(s) for s in shape)
    if rows == cols:
        q, r = np.linalg.qr(rng.normal(size=(rows, cols)))
        return gain * q * np.sign(np.diag(r))
    if rows < cols:
        q, r = np.linalg.qr(rng.normal(size=(cols, rows)))
        return gain * (q * np.sign(np.diag(r))).T
    q, r = np.linalg.qr(rng.normal(size=(rows, cols)))
    return gain * (q * np.sign(np.diag(r)))
''',
        "bptt": '''
def bptt_gradient_norms(W_hh, steps, activation):
    if activation not in ("linear", "tanh"):
        raise ValueError(f"activation should be 'linear' or 'tanh', not {activation!r}")
    n = W_hh.shape[0]
    g = np.ones(n) / np.sqrt(n)
    if steps == 0:
        return np.array([1.0]) * np.linalg.norm(g)
    h, pre = np.ones(n), []
    for _ in range(steps):
        pre.append(W_hh @ h)
        h = pre[-1] if activation == "linear" else np.tanh(pre[-1])
    out = [np.linalg.norm(g)]
    for a in pre[::-1]:
        if activation == "tanh":
            g = g * (1.0 - np.tanh(a) ** 2)
        g = W_hh.T @ g
        out.append(np.linalg.norm(g))
    return np.array(out)
''',
    },
}
