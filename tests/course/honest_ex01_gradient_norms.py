"""Honest answers to ex01_gradient_norms that a student could write from the released notebook
alone (issue 18's acceptance corpus): each entry replaces answer cells (by grade_id) of the
reference, in a different style, and must get full autograded marks from ``initkit check``,
``initkit grade`` and ``nbgrader autograde``."""

HONEST = {
    # IPython line magics: %matplotlib inline first, %time assigning names later lines use,
    # %timeit -n1 -r1 after every draw from rng (so the draw order is untouched)
    "magics": {"experiment": '''%matplotlib inline
rng = np.random.default_rng(0)
%time x = rng.random((WIDTH, BATCH))
%time xavier_net = [xavier_normal((WIDTH, WIDTH), rng) for _ in range(DEPTH)]
nets = {"xavier": xavier_net,
        "constant 0.002": [constant_init((WIDTH, WIDTH), 0.002)] * DEPTH,
        "constant 0.02": [constant_init((WIDTH, WIDTH), 0.02)] * DEPTH}
%timeit -n1 -r1 gradient_norms(nets["xavier"], x)
layers = np.arange(1, DEPTH + 1)
fig, ax = plt.subplots()
for label, weights in nets.items():
    ax.plot(layers, gradient_norms(weights, x), label=label)
ax.set_yscale("log")
ax.legend()
'''},
    # a %%time cell that defines both functions
    "cell_magic_time": {"gradients": '''%%time
def weight_gradients(weights, x):
    hs = [x]
    for W in weights:
        hs.append(np.tanh(W @ hs[-1]))
    upstream = np.ones_like(hs[-1]) / x.shape[1]
    grads = [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        delta = upstream * (1.0 - hs[l + 1] ** 2)
        grads[l] = delta @ hs[l].T
        upstream = weights[l].T @ delta
    return grads


def gradient_norms(weights, x):
    return np.array([np.linalg.norm(g) for g in weight_gradients(weights, x)])
'''},
    # display(...) at the end of cells and a bare expression as the last line
    "display_and_bare": {
        "constant_init": '''def constant_init(shape, value):
    return np.full(shape, float(value))

constant_init((2, 3), 3)
''',
        "xavier_normal": '''def xavier_normal(shape, rng):
    fan_out, fan_in = shape
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)

display(xavier_normal((2, 3), np.random.default_rng(42)))
''',
        "experiment": '''from IPython.display import display

rng = np.random.default_rng(0)
x = rng.random((WIDTH, BATCH))
nets = {
    "xavier": [xavier_normal((WIDTH, WIDTH), rng) for _ in range(DEPTH)],
    "constant 0.002": [constant_init((WIDTH, WIDTH), 0.002)] * DEPTH,
    "constant 0.02": [constant_init((WIDTH, WIDTH), 0.02)] * DEPTH,
}
layers = np.arange(1, DEPTH + 1)
fig, ax = plt.subplots()
norms = {}
for label, weights in nets.items():
    norms[label] = gradient_norms(weights, x)
    ax.plot(layers, norms[label], label=label)
ax.set_yscale("log")
ax.legend()
display(fig)
norms["xavier"]
'''},
    # extra honest figure content: reference lines (labelled and not), grid, title, legend
    "extra_figure": {"experiment": '''rng = np.random.default_rng(0)
x = rng.random((WIDTH, BATCH))
nets = {
    "xavier": [xavier_normal((WIDTH, WIDTH), rng) for _ in range(DEPTH)],
    "constant 0.002": [constant_init((WIDTH, WIDTH), 0.002)] * DEPTH,
    "constant 0.02": [constant_init((WIDTH, WIDTH), 0.02)] * DEPTH,
}
layers = np.arange(1, DEPTH + 1)
fig, ax = plt.subplots(figsize=(8, 5))
for label, weights in nets.items():
    ax.plot(layers, gradient_norms(weights, x), "o-", label=label)
ax.axhline(1e-10, color="gray", ls="--", label="1e-10")
ax.axhline(1.0, color="k", lw=0.5)
ax.plot(layers, 0.256 ** layers, ":", color="C1", label="(c n)^l for c n = 0.256")
ax.plot(layers, 10.0 ** (layers - DEPTH), ":", color="C2")
ax.set_yscale("log")
ax.grid(True, which="both", alpha=0.3)
ax.set_xticks(layers)
ax.set_title("Gradient norms, input layer first")
ax.set_xlabel("layer")
ax.set_ylabel("Frobenius norm of dL/dW")
ax.legend(fontsize="small", ncol=2)
'''},
    # explicit loops over the batch (sum of per-sample outer products) and over units
    "loops": {
        "constant_init": '''def constant_init(shape, value):
    W = np.empty(shape, dtype=float)
    W.fill(value)
    return W
''',
        "gradients": '''def weight_gradients(weights, x):
    B = x.shape[1]
    hs = [x]
    for W in weights:
        hs.append(np.tanh(W @ hs[-1]))
    grads = [None] * len(weights)
    dh = np.full(hs[-1].shape, 1.0 / B)
    for l in reversed(range(len(weights))):
        W = weights[l]
        delta = np.zeros_like(dh)
        for i in range(delta.shape[0]):
            for b in range(B):
                delta[i, b] = dh[i, b] * (1.0 - hs[l + 1][i, b] ** 2)
        g = np.zeros(W.shape)
        for b in range(B):
            g += np.outer(delta[:, b], hs[l][:, b])
        grads[l] = g
        dh = np.zeros(hs[l].shape)
        for b in range(B):
            dh[:, b] = W.T.dot(delta[:, b])
    return grads


def gradient_norms(weights, x):
    out = np.zeros(len(weights))
    for i, g in enumerate(weight_gradients(weights, x)):
        out[i] = np.linalg.norm(g)
    return out
'''},
    # np.einsum and np.dot for the products, np.sqrt(sum of squares) for the norm
    "einsum": {"gradients": '''def weight_gradients(weights, x):
    acts = [x]
    for W in weights:
        acts.append(np.tanh(np.einsum("ij,jb->ib", W, acts[-1])))
    g_h = np.ones_like(acts[-1]) / x.shape[1]
    grads = []
    for W, h_prev, h in zip(weights[::-1], acts[-2::-1], acts[:0:-1]):
        delta = g_h * (1 - h * h)
        grads.append(np.einsum("ib,jb->ij", delta, h_prev))
        g_h = np.dot(W.T, delta)
    return grads[::-1]


def gradient_norms(weights, x):
    return np.array([np.sqrt(np.einsum("ij,ij->", g, g)) for g in weight_gradients(weights, x)])
'''},
    # other valid numpy calls: ones * value, standard_normal * std, ** 0.5, math.prod shapes
    "other_numpy_calls": {
        "constant_init": '''import math

def constant_init(shape, value):
    return (np.ones(math.prod(shape)) * value).reshape(shape)
''',
        "xavier_normal": '''def xavier_normal(shape, rng):
    n_out, n_in = shape
    std = (2 / (n_in + n_out)) ** 0.5
    return rng.standard_normal(shape) * std
''',
        "gradients": '''def weight_gradients(weights, x):
    hs = [np.asarray(x, dtype=float)]
    for W in weights:
        hs.append(np.tanh(np.matmul(W, hs[-1])))
    dL_dh = np.broadcast_to(1.0 / x.shape[1], hs[-1].shape)
    grads = []
    for W, h_in, h_out in zip(reversed(weights), reversed(hs[:-1]), reversed(hs[1:])):
        delta = np.multiply(dL_dh, 1.0 - np.square(h_out))
        grads.insert(0, np.matmul(delta, h_in.transpose()))
        dL_dh = np.matmul(W.transpose(), delta)
    return grads


def gradient_norms(weights, x):
    return np.fromiter((np.linalg.norm(g, "fro") for g in weight_gradients(weights, x)),
                       dtype=float, count=len(weights))
'''},
    # other names, helper functions, type hints, docstrings, np.asarray, early return
    "names_helpers_hints": {
        "constant_init": '''def constant_init(shape: tuple[int, ...], value: float) -> np.ndarray:
    """Every entry equal to value, always floats."""
    return np.full(tuple(shape), value, dtype=np.float64)
''',
        "xavier_normal": '''def glorot_std(fan_in: int, fan_out: int) -> float:
    """Standard deviation of Glorot & Bengio (2010): sqrt(2 / (fan_in + fan_out))."""
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def xavier_normal(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Xavier/Glorot normal weights of shape (fan_out, fan_in), drawn from rng."""
    fan_out, fan_in = shape
    return rng.normal(loc=0.0, scale=glorot_std(fan_in, fan_out), size=(fan_out, fan_in))
''',
        "gradients": '''def tanh_prime_from_output(h: np.ndarray) -> np.ndarray:
    """tanh'(a) written with h = tanh(a)."""
    return 1.0 - h ** 2


def forward(weights: list[np.ndarray], inputs: np.ndarray) -> list[np.ndarray]:
    """[h_0, h_1, ..., h_L]."""
    activations = [np.asarray(inputs, dtype=float)]
    for weight in weights:
        activations.append(np.tanh(weight @ activations[-1]))
    return activations


def weight_gradients(weights: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """[dL/dW_1, ..., dL/dW_L] for L = mean over the batch of the summed outputs."""
    if len(weights) == 0:
        return []
    activations = forward(weights, x)
    batch_size = activations[0].shape[1]
    grad_h = np.full_like(activations[-1], 1.0 / batch_size)
    result: list[np.ndarray] = []
    for layer in range(len(weights), 0, -1):
        grad_a = grad_h * tanh_prime_from_output(activations[layer])
        result.append(grad_a @ activations[layer - 1].T)
        grad_h = weights[layer - 1].T @ grad_a
    result.reverse()
    return result


def gradient_norms(weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Frobenius norms, input layer first."""
    return np.asarray([np.linalg.norm(grad) for grad in weight_gradients(weights, x)],
                      dtype=float)
''',
        "experiment": '''generator = np.random.default_rng(0)
x = generator.random((WIDTH, BATCH))       # pixel-like inputs, one sample per column
xavier_layers = [xavier_normal((WIDTH, WIDTH), generator) for layer in range(DEPTH)]


def constant_net(c: float) -> list[np.ndarray]:
    """DEPTH separate matrices, every weight equal to c."""
    return [constant_init((WIDTH, WIDTH), c) for _ in range(DEPTH)]


nets = {"xavier": xavier_layers, "constant 0.002": constant_net(0.002),
        "constant 0.02": constant_net(0.02)}
fig, ax = plt.subplots()
layer_numbers = list(range(1, DEPTH + 1))
for name in ["xavier", "constant 0.002", "constant 0.02"]:
    ax.plot(layer_numbers, gradient_norms(nets[name], x), label=name)
ax.set_yscale("log")
ax.legend()
'''},
    # the xavier net built with an explicit loop, one plot call per curve, plt.* on the axes
    "explicit_experiment": {"experiment": '''rng = np.random.default_rng(0)
x = rng.random(size=(WIDTH, BATCH))
xavier_weights = []
for _ in range(DEPTH):
    xavier_weights.append(xavier_normal((WIDTH, WIDTH), rng))
small = []
large = []
for _ in range(DEPTH):
    small.append(constant_init((WIDTH, WIDTH), 0.002))
    large.append(constant_init((WIDTH, WIDTH), 0.02))
nets = dict()
nets["xavier"] = xavier_weights
nets["constant 0.002"] = small
nets["constant 0.02"] = large
layers = range(1, DEPTH + 1)
fig, ax = plt.subplots()
ax.plot(layers, gradient_norms(nets["xavier"], x), label="xavier")
ax.plot(layers, gradient_norms(nets["constant 0.002"], x), label="constant 0.002")
ax.plot(layers, gradient_norms(nets["constant 0.02"], x), label="constant 0.02")
plt.yscale("log")
plt.legend()
plt.show()
'''},
    # a recursive backward pass (the chain rule as recursion) and the norm by hand
    "recursive": {"gradients": '''def _backward(weights, hs, upstream, grads):
    """Fill grads from the last layer down; upstream is dL/dh of the last layer left."""
    if not weights:
        return grads
    *rest, W = weights
    delta = upstream * (1 - np.tanh(W @ hs[len(rest)]) ** 2)
    grads.insert(0, delta @ hs[len(rest)].T)
    return _backward(rest, hs, W.T @ delta, grads)


def weight_gradients(weights, x):
    x = np.asarray(x, dtype=float)
    hs = [x]
    for W in weights:
        hs.append(np.tanh(W @ hs[-1]))
    return _backward(list(weights), hs, np.ones_like(hs[-1]) / x.shape[1], [])


def gradient_norms(weights, x):
    return np.array([np.sqrt((g ** 2).sum()) for g in weight_gradients(weights, x)])
'''},
    # the figure made first, tuples of labels, np.linspace layers, the figure as last expression
    "tuples_and_fig_first": {"experiment": '''fig, ax = plt.subplots()
ax.set_yscale("log")
rng = np.random.default_rng(0)
x = rng.random((WIDTH, BATCH))
labels = ("xavier", "constant 0.002", "constant 0.02")
nets = dict(zip(labels, (
    [xavier_normal((WIDTH, WIDTH), rng) for _ in range(DEPTH)],
    [constant_init((WIDTH, WIDTH), 0.002)] * DEPTH,
    [constant_init((WIDTH, WIDTH), 0.02)] * DEPTH,
)))
layers = np.linspace(1, DEPTH, DEPTH)
curves = {label: gradient_norms(nets[label], x) for label in labels}
for label in labels:
    ax.plot(layers, curves[label], label=label, marker=".")
ax.legend(title="initialization")
fig
'''},
    # float32 weights for the constant nets: the text asks only for "a float numpy array"
    "float32_constants": {"constant_init": '''def constant_init(shape, value):
    return np.full(shape, value, dtype=np.float32)
'''},
}
