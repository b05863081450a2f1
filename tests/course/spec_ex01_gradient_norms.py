"""Planted wrong answers of ex01_gradient_norms and the points each must lose.

``PLANTED[name]`` replaces answer cells (by grade_id) of the reference; ``EXPECTED[name]``
gives the score of every autograded cell that the mistake costs points (the others keep
full marks), the same under ``nbgrader autograde`` and ``initkit grade``.
"""

PLANTED = {
    # visible test passes; the hidden "same seed, same draw" check fails
    "global_np_random": {"xavier_normal": '''
def xavier_normal(shape, rng):
    fan_out, fan_in = shape
    return np.random.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
'''},
    # the kit's own implementation: every xavier check gives 0 and says why
    "delegates_to_kit": {"xavier_normal": '''
import initkit

def xavier_normal(shape, rng):
    return initkit.get_initializer("xavier_normal")(shape, rng)
'''},
    # np.full keeps an int value's dtype: only the hidden dtype check sees it
    "int_dtype": {"constant_init": '''
def constant_init(shape, value):
    return np.full(shape, value)
'''},
    # output layer first: the visible test with a zero layer names it
    "outputs_first": {"gradients": '''
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
    return np.array([np.linalg.norm(g) for g in weight_gradients(weights, x)])[::-1]
'''},
    # tanh' left out: the visible one-layer test fails, so does everything built on it
    "no_tanh_prime": {"gradients": '''
def weight_gradients(weights, x):
    hs = [x]
    for W in weights:
        hs.append(np.tanh(W @ hs[-1]))
    upstream = np.ones_like(hs[-1]) / x.shape[1]
    grads = [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        grads[l] = upstream @ hs[l].T
        upstream = weights[l].T @ upstream
    return grads


def gradient_norms(weights, x):
    return np.array([np.linalg.norm(g) for g in weight_gradients(weights, x)])
'''},
    # uniform draws with Glorot's variance: the visible variance test's kurtosis check names
    # them, and so does the hidden variance check on its own
    "uniform_for_normal": {"xavier_normal": '''
def xavier_normal(shape, rng):
    fan_out, fan_in = shape
    bound = np.sqrt(3.0) * np.sqrt(2.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)
'''},
    # dL/dh_{l-1} from dL/dh_l instead of dL/da_l: right for one layer (the visible test),
    # wrong deeper, so weight_gradients and the gradient_norms built on it lose their points
    "upstream_skips_tanh_prime": {"gradients": '''
def weight_gradients(weights, x):
    hs = [x]
    for W in weights:
        hs.append(np.tanh(W @ hs[-1]))
    upstream = np.ones_like(hs[-1]) / x.shape[1]
    grads = [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        delta = upstream * (1.0 - hs[l + 1] ** 2)
        grads[l] = delta @ hs[l].T
        upstream = weights[l].T @ upstream
    return grads


def gradient_norms(weights, x):
    return np.array([np.linalg.norm(g) for g in weight_gradients(weights, x)])
'''},
    # He's 2/fan_in: the visible variance test names the mistake
    "he_variance": {"xavier_normal": '''
def xavier_normal(shape, rng):
    fan_out, fan_in = shape
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
'''},
}

EXPECTED = {
    "global_np_random": {"test_xavier_normal": 2.0},
    "delegates_to_kit": {"test_xavier_normal": 0.0},
    "int_dtype": {"test_constant_init": 0.0},
    "outputs_first": {"test_gradient_norms": 0.0, "test_figure": 0.0},
    "no_tanh_prime": {"test_gradient_norms": 0.0, "test_figure": 0.0,
                      "test_constant_collapse": 0.0},
    "he_variance": {"test_xavier_normal": 0.0},
    "uniform_for_normal": {"test_xavier_normal": 0.0},
    "upstream_skips_tanh_prime": {"test_gradient_norms": 0.0, "test_constant_collapse": 0.0,
                                  "test_figure": 0.0},
}

#: the planted mistake `nbgrader autograde` grades too (beside the reference and the release)
NBGRADER_PLANT = "global_np_random"

#: sentences the feedback must show for a planted mistake (what a teaching assistant says)
SENTENCES = {
    "global_np_random": "did you use the global np.random instead of the given rng?",
    "delegates_to_kit": "xavier_normal calls initkit.get_initializer('xavier_normal')",
    "outputs_first": "lists the output layer first",
    "he_variance": "did you use fan_in alone (2/fan_in is He's rule)?",
}

#: what `initkit check` prints for the untouched release (the visible tests' sentences)
CHECK_RELEASE = ["not implemented yet", "FAILED"]
