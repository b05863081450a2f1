"""Planted wrong answers of ex03_orthogonal_rnn and the points each must lose.

``PLANTED[name]`` replaces answer cells (by grade_id) of the reference; ``EXPECTED[name]``
gives the score of every autograded cell that the mistake costs points (the others keep
full marks), the same under ``nbgrader autograde`` and ``initkit grade``. Every outcome
below holds for any hidden seed: a planted orthogonal that stays orthogonal (no sign fix,
gain squared, global np.random) trains like the reference, and the bptt mistakes fail
deterministic checks only.
"""

_QR_WIDE = '''
def orthogonal(shape, rng, gain=1.0):
    rows, cols = shape
    a = rng.normal(size=(rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    {wide}
    return {scale} * q
'''

_BPTT = '''
def bptt_gradient_norms(W_hh, steps, activation):
    n = W_hh.shape[0]
    h = np.ones(n)
    pre = []
    for _ in range(steps):
        a = W_hh @ h
        pre.append(a)
        h = a if activation == "linear" else np.tanh(a)
    g = np.ones(n) / {start}
    norms = [np.linalg.norm(g)]
    for a in reversed(pre):
        delta = g if activation == "linear" else {delta}
        g = W_hh.T @ delta
        norms.append(np.linalg.norm(g))
    return np.array(norms){order}
'''

_RIGHT_WIDE = "if rows < cols:\n        q = q.T"

PLANTED = {
    # the sign fix left out: still orthogonal, but Q[0, 0] is never positive (not Haar)
    "no_sign_fix": {"orthogonal": '''
def orthogonal(shape, rng, gain=1.0):
    rows, cols = shape
    a = rng.normal(size=(rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    if rows < cols:
        q = q.T
    return gain * q
'''},
    # Q of the transposed problem reshaped to the wide shape instead of transposed back
    "wide_reshaped": {"orthogonal": _QR_WIDE.format(wide="q = q.reshape(shape)", scale="gain")},
    # the gain squared (W W^T = gain^2 I squares it already): only the hidden gains see it
    "gain_squared": {"orthogonal": _QR_WIDE.format(wide=_RIGHT_WIDE, scale="gain ** 2")},
    # the global np.random: the visible "same seed, same matrix" test fails
    "global_np_random": {"orthogonal": '''
def orthogonal(shape, rng, gain=1.0):
    rows, cols = shape
    a = np.random.normal(size=(rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return gain * q
'''},
    # tanh' left out of the backward pass: the visible tanh test fails
    "no_tanh_prime": {"bptt": _BPTT.format(start="np.sqrt(n)", delta="g", order="")},
    # h_0 first instead of h_T first: the comparison's rates come out as 1/g per step
    "reversed_order": {"bptt": _BPTT.format(start="np.sqrt(n)",
                                            delta="g * (1.0 - np.tanh(a) ** 2)",
                                            order="[::-1]")},
    # the RNN's default init_hh draws the kit's orthogonal: the rerun gives 0 for it
    "kit_orthogonal_in_training": {"adding": '''
def train_adding(init, seed):
    rng = np.random.default_rng(seed)
    data = adding_problem(n_train=N_TRAIN, n_test=N_TEST, steps=SEQ_LEN, seed=seed)
    if init == "orthogonal":
        model = RNN(2, HIDDEN, 1, seed=seed)
    else:
        model = RNN(2, HIDDEN, 1, init_hh="zeros", seed=seed)
        model.W_hh.data[...] = rng.normal(0.0, G_TRAIN / np.sqrt(HIDDEN), size=(HIDDEN, HIDDEN))
    history = fit(model, data, epochs=EPOCHS, batch_size=BATCH, lr=LR, optimizer="adam",
                  seed=seed, progress=False)
    return history.test_loss


losses = {init: train_adding(init, 0) for init in ("orthogonal", "gaussian")}
fig_adding, ax = plt.subplots()
for init, curve in losses.items():
    ax.plot(np.arange(1, EPOCHS + 1), curve, label=init)
ax.axhline(BASELINE, label="baseline")
ax.legend()
'''},
    # the curves plotted against 0, 1, ... (the array's index) instead of the epochs 1, 2, ...
    "epochs_from_zero": {"adding": '''
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


losses = {init: train_adding(init, 0) for init in ("orthogonal", "gaussian")}
fig_adding, ax = plt.subplots()
for init, curve in losses.items():
    ax.plot(curve, label=init)
ax.axhline(BASELINE, label="baseline")
ax.legend()
'''},
}

EXPECTED = {
    "no_sign_fix": {"test_haar": 0.0},
    "wide_reshaped": {"test_orthogonal": 0.0},
    "gain_squared": {"test_orthogonal": 2.0},
    "global_np_random": {"test_orthogonal": 0.0},
    "no_tanh_prime": {"test_bptt": 0.0},
    "reversed_order": {"test_bptt": 0.0, "test_compare": 0.0},
    "kit_orthogonal_in_training": {"test_adding": 1.0},
    "epochs_from_zero": {"test_adding": 2.0},
}

#: the planted mistake `nbgrader autograde` grades too (beside the reference and the release)
NBGRADER_PLANT = "gain_squared"

#: sentences the feedback must show for a planted mistake (what a teaching assistant says)
SENTENCES = {
    "no_sign_fix": "did you forget the sign fix",
    "gain_squared": "did you multiply by gain**2?",
    "global_np_random": "the same seed gave two different matrices",
    "no_tanh_prime": "bptt_gradient_norms(W1, 1, 'tanh')",
    "kit_orthogonal_in_training": "ran the kit's orthogonal initializer",
}

#: what `initkit check` prints for the untouched release (the visible tests' sentences)
CHECK_RELEASE = ["not implemented yet", "FAILED"]
