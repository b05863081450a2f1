"""Planted wrong answers of ex04_he_vs_xavier and the points each must lose.

``PLANTED[name]`` replaces answer cells (by grade_id) of the reference; ``EXPECTED[name]``
gives the score of every autograded cell that the mistake costs points (the others keep
full marks), the same under ``nbgrader autograde`` and ``initkit grade``.

The training checks compare final losses, averaged over two hidden seeds, with a margin of
0.25, so each expectation holds for every hidden seed: He beat Xavier by 0.22 at one seed a
suite run drew and by at least 0.376 at 654 random ones (the graders' docstring); He
drawn uniformly, and Xavier with its variance as std (which stalls as Xavier does), beat it
by at least 0.59 over 110 seeds measured earlier; He without the factor 2 stalls like Xavier
(gap within [-0.135, 0.013] over 288 seeds).
"""

PLANTED = {
    # uniform with He's variance: the visible variance test's kurtosis check names it (and so
    # do the hidden variance checks); it trains as well as the normal draw
    "uniform_for_normal": {"he_normal": '''
def he_normal(shape, rng, mode="fan_in"):
    fan_in, fan_out = compute_fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = math.sqrt(3.0) * math.sqrt(2.0 / fan)
    return rng.uniform(-bound, bound, size=shape)
'''},
    # the global generator: the hidden "same seed, same draw" check fails, and so do the
    # training checks that rerun init_weights and train_curve with a seed and replay them
    "global_np_random": {"xavier_normal": '''
def xavier_normal(shape, rng):
    fan_in, fan_out = compute_fans(shape)
    return np.random.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)
'''},
    # LeCun's 1/fan_in: the visible test names it; the net then stalls like Xavier's, so the
    # rerun's and the figure's "He below Xavier" fail (the figure's visible test too)
    "missing_sqrt2": {"he_normal": '''
def he_normal(shape, rng, mode="fan_in"):
    fan_in, fan_out = compute_fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return rng.normal(0.0, math.sqrt(1.0 / fan), size=shape)
'''},
    # Xavier's variance passed as its std: an even smaller Xavier, which stalls all the same
    "variance_for_std": {"xavier_normal": '''
def xavier_normal(shape, rng):
    fan_in, fan_out = compute_fans(shape)
    return rng.normal(0.0, 2.0 / (fan_in + fan_out), size=shape)
'''},
    # the kit's own He: every he_normal check and every training check gives 0 and says why;
    # the figure is still the (kit-initialized) run
    "delegates_to_kit": {"he_normal": '''
import initkit

def he_normal(shape, rng, mode="fan_in"):
    return initkit.get_initializer("he_normal")(shape, rng, mode=mode)
'''},
    # the receptive field left out: the conv visible test fails; he_normal and xavier_normal
    # built on it keep their dense checks and lose their conv variances
    "no_receptive_field": {"compute_fans": '''
def compute_fans(shape):
    return int(shape[1]), int(shape[0])
'''},
    # fan_in and fan_out swapped: PyTorch's (out, in) layout read as (in, out)
    "fans_swapped": {"compute_fans": '''
def compute_fans(shape):
    receptive = math.prod(shape[2:])
    return int(shape[0] * receptive), int(shape[1] * receptive)
'''},
    # the (in, out) layout: the draw has the transposed shape
    "xavier_transposed": {"xavier_normal": '''
def xavier_normal(shape, rng):
    fan_in, fan_out = compute_fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)),
                      size=(shape[1], shape[0], *shape[2:]))
'''},
    # the curves plotted against the array index 0, 1, ... instead of the steps 1, 2, ...
    "figure_steps_from_zero": {"experiment": '''
he_losses = train_curve("he", 0)
xavier_losses = train_curve("xavier", 0)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(he_losses, label="he")
ax.plot(xavier_losses, label="xavier")
ax.legend(loc="best")
'''},
}

EXPECTED = {
    "uniform_for_normal": {"test_he_normal": 0.0},
    "global_np_random": {"test_xavier_normal": 2.0, "test_training": 0.0, "test_figure": 1.0},
    "missing_sqrt2": {"test_he_normal": 0.0, "test_training": 2.0, "test_figure": 0.0},
    "variance_for_std": {"test_xavier_normal": 0.0},
    "delegates_to_kit": {"test_he_normal": 0.0, "test_training": 0.0},
    "no_receptive_field": {"test_compute_fans": 0.0, "test_he_normal": 2.0,
                           "test_xavier_normal": 2.0},
    "fans_swapped": {"test_compute_fans": 0.0, "test_he_normal": 0.0},
    "xavier_transposed": {"test_xavier_normal": 0.0, "test_training": 0.0, "test_figure": 0.0},
    "figure_steps_from_zero": {"test_figure": 1.0},
}

#: the planted mistake `nbgrader autograde` grades too (beside the reference and the release)
NBGRADER_PLANT = "global_np_random"

#: sentences the feedback must show for a planted mistake (what a teaching assistant says)
SENTENCES = {
    "uniform_for_normal": "did you draw from a uniform distribution instead of a normal one?",
    "global_np_random": "did you use the global np.random instead of the given rng?",
    "missing_sqrt2": "did you leave out the factor 2 (1/fan_in is LeCun's rule)?",
    "variance_for_std": "did you pass the variance where the std is meant?",
    "delegates_to_kit": "he_normal calls initkit.get_initializer('he_normal')",
    "no_receptive_field": "compute_fans((16, 8, 3, 3)) is (8, 16)",
}

#: what `initkit check` prints for the untouched release (the visible tests' sentences)
CHECK_RELEASE = ["not implemented yet", "FAILED"]
