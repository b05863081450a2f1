"""Planted wrong answers of ex02_mnist_collapse and the points each must lose.

``PLANTED[name]`` replaces answer cells (by grade_id) of the reference; ``EXPECTED[name]``
gives the score of every autograded cell that the mistake costs points (the others keep
full marks), the same under ``nbgrader autograde`` and ``initkit grade``.
"""

_TRAIN_HEAD = '''
def train(init, seed, hack=None):
    model = nn.MLP(WIDTHS, activation="relu", init=init, seed=seed, dtype=DTYPE,
                   norm="batch" if hack == "batch_norm" else None)
'''

_TRAIN_RETURN = '''
    dense = model.dense_layers()
    return {"loss": history.loss, "test_accuracy": history.test_accuracy,
            "n_distinct": [count_distinct_units(layer.W.data, ATOL) for layer in dense[:-1]],
            "weights": [layer.W.data for layer in dense],
            "biases": [layer.b.data for layer in dense]}
'''

PLANTED = {
    # exact comparison: the visible (exact) cases pass; float noise and NaN rows do not
    "unique_exact": {"count_distinct_units": '''
def count_distinct_units(W, atol):
    return len(np.unique(W, axis=0))
'''},
    # rows sorted before comparing: rows holding the same numbers in another order merge
    "sorted_rows": {"count_distinct_units": '''
def count_distinct_units(W, atol):
    W = np.sort(np.asarray(W, dtype=float), axis=1)
    remaining = np.arange(len(W))
    count = 0
    while remaining.size:
        same = np.isclose(W[remaining], W[remaining[0]], rtol=0, atol=atol,
                          equal_nan=True).all(axis=1)
        remaining = remaining[~same]
        count += 1
    return count
'''},
    # np.allclose keeps its relative tolerance: rows of large weights look equal
    "default_rtol": {"count_distinct_units": '''
def count_distinct_units(W, atol):
    W = np.asarray(W, dtype=float)
    remaining = list(range(len(W)))
    count = 0
    while remaining:
        first = remaining[0]
        remaining = [i for i in remaining
                     if not np.allclose(W[i], W[first], atol=atol, equal_nan=True)]
        count += 1
    return count
'''},
    # the initializer ignores its value argument (always VALUE): the visible draw with
    # value=0.5 names it
    "plugin_ignores_value": {"plugin": '''
def constant_init(shape, rng, value=VALUE, dtype=np.float64):
    return np.full(shape, VALUE, dtype=dtype)


class ConstantPlugin:
    @initkit.hookimpl
    def initkit_register_initializers(self, register):
        register(CONSTANT, constant_init, family="constant")


initkit.unregister_plugin(PLUGIN)
_ = initkit.register_plugin(ConstantPlugin(), name=PLUGIN)
'''},
    # seed 0 everywhere: the visible run (SEED = 0) cannot tell
    "seed_ignored": {"train": '''
def train(init, seed, hack=None):
    model = nn.MLP(WIDTHS, activation="relu", init=init, seed=0, dtype=DTYPE,
                   norm="batch" if hack == "batch_norm" else None)
    history = fit(model, DATA, epochs=4 * EPOCHS if hack == "more_epochs" else EPOCHS,
                  batch_size=BATCH, lr={"adam": ADAM_LR, "large_lr": 10 * LR}.get(hack, LR),
                  optimizer="adam" if hack == "adam" else "sgd", momentum=MOMENTUM,
                  seed=0, progress=False)
''' + _TRAIN_RETURN},
    # curves made up, weights never trained: every training, figure and hack point is lost
    "fake_curves": {"train": '''
def train(init, seed, hack=None):
    model = nn.MLP(WIDTHS, activation="relu", init=init, seed=seed, dtype=DTYPE)
    good = init == "he"
    loss = np.linspace(2.3, 0.3 if good else 2.3, EPOCHS * 63)
    accuracy = np.array([0.90, 0.92, 0.93]) if good else np.full(EPOCHS, 0.10)
    dense = model.dense_layers()
    return {"loss": loss, "test_accuracy": accuracy,
            "n_distinct": [count_distinct_units(layer.W.data, ATOL) for layer in dense[:-1]],
            "weights": [layer.W.data for layer in dense],
            "biases": [layer.b.data for layer in dense]}
'''},
    # the hack is chosen but train never applies it
    "hack_ignored": {"train": _TRAIN_HEAD + '''
    history = fit(model, DATA, epochs=EPOCHS, batch_size=BATCH, lr=LR, optimizer="sgd",
                  momentum=MOMENTUM, seed=seed, progress=False)
''' + _TRAIN_RETURN, "hack": '''
MY_HACK = "large_lr"
rescue = train(CONSTANT, SEED, hack=MY_HACK)
print(rescue["test_accuracy"][-1], rescue["n_distinct"])
'''},
    # the plugin registered without its name: the kit names it, and not PLUGIN
    "plugin_unnamed": {"plugin": '''
def constant_init(shape, rng, value=VALUE, dtype=np.float64):
    return np.full(shape, value, dtype=dtype)


class ConstantPlugin:
    @initkit.hookimpl
    def initkit_register_initializers(self, register):
        register(CONSTANT, constant_init, family="constant", activation="relu",
                 variance=lambda fan_in, fan_out, value=VALUE: 0.0,
                 mean=lambda fan_in, fan_out, value=VALUE: value)


initkit.unregister_plugin(PLUGIN)
_ = initkit.register_plugin(ConstantPlugin())
'''},
}

EXPECTED = {
    "unique_exact": {"test_count_distinct_units": 1.0},
    "default_rtol": {"test_count_distinct_units": 2.0},
    "plugin_ignores_value": {"test_plugin": 0.0},
    "seed_ignored": {"test_train": 4.0},
    "fake_curves": {"test_train": 0.0, "test_figure": 0.0, "test_hack": 0.0},
    "hack_ignored": {"test_hack": 0.0},
    "sorted_rows": {"test_count_distinct_units": 0.0},
    "plugin_unnamed": {"test_plugin": 0.0},
}

#: the planted mistake `nbgrader autograde` grades too (beside the reference and the release)
NBGRADER_PLANT = "default_rtol"

#: sentences the feedback must show for a planted mistake (what a teaching assistant says)
SENTENCES = {
    "unique_exact": "did you compare exactly (np.unique or ==) instead of within atol?",
    "default_rtol": "did you leave a relative tolerance on",
    "plugin_ignores_value": "did you ignore the value argument?",
    "seed_ignored": "pass seed to nn.MLP and fit",
    "fake_curves": "did not run initkit.train.fit",
    "hack_ignored": "trained exactly like the plain run",
}

#: what `initkit check` prints for the untouched release (the visible tests' sentences)
CHECK_RELEASE = ["not implemented yet", "FAILED"]
