"""Honest answers to ex04_he_vs_xavier that a student could write from the released notebook alone.

``HONEST[name]`` replaces answer cells (by grade_id) of the reference answers, like the
planted mistakes of ``spec_ex04_he_vs_xavier``; every entry is correct by the notebook's text
(PyTorch's ``(out, in, *kernel)`` layout, ``(fan_in, fan_out)`` as ints, one ``rng.normal``
draw per matrix on the given generator, one ``default_rng(seed)`` per ``init_weights``, input
layer first, the exact ``fit`` call, curves labelled ``"he"``/``"xavier"`` against the steps
1..STEPS) and must keep full autograded marks in ``initkit check``, ``initkit grade`` and
``nbgrader autograde``.
"""

HONEST = {
    # IPython line magics: %time assigning the curves the figure uses, %timeit -n1 -r1 on a
    # cheap call, %matplotlib inline at the top of the cell
    "line_magics": {"experiment": '''
%matplotlib inline
%time he_losses = train_curve("he", 0)
%time xavier_losses = train_curve("xavier", 0)
%timeit -n1 -r1 init_weights("he", 0)
fig, ax = plt.subplots()
ax.plot(np.arange(1, STEPS + 1), he_losses, label="he")
ax.plot(np.arange(1, STEPS + 1), xavier_losses, label="xavier")
ax.legend()
'''},
    # a %%time cell magic whose body defines both functions (the body runs in the user
    # namespace, so the definitions persist)
    "cell_magic_time": {"training": '''%%time
def init_weights(init, seed):
    initializer = he_normal if init == "he" else xavier_normal
    rng = np.random.default_rng(seed)
    return [initializer((n_out, n_in), rng) for n_in, n_out in zip(WIDTHS[:-1], WIDTHS[1:])]


def train_curve(init, seed):
    model = mlp_with_weights(init_weights(init, seed))
    history = initkit.train.fit(model, data, epochs=EPOCHS, batch_size=BATCH, lr=LR,
                                momentum=MOMENTUM, seed=seed, max_steps=STEPS, progress=False)
    return history.loss
'''},
    # display(fig) at the end of the cell, after closing the implicit inline copy
    "display_fig": {"experiment": '''
he_losses = train_curve("he", 0)
xavier_losses = train_curve("xavier", 0)
fig, ax = plt.subplots()
steps = np.arange(1, STEPS + 1)
ax.plot(steps, he_losses, label="he")
ax.plot(steps, xavier_losses, label="xavier")
ax.set_xlabel("step")
ax.set_ylabel("loss")
ax.legend()
plt.close(fig)
display(fig)
'''},
    # bare expressions as the last lines: the final losses, then the figure itself
    "bare_expression_last": {"experiment": '''
he_losses = train_curve("he", 0)
xavier_losses = train_curve("xavier", 0)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(1, STEPS + 1), he_losses, label="he")
ax.plot(np.arange(1, STEPS + 1), xavier_losses, label="xavier")
ax.legend()
final_loss(he_losses), final_loss(xavier_losses)
fig
'''},
    # extra honest figure content: the chance level (labelled), a smoothed unlabelled curve
    # per run, a grid, a title, axis labels, x limits, a legend
    "extra_figure_content": {"experiment": '''
he_losses = train_curve("he", 0)
xavier_losses = train_curve("xavier", 0)
steps = np.arange(1, STEPS + 1)
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(steps, he_losses, label="he", alpha=0.6)
ax.plot(steps, xavier_losses, label="xavier", alpha=0.6)
kernel = np.ones(LAST) / LAST
for losses in (he_losses, xavier_losses):
    smooth = np.convolve(losses, kernel, mode="valid")
    ax.plot(steps[LAST - 1:], smooth, color="black", linewidth=1)
ax.axhline(np.log(10), color="red", linestyle="--", label="chance: ln 10")
ax.grid(True, alpha=0.3)
ax.set_xlim(1, STEPS)
ax.set_title("He vs Xavier, 20 ReLU layers")
ax.set_xlabel("SGD step")
ax.set_ylabel("batch cross-entropy")
ax.legend(loc="upper right")
fig.tight_layout()
'''},
    # loops instead of math.prod / comprehensions, if/elif dispatch, explicit append
    "explicit_loops": {
        "compute_fans": '''
def compute_fans(shape):
    receptive_field = 1
    for k in shape[2:]:
        receptive_field *= k
    fan_in = shape[1] * receptive_field
    fan_out = shape[0] * receptive_field
    return int(fan_in), int(fan_out)
''',
        "training": '''
def init_weights(init, seed):
    rng = np.random.default_rng(seed)
    weights = []
    for i in range(len(WIDTHS) - 1):
        n_in, n_out = WIDTHS[i], WIDTHS[i + 1]
        if init == "he":
            W = he_normal((n_out, n_in), rng)
        elif init == "xavier":
            W = xavier_normal((n_out, n_in), rng)
        else:
            raise ValueError(f"unknown init {init!r}: use 'he' or 'xavier'")
        weights.append(W)
    return weights


def train_curve(init, seed):
    weights = init_weights(init, seed)
    model = mlp_with_weights(weights)
    history = initkit.train.fit(model, data, epochs=EPOCHS, batch_size=BATCH, lr=LR,
                                momentum=MOMENTUM, seed=seed, max_steps=STEPS, progress=False)
    losses = history.loss
    return losses
''',
        "experiment": '''
curves = {}
for init in ("he", "xavier"):
    curves[init] = train_curve(init, 0)
he_losses, xavier_losses = curves["he"], curves["xavier"]
fig, ax = plt.subplots()
for init, losses in curves.items():
    ax.plot(np.arange(1, STEPS + 1), losses, label=init)
ax.legend()
'''},
    # other valid numpy calls: np.prod with an int dtype, np.sqrt, ** 0.5, the std as
    # scale= keyword, rng.normal with positional loc/scale
    "other_numpy_calls": {
        "compute_fans": '''
def compute_fans(shape):
    shape = tuple(shape)
    r = np.prod(shape[2:], dtype=np.int64)
    return shape[1] * r, shape[0] * r
''',
        "he_normal": '''
def he_normal(shape, rng, mode="fan_in"):
    fan_in, fan_out = compute_fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out}[mode]
    return rng.normal(loc=0.0, scale=np.sqrt(2 / fan), size=shape)
''',
        "xavier_normal": '''
def xavier_normal(shape, rng):
    fan_in, fan_out = compute_fans(shape)
    std = (2 / (fan_in + fan_out)) ** 0.5
    return rng.normal(0, std, shape)
'''},
    # the standard normal scaled by the std: the same single draw as rng.normal(0, std, shape)
    "standard_normal_times_std": {
        "he_normal": '''
def he_normal(shape, rng, mode="fan_in"):
    fan_in, fan_out = compute_fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return rng.standard_normal(size=shape) * math.sqrt(2.0 / fan)
''',
        "xavier_normal": '''
def xavier_normal(shape, rng):
    fan_in, fan_out = compute_fans(shape)
    return math.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal(shape)
'''},
    # type hints, docstrings, star-unpacking of the shape, early return, a helper of the
    # student's own shared by both initializers, a ValueError on a bad mode
    "typed_helpers_docstrings": {
        "compute_fans": '''
def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight in PyTorch's (out, in, *kernel) layout."""
    n_out, n_in, *kernel = shape
    receptive = math.prod(kernel)  # 1 for a dense layer
    return n_in * receptive, n_out * receptive
''',
        "he_normal": '''
def _gaussian(shape: tuple[int, ...], rng: np.random.Generator, variance: float) -> np.ndarray:
    """One draw of N(0, variance) of the given shape from rng."""
    return rng.normal(0.0, math.sqrt(variance), size=shape)


def he_normal(shape: tuple[int, ...], rng: np.random.Generator,
              mode: str = "fan_in") -> np.ndarray:
    """He et al. (2015): N(0, 2/fan), fan = fan_in or fan_out."""
    fan_in, fan_out = compute_fans(shape)
    if mode == "fan_in":
        return _gaussian(shape, rng, 2.0 / fan_in)
    if mode == "fan_out":
        return _gaussian(shape, rng, 2.0 / fan_out)
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', not {mode!r}")
''',
        "xavier_normal": '''
def xavier_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Glorot & Bengio (2010): N(0, 2/(fan_in + fan_out))."""
    fan_in, fan_out = compute_fans(shape)
    return _gaussian(shape, rng, 2.0 / (fan_in + fan_out))
'''},
    # other names, a module-level table of initializers, shapes as lists of pairs,
    # np.asarray on the returned history, keyword arguments in another order
    "other_names_and_tables": {
        "training": '''
INITIALIZERS = {"he": he_normal, "xavier": xavier_normal}
LAYER_SHAPES = [(fan_out, fan_in) for fan_in, fan_out in zip(WIDTHS[:-1], WIDTHS[1:])]


def init_weights(init, seed):
    draw = INITIALIZERS[init]
    generator = np.random.default_rng(seed)
    return [draw(s, generator) for s in LAYER_SHAPES]


def train_curve(init, seed):
    net = mlp_with_weights(init_weights(init, seed))
    hist = initkit.train.fit(net, data, lr=LR, momentum=MOMENTUM, batch_size=BATCH,
                             epochs=EPOCHS, max_steps=STEPS, seed=seed, progress=False)
    return np.asarray(hist.loss, dtype=float)
''',
        "experiment": '''
runs = {name: train_curve(name, 0) for name in ["he", "xavier"]}
he_losses = runs["he"]
xavier_losses = runs["xavier"]
x = np.arange(1, STEPS + 1)
fig, ax = plt.subplots()
ax.plot(x, runs["xavier"], label="xavier")   # the other order
ax.plot(x, runs["he"], label="he")
ax.axhline(math.log(10), color="k", linewidth=0.5)
ax.legend(title="init")
print("final losses:", {k: round(final_loss(v), 3) for k, v in runs.items()})
'''},
    # an early return for dense shapes, lambdas closing over the one rng (mode passed by
    # keyword), pairs from zip(WIDTHS, WIDTHS[1:]), the history's loss returned inline
    "early_return_tuple_shapes": {
        "compute_fans": '''
def compute_fans(shape):
    if len(shape) == 2:          # a dense weight: no kernel
        return int(shape[1]), int(shape[0])
    r = math.prod(shape[2:])
    return int(shape[1]) * r, int(shape[0]) * r
''',
        "training": '''
def init_weights(init, seed):
    rng = np.random.default_rng(seed)
    f = {"he": lambda s: he_normal(s, rng, mode="fan_in"),
         "xavier": lambda s: xavier_normal(s, rng)}[init]
    return [f((b, a)) for a, b in zip(WIDTHS, WIDTHS[1:])]


def train_curve(init, seed):
    model = mlp_with_weights(init_weights(init, seed))
    return initkit.train.fit(model, data, epochs=EPOCHS, batch_size=BATCH, lr=LR,
                             momentum=MOMENTUM, seed=seed, max_steps=STEPS,
                             progress=False).loss
'''},
    # float32 weights: the text asks for "a float array of exactly shape", no precision;
    # the draw is still the one rng.normal(0.0, std, size=shape) call, then cast
    "float32_cast": {
        "he_normal": '''
def he_normal(shape, rng, mode="fan_in"):
    fan_in, fan_out = compute_fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return rng.normal(0.0, math.sqrt(2.0 / fan), size=shape).astype(np.float32)
''',
        "xavier_normal": '''
def xavier_normal(shape, rng):
    fan_in, fan_out = compute_fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape).astype(np.float32)
'''},
}
