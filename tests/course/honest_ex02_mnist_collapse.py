"""Honest answers to ex02_mnist_collapse that a student could write from the released notebook
alone, each in its own style; every one must score full marks like the reference.

``HONEST[name]`` replaces answer cells (by grade_id) of the reference answers (cells not listed
keep the reference answer). Every answer trains exactly as often as the text says: two runs in
``experiment``, one in ``hack``.
"""

# a train that supports only the hack it is used with (section 3: "must work for hack=None
# and for the hack you choose as MY_HACK")
_TRAIN_LARGE_LR_ONLY = '''
def train(init, seed, hack=None):
    """Train WIDTHS on DATA from `init`; only hack=None and hack="large_lr" are supported."""
    if hack not in (None, "large_lr"):
        raise ValueError(f"this train supports hack=None and 'large_lr', not {hack!r}")
    learning_rate = 10 * LR if hack == "large_lr" else LR
    net = nn.MLP(WIDTHS, activation="relu", init=init, seed=seed, dtype=DTYPE)
    hist = fit(net, DATA, epochs=EPOCHS, batch_size=BATCH, lr=learning_rate, optimizer="sgd",
               momentum=MOMENTUM, seed=seed, progress=False)
    layers = net.dense_layers()
    result = {}
    result["loss"] = hist.loss
    result["test_accuracy"] = hist.test_accuracy
    result["n_distinct"] = [count_distinct_units(layers[i].W.data, ATOL)
                            for i in range(len(layers) - 1)]
    result["weights"] = [layers[i].W.data for i in range(len(layers))]
    result["biases"] = [layers[i].b.data for i in range(len(layers))]
    return result
'''

HONEST = {
    # 1. IPython magics: %timeit on a cheap call, a %%time cell defining train, %matplotlib
    # inline and %time assigning `runs` that the rest of the cell uses
    "magics": {
        "count_distinct_units": '''
def count_distinct_units(W, atol):
    W = np.asarray(W, dtype=float)
    remaining = np.arange(len(W))
    count = 0
    while remaining.size:
        same = np.isclose(W[remaining], W[remaining[0]], rtol=0, atol=atol,
                          equal_nan=True).all(axis=1)
        remaining = remaining[~same]
        count += 1
    return count

%timeit -n1 -r1 count_distinct_units(np.eye(4), 1e-6)
''',
        "train": '''%%time
def train(init, seed, hack=None):
    model = nn.MLP(WIDTHS, activation="relu", init=init, seed=seed, dtype=DTYPE,
                   norm="batch" if hack == "batch_norm" else None)
    history = fit(model, DATA, epochs=4 * EPOCHS if hack == "more_epochs" else EPOCHS,
                  batch_size=BATCH,
                  lr={"adam": ADAM_LR, "large_lr": 10 * LR}.get(hack, LR),
                  optimizer="adam" if hack == "adam" else "sgd", momentum=MOMENTUM,
                  seed=seed, progress=False)
    dense = model.dense_layers()
    return {"loss": history.loss, "test_accuracy": history.test_accuracy,
            "n_distinct": [count_distinct_units(layer.W.data, ATOL) for layer in dense[:-1]],
            "weights": [layer.W.data for layer in dense],
            "biases": [layer.b.data for layer in dense]}
''',
        "experiment": '''%matplotlib inline
%time runs = {"he": train("he", SEED), "constant": train(CONSTANT, SEED)}
fig, ax = plt.subplots()
for name in runs:
    steps = np.arange(1, len(runs[name]["loss"]) + 1)
    ax.plot(steps, runs[name]["loss"], label=name)
    print(name, runs[name]["test_accuracy"][-1], runs[name]["n_distinct"])
ax.legend()
''',
        "hack": '''MY_HACK = "adam"
%time rescue = train(CONSTANT, SEED, hack=MY_HACK)
print(rescue["test_accuracy"][-1], rescue["n_distinct"])
''',
    },
    # 2. display(...) at the end of cells and bare expressions as last lines
    "display": {
        "plugin": '''
def constant_init(shape, rng, value=VALUE, dtype=np.float64):
    return np.full(shape, value, dtype=dtype)


class ConstantPlugin:
    @initkit.hookimpl
    def initkit_register_initializers(self, register):
        register(CONSTANT, constant_init, family="constant")


initkit.unregister_plugin(PLUGIN)
initkit.register_plugin(ConstantPlugin(), name=PLUGIN)
kit_draw(CONSTANT, (2, 3), np.random.default_rng(0))
''',
        "experiment": '''
runs = {"he": train("he", SEED), "constant": train(CONSTANT, SEED)}
fig, ax = plt.subplots()
for name, run in runs.items():
    ax.plot(np.arange(1, len(run["loss"]) + 1), run["loss"], label=name)
ax.legend()
display({name: (run["test_accuracy"][-1], run["n_distinct"]) for name, run in runs.items()})
display(fig)
''',
        "hack": '''
MY_HACK = "adam"
rescue = train(CONSTANT, SEED, hack=MY_HACK)
rescue["test_accuracy"][-1], rescue["n_distinct"]
''',
    },
    # 3. extra honest figure content: reference lines, grid, smoothed extra curves, epoch
    # boundaries, title, log-scale y, legend
    "figure_extras": {"experiment": '''
runs = {"he": train("he", SEED), "constant": train(CONSTANT, SEED)}
fig, ax = plt.subplots(figsize=(8, 4.5))
for name, run in runs.items():
    loss = np.asarray(run["loss"])
    steps = np.arange(1, len(loss) + 1)
    line, = ax.plot(steps, loss, label=name, alpha=0.6)
    window = 10
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    ax.plot(steps[window - 1:], smooth, color=line.get_color(), linewidth=2,
            label=f"{name} (moving average of {window})")
    print(f"{name}: final test accuracy {run['test_accuracy'][-1]:.3f}, "
          f"distinct hidden units {run['n_distinct']}")
ax.axhline(np.log(10), color="black", linestyle="--", label="log 10 (uniform guess)")
for epoch in range(1, EPOCHS):
    ax.axvline(epoch * len(runs["he"]["loss"]) // EPOCHS, color="grey", linewidth=0.5)
ax.set_yscale("log")
ax.grid(True, which="both", alpha=0.3)
ax.set_xlabel("step")
ax.set_ylabel("loss")
ax.set_title("He vs constant initialization")
ax.legend(loc="upper right", fontsize="small")
fig.tight_layout()
'''},
    # 4. count_distinct_units with plain Python loops over rows (pairwise np.isclose)
    "loops_count": {"count_distinct_units": '''
def count_distinct_units(W, atol):
    n_rows = W.shape[0]
    assigned = [False] * n_rows
    units = 0
    for i in range(n_rows):
        if assigned[i]:
            continue
        units += 1
        for j in range(i, n_rows):
            if not assigned[j] and np.isclose(W[i], W[j], rtol=0, atol=atol,
                                              equal_nan=True).all():
                assigned[j] = True
    return units
'''},
    # 5. count_distinct_units fully vectorised: one broadcast (n, n) "same unit" matrix
    "broadcast_count": {"count_distinct_units": '''
def count_distinct_units(W, atol):
    W = np.asarray(W, dtype=np.float64)
    same = np.isclose(W[:, None, :], W[None, :, :], rtol=0.0, atol=atol,
                      equal_nan=True).all(axis=-1)          # same[i, j]: rows i, j one unit
    unassigned = np.ones(len(W), dtype=bool)
    count = 0
    while unassigned.any():
        first = np.flatnonzero(unassigned)[0]
        unassigned &= ~same[first]
        count += 1
    return int(count)
'''},
    # 6. count_distinct_units keeping one representative per unit; type hints, docstring,
    # an early return
    "representatives_count": {"count_distinct_units": '''
def count_distinct_units(W: np.ndarray, atol: float) -> int:
    """Number of groups of rows of W equal within atol (NaN == NaN), counted greedily."""
    rows = np.asarray(W, dtype=float)
    if rows.shape[0] == 0:
        return 0
    representatives: list[np.ndarray] = []
    for row in rows:
        # a row belongs to the first earlier unit it matches, else it starts a new one
        if not any(np.isclose(rep, row, rtol=0, atol=atol, equal_nan=True).all()
                   for rep in representatives):
            representatives.append(row)
    return len(representatives)
'''},
    # 7. another valid constant_init (np.empty + fill), metadata family only,
    # docstrings and type hints, other local names
    "plugin_variants": {"plugin": '''
def constant_init(shape, rng, value=VALUE, dtype=np.float64):
    """Every entry equal to value; draws nothing from rng."""
    weights = np.empty(shape, dtype=dtype)
    weights.fill(value)
    return weights


class ConstantPlugin:
    """Registers constant_init under the name CONSTANT."""

    @initkit.hookimpl
    def initkit_register_initializers(self, register) -> None:
        register(CONSTANT, constant_init, family="constant")


initkit.unregister_plugin(PLUGIN)
my_plugin = ConstantPlugin()
initkit.register_plugin(my_plugin, name=PLUGIN)
print("registered", CONSTANT, "from", kit_plugin_of(CONSTANT))
'''},
    # 8. another constant_init: broadcasting a 0-d array, then a copy of the requested dtype
    "plugin_broadcast": {"plugin": '''
import initkit as kit


def constant_init(shape, rng, value=VALUE, dtype=np.float64):
    # a read-only broadcast view would be shared by every draw: return a real copy
    return np.broadcast_to(np.asarray(value, dtype=dtype), shape).copy()


class ConstantPlugin:
    @kit.hookimpl
    def initkit_register_initializers(self, register):
        register(CONSTANT, constant_init)


kit.unregister_plugin(PLUGIN)
plugin_name = kit.register_plugin(ConstantPlugin(), name=PLUGIN)
'''},
    # 9. train built from a settings helper and an if/elif chain, keyword dicts, type hints,
    # np.asarray conversions of the history
    "train_helpers": {"train": '''
def _settings(hack: str | None) -> tuple[dict, dict]:
    """(extra nn.MLP keywords, fit keywords) of one hack (section 3's table)."""
    model_kw: dict = {}
    fit_kw = dict(epochs=EPOCHS, batch_size=BATCH, lr=LR, optimizer="sgd", momentum=MOMENTUM)
    if hack is None:
        pass
    elif hack == "adam":
        fit_kw.update(optimizer="adam", lr=ADAM_LR)
    elif hack == "large_lr":
        fit_kw["lr"] = 10 * LR
    elif hack == "more_epochs":
        fit_kw["epochs"] = 4 * EPOCHS
    elif hack == "batch_norm":
        model_kw["norm"] = "batch"
    else:
        raise ValueError(f"unknown hack {hack!r}; choose one of {HACKS}")
    return model_kw, fit_kw


def _hidden_unit_counts(dense_layers) -> list[int]:
    return [count_distinct_units(layer.W.data, ATOL) for layer in dense_layers[:-1]]


def train(init: str, seed: int, hack: str | None = None) -> dict:
    model_kw, fit_kw = _settings(hack)
    mlp = nn.MLP(WIDTHS, activation="relu", init=init, seed=seed, dtype=DTYPE, **model_kw)
    history = fit(mlp, DATA, seed=seed, progress=False, **fit_kw)
    dense = mlp.dense_layers()
    return {
        "loss": np.asarray(history.loss),
        "test_accuracy": np.asarray(history.test_accuracy),
        "n_distinct": _hidden_unit_counts(dense),
        "weights": [np.asarray(layer.W.data) for layer in dense],
        "biases": [np.asarray(layer.b.data) for layer in dense],
    }
'''},
    # 10. hack "large_lr" with a train that supports only None and "large_lr" (the text allows
    # it), index loops and a dict filled key by key
    "hack_large_lr": {"train": _TRAIN_LARGE_LR_ONLY, "hack": '''
MY_HACK = "large_lr"
rescue = train(CONSTANT, SEED, hack=MY_HACK)
acc = rescue["test_accuracy"][-1]
print(f"constant + {MY_HACK}: accuracy {acc:.3f}, distinct units {rescue['n_distinct']}")
print("rescued?", "yes" if rescue["n_distinct"][0] > 1 else "no: still one unit copied 128 times")
'''},
    # 11. hack "batch_norm"; the experiment with other names, a comprehension, range steps and
    # a figure made without figsize
    "batch_norm_names": {
        "experiment": '''
inits = {"he": "he", "constant": CONSTANT}
runs = {label: train(registry_name, SEED) for label, registry_name in inits.items()}
fig, axis = plt.subplots()
for label in ("he", "constant"):
    curve = runs[label]["loss"]
    axis.plot(list(range(1, len(curve) + 1)), curve, label=label)
    final_accuracy = runs[label]["test_accuracy"][-1]
    print(label, "final test accuracy:", round(float(final_accuracy), 3),
          "distinct hidden units:", runs[label]["n_distinct"])
axis.set(xlabel="step", ylabel="cross-entropy")
axis.legend()
''',
        "hack": '''
MY_HACK = "batch_norm"   # batch norm before each ReLU
rescue = train(CONSTANT, SEED, hack=MY_HACK)
print("final test accuracy", rescue["test_accuracy"][-1])
print("distinct hidden units", rescue["n_distinct"])
# No: equal units get equal batch statistics, so batch norm keeps them equal.
''',
    },
    # 12. hack "more_epochs"; train passing the epochs through a variable and plot via the
    # pyplot state machine (plt.plot on the current axes of fig)
    "more_epochs_pyplot": {
        "experiment": '''
he_run = train("he", SEED)
constant_run = train(CONSTANT, SEED)
runs = {"he": he_run, "constant": constant_run}
fig, ax = plt.subplots()
for key in runs:
    n_steps = len(runs[key]["loss"])
    plt.plot(np.linspace(1, n_steps, n_steps), runs[key]["loss"], label=key)
plt.xlabel("step")
plt.legend()
for key, run in runs.items():
    print("%-8s accuracy %.3f units %s" % (key, run["test_accuracy"][-1], run["n_distinct"]))
''',
        "hack": '''
MY_HACK = "more_epochs"
rescue = train(CONSTANT, SEED, hack=MY_HACK)
print(MY_HACK, rescue["test_accuracy"][-1], rescue["n_distinct"])
''',
    },
}
