"""Built-in initializers: scales against PyTorch, declared targets, shapes and determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import initkit
from initkit.errors import FanError

SHAPES = [(256, 128), (128, 256), (64, 32, 3, 3), (16, 8, 5)]


def _numpy_scale(name: str, shape, kind: str, **params) -> float:
    """The scale initkit used: its draw divided by the standard draw from the same seed."""
    weight = initkit.get_initializer(name)(shape, np.random.default_rng(7), **params)
    rng = np.random.default_rng(7)
    if kind == "normal":
        return float(np.median(weight / rng.normal(0.0, 1.0, size=shape)))
    return float(np.median(weight / rng.uniform(-1.0, 1.0, size=shape)))


def _torch_scale(fn, shape, kind: str, **kwargs) -> float:
    """The scale torch.nn.init used: its draw divided by the standard draw from the same seed."""
    weight = torch.empty(shape, dtype=torch.float64)
    fn(weight, generator=torch.Generator().manual_seed(3), **kwargs)
    unit = torch.empty(shape, dtype=torch.float64)
    if kind == "normal":
        unit.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(3))
    else:
        unit.uniform_(-1.0, 1.0, generator=torch.Generator().manual_seed(3))
    return float(torch.median(weight / unit))


CASES = [
    ("xavier_normal", torch.nn.init.xavier_normal_, "normal", {}),
    ("xavier_normal", torch.nn.init.xavier_normal_, "normal", {"gain": 5 / 3}),
    ("xavier_uniform", torch.nn.init.xavier_uniform_, "uniform", {}),
    ("xavier_uniform", torch.nn.init.xavier_uniform_, "uniform", {"gain": 2.0}),
    ("he_normal", torch.nn.init.kaiming_normal_, "normal", {}),
    ("he_normal", torch.nn.init.kaiming_normal_, "normal", {"mode": "fan_out"}),
    ("he_normal", torch.nn.init.kaiming_normal_, "normal",
     {"a": 0.2, "nonlinearity": "leaky_relu"}),
    ("he_normal", torch.nn.init.kaiming_normal_, "normal", {"nonlinearity": "tanh"}),
    ("he_uniform", torch.nn.init.kaiming_uniform_, "uniform", {}),
    ("he_uniform", torch.nn.init.kaiming_uniform_, "uniform",
     {"mode": "fan_out", "nonlinearity": "relu"}),
    ("he_uniform", torch.nn.init.kaiming_uniform_, "uniform", {"a": math.sqrt(5)}),
    ("normal", torch.nn.init.normal_, "normal", {"std": 0.02}),
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,torch_fn,kind,params", CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_scale_equals_pytorch(name, torch_fn, kind, params, shape):
    """Each initializer's std (normal) or bound (uniform) equals torch.nn.init's for the same shape and arguments."""
    ours = _numpy_scale(name, shape, kind, **params)
    theirs = _torch_scale(torch_fn, shape, kind, **params)
    assert ours == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_fans_equal_pytorch(shape):
    """compute_fans gives torch's (fan_in, fan_out), conv receptive fields included."""
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert initkit.compute_fans(shape) == expected


@pytest.mark.parametrize("name", ["lecun_normal", "lecun_uniform"])
def test_lecun_scale(name):
    """LeCun initializers scale to variance 1 / fan_in (std 1/sqrt(fan_in); bound sqrt(3/fan_in))."""
    shape = (64, 32, 3, 3)
    kind = "normal" if name.endswith("normal") else "uniform"
    expected = math.sqrt(1 / 288) if kind == "normal" else math.sqrt(3 / 288)
    assert _numpy_scale(name, shape, kind) == pytest.approx(expected, rel=1e-12)


def test_bad_is_normal_with_std_point_six():
    """The lesson's 'bad' init is N(0, 0.6^2) whatever the width."""
    assert _numpy_scale("bad", (1000, 3), "normal") == pytest.approx(0.6, rel=1e-12)
    assert initkit.get_initializer("bad").target_variance((10, 1000)) == pytest.approx(0.36)


@pytest.mark.parametrize("name", sorted(initkit.initializers()))
def test_empirical_variance_matches_declared_target(name):
    """Every built-in's sample mean and variance sit within 5 standard errors of its declared
    targets, the SEs from the declared distribution (a deterministic one: E[W^2] exactly)."""
    from initkit.testing.stats import standard_shape

    init = initkit.get_initializer(name)
    shape = (400, 300)
    weight = init(shape, np.random.default_rng(11))
    var, mean = init.target_variance(shape), init.target_mean(shape)
    n = weight.size
    if init.deterministic:
        assert np.mean(weight**2) == pytest.approx(var, rel=1e-12, abs=1e-300)
        if init.mean is not None:
            assert np.mean(weight) == pytest.approx(mean, rel=1e-12, abs=1e-12)
        return
    kurtosis = standard_shape(init.target_distribution(shape)).kurtosis
    assert abs(weight.mean() - mean) < 5 * math.sqrt(var / n)
    assert abs(weight.var(ddof=1) - var) < 5 * var * math.sqrt((kurtosis - 1) / n + 2 / n**2)


@pytest.mark.parametrize("name,bound", [
    ("xavier_uniform", math.sqrt(6 / (300 + 400))),
    ("he_uniform", math.sqrt(3) * math.sqrt(2) / math.sqrt(300)),
    ("lecun_uniform", math.sqrt(3 / 300)),
])
def test_uniform_bounds(name, bound):
    """Uniform initializers stay inside their bound and reach close to it."""
    weight = initkit.get_initializer(name)((400, 300), np.random.default_rng(0))
    assert np.abs(weight).max() <= bound
    assert np.abs(weight).max() > 0.999 * bound


@pytest.mark.parametrize("shape", [(64, 64), (32, 128), (128, 32), (16, 8, 3, 3)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    """W W^T = gain^2 I for wide or square (flattened) weights, W^T W = gain^2 I for tall ones."""
    weight = initkit.get_initializer("orthogonal")(shape, np.random.default_rng(1), gain=gain)
    flat = weight.reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_sign_fix_makes_it_haar():
    """With the sign(diag R) fix the diagonal of Q has mean zero, as a Haar matrix's does (without it, it is biased)."""
    rng = np.random.default_rng(5)
    init = initkit.get_initializer("orthogonal")
    diag = np.array([np.diag(init((8, 8), rng)) for _ in range(2000)])
    assert abs(diag.mean()) < 5 * diag.std() / math.sqrt(diag.size)
    raw = np.array([np.diag(np.linalg.qr(rng.normal(size=(8, 8)))[0]) for _ in range(2000)])
    assert abs(raw.mean()) > 10 * raw.std() / math.sqrt(raw.size)


@pytest.mark.parametrize("name", sorted(initkit.initializers()))
def test_same_seed_same_array_and_dtype_honoured(name):
    """A seed fixes the array; another seed changes it (random ones); dtype is honoured."""
    init = initkit.get_initializer(name)
    a = init((32, 16), np.random.default_rng(0), dtype=np.float32)
    b = init((32, 16), np.random.default_rng(0), dtype=np.float32)
    c = init((32, 16), np.random.default_rng(1), dtype=np.float32)
    assert a.dtype == np.float32 and a.shape == (32, 16)
    np.testing.assert_array_equal(a, b)
    if not init.deterministic:
        assert not np.array_equal(a, c)
    else:
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name", ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform",
                                  "lecun_normal", "lecun_uniform", "orthogonal", "identity"])
def test_one_dimensional_shape_gets_a_clear_error(name):
    """Fan-based initializers reject a 1-D shape with a FanError that says what to use instead."""
    with pytest.raises(FanError, match=r"undefined for a weight of shape \(10,\).*bias"):
        initkit.get_initializer(name)((10,), np.random.default_rng(0))


def test_truncated_normal_bounds_and_keras_variance_correction():
    """PyTorch-style truncation stays in [a, b]; Keras-style correction gives variance std^2."""
    init = initkit.get_initializer("truncated_normal")
    plain = init((500, 400), np.random.default_rng(0), std=1.0)
    assert plain.min() >= -2 and plain.max() <= 2
    # N(0,1) truncated to [-2, 2] has std 0.8796... (the Keras constant)
    assert plain.std() == pytest.approx(0.87962566103423978, rel=5e-3)
    corrected = init((500, 400), np.random.default_rng(0), std=0.1, correct_variance=True)
    assert corrected.std() == pytest.approx(0.1, rel=5e-3)
    assert np.abs(corrected).max() <= 2 * 0.1 / 0.87962566103423978
    assert init.target_variance((5, 5), std=0.1, correct_variance=True) == pytest.approx(0.01)


def test_identity_and_dirac_pass_the_input_through():
    """identity is eye for dense weights and a centred Dirac kernel for conv weights."""
    eye = initkit.get_initializer("identity")((3, 5), None)
    np.testing.assert_array_equal(eye, np.eye(3, 5))
    dirac = initkit.get_initializer("dirac")((4, 4, 3, 3), None)
    x = np.random.default_rng(0).normal(size=(4, 5, 5))
    # valid 3x3 convolution of x with the Dirac kernel returns the centre crop of x
    out = np.einsum("oikl,ihwkl->ohw", dirac,
                    np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2)))
    np.testing.assert_allclose(out, x[:, 1:-1, 1:-1])


def test_constant_zeros_ones():
    """constant fills with value (any shape, even 1-D for biases); zeros and ones likewise."""
    assert np.all(initkit.get_initializer("constant")((3,), None, value=0.5) == 0.5)
    assert np.all(initkit.get_initializer("zeros")((3, 2), None) == 0)
    assert np.all(initkit.get_initializer("ones")((3, 2), None) == 1)


def test_initializers_do_not_touch_global_numpy_state():
    """Drawing weights uses only the Generator passed in, never numpy's global RandomState."""
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    for init in initkit.initializers().values():
        init((8, 4), np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (8, 4, 5), (256, 128), (128, 256)], ids=str)
def test_orthogonal_declares_the_variance_of_its_flattened_shape(shape):
    """Orthogonal's declared variance is 1/max(out, in*k) for conv shapes too (it equals the empirical one)."""
    init = initkit.get_initializer("orthogonal")
    rows, cols = shape[0], math.prod(shape[1:])
    assert init.target_variance(shape, gain=1.5) == pytest.approx(2.25 / max(rows, cols))
    weights = np.stack([init(shape, np.random.default_rng(s)) for s in range(20)])
    assert weights.var() == pytest.approx(init.target_variance(shape), rel=0.02)


def test_he_declared_variance_validates_mode_like_the_draw():
    """The declared He variance reads mode as the draw does (any case) and rejects a typo."""
    he = initkit.get_initializer("he_normal")
    assert he.target_variance((1000, 40), mode="FAN_IN") == pytest.approx(2 / 40)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        he.target_variance((1000, 40), mode="fanin")


@pytest.mark.parametrize("a,b", [(4.5, 6.0), (10.0, 11.0), (-11.0, -10.0)])
def test_truncated_normal_in_the_far_tail(a, b):
    """Bounds far in the tail are sampled exactly (inverse CDF), fast, with the declared mean and variance."""
    init = initkit.get_initializer("truncated_normal")
    w = init((300, 300), np.random.default_rng(0), a=a, b=b)
    assert a <= w.min() and w.max() <= b
    assert w.mean() == pytest.approx(init.target_mean((3, 3), a=a, b=b), abs=5 * w.std() / 300)
    assert w.var() == pytest.approx(init.target_variance((3, 3), a=a, b=b), rel=0.03)


def test_truncated_normal_draws_match_pytorch_distribution():
    """initkit's and torch's trunc_normal_ agree in distribution (quantiles) for a one-sided window."""
    ours = initkit.get_initializer("truncated_normal")((400, 400), 0, mean=0.5, std=2.0, a=-1.0,
                                                          b=3.0)
    theirs = torch.empty(400, 400, dtype=torch.float64)
    torch.nn.init.trunc_normal_(theirs, mean=0.5, std=2.0, a=-1.0, b=3.0,
                                generator=torch.Generator().manual_seed(0))
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    np.testing.assert_allclose(np.quantile(ours, quantiles),
                               np.quantile(theirs.numpy(), quantiles), atol=0.02)


def test_zero_size_shapes_return_empty_arrays():
    """A weight with a zero dimension is returned empty (as PyTorch does), not a ZeroDivisionError."""
    for name in ["he_normal", "xavier_uniform", "orthogonal", "lecun_normal"]:
        assert initkit.get_initializer(name)((0, 5), 0).shape == (0, 5)
