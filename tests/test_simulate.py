"""simulate(): the general simulator against mean-field theory and its own contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import initkit
from initkit import theory
from initkit.errors import SimulationError

THEORY_CASES = [("he", "relu", 2.0), ("xavier", "tanh", 1.0), ("lecun", "selu", 1.0)]

#: Simulator-vs-theory tolerance, in standard errors of the ensemble mean (std over seeds /
#: sqrt(seeds)). Finite-width corrections (O(1/width)) stay well below it at these sizes:
#: over 4 seed bases the largest |mean - theory| / SE seen was 3.5.
Z_MAX = 5.0


def assert_within_se(samples: np.ndarray, expected, what: str) -> None:
    """Each column's mean over seeds (axis 0) is within Z_MAX standard errors of ``expected``."""
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
    z = np.abs(mean - expected) / se
    assert np.all(z <= Z_MAX), (f"{what}: |mean - theory| / SE = {np.round(z, 2)} > {Z_MAX}; "
                                f"mean {mean}, theory {np.asarray(expected)}, SE {se}")


@pytest.fixture(scope="module", params=THEORY_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def wide_trace(request):
    init, act, sigma_w2 = request.param
    trace = initkit.simulate(init, act, depth=10, width=512, batch=128, seeds=12)
    return trace, act, sigma_w2


def test_forward_q_agrees_with_the_length_map(wide_trace):
    """The ensemble-mean q of every layer is within 5 standard errors of the length map."""
    trace, act, sigma_w2 = wide_trace
    predicted = theory.length_map(act, sigma_w2, q0=sigma_w2 * 1.0, depth=trace.depth - 1)
    np.testing.assert_allclose(trace.theory["q"], predicted, rtol=1e-12)
    assert_within_se(trace.samples["q"], predicted, "q")


def test_backward_gradient_variance_follows_chi1_per_layer(wide_trace):
    """Each layer down multiplies the gradient variance by chi = sigma_w^2 E[phi'(sqrt(q_l) z)^2]
    (the per-seed ratio, within 5 standard errors)."""
    trace, act, sigma_w2 = wide_trace
    grad = trace.samples["grad_var"]
    chis = np.array([theory.chi1(act, sigma_w2, q=q) for q in trace.theory["q"][:-1]])
    assert_within_se(grad[:, :-1] / grad[:, 1:], chis, "grad_var ratio")


def test_backward_gradient_variance_agrees_with_predict(wide_trace):
    """The ensemble-mean gradient variance of every layer is within 5 standard errors of
    predict() (the SELU quadrature error of issue 14 put it 7% low: 6-12 SE)."""
    trace, _, _ = wide_trace
    assert_within_se(trace.samples["grad_var"], trace.theory["grad_var"], "grad_var")


def test_backward_gradient_with_unequal_widths_uses_fan_out():
    """He/ReLU with widths 256-128-512-128-512: going down, each layer multiplies the gradient
    by fan_out * (2 / fan_in) / 2, so the variance alternates 2, 1/2, 2, 1/2 (fan_in in place
    of fan_out would predict 1/2 everywhere)."""
    trace = initkit.simulate("he", "relu", depth=4, width=[256, 128, 512, 128, 512],
                             batch=128, seeds=12)
    np.testing.assert_allclose(trace.theory["grad_var"], [2.0, 0.5, 2.0, 0.5], rtol=1e-12)
    assert_within_se(trace.samples["grad_var"], [2.0, 0.5, 2.0, 0.5], "grad_var")
    assert_within_se(trace.samples["q"], trace.theory["q"], "q")


def test_float32_and_float64_agree_with_theory():
    """float32 runs (weights drawn natively in float32) agree with float64 runs and with theory."""
    a = initkit.simulate("xavier", "tanh", depth=5, width=512, batch=64, dtype=np.float32,
                         seeds=8)
    b = initkit.simulate("xavier", "tanh", depth=5, width=512, batch=64, dtype=np.float64,
                         seeds=8)
    assert a.dtype == "float32"
    for name in ("q", "grad_var"):  # two independent ensembles: the SE of the difference
        se = np.hypot(a.spread(name), b.spread(name)) / math.sqrt(7)  # std is ddof=0
        assert np.all(np.abs(a.mean(name) - b.mean(name)) <= Z_MAX * se), name
    assert_within_se(a.samples["q"], a.theory["q"], "float32 q")


def test_residual_relu_doubles_and_zero_gamma_keeps_the_stream():
    """A He/ReLU residual stream doubles q per block; zero-gamma layer norm keeps it at the input's q."""
    doubling = initkit.simulate("he", "relu", depth=6, width=512, batch=64, residual=True,
                                seeds=8)
    assert_within_se(doubling.samples["q"], 2.0 ** np.arange(1, 7), "residual q")
    flat = initkit.simulate("he", "relu", depth=6, width=512, batch=64, residual=True,
                            norm="layer", zero_gamma=True, seeds=8)
    first = flat.samples["q"][:, :1]
    np.testing.assert_allclose(flat.samples["q"], np.broadcast_to(first, (8, 6)), rtol=1e-12)
    assert_within_se(flat.samples["q"][:, 0], 1.0, "input q")
    assert_within_se(flat.samples["grad_var"], 1.0, "grad_var")  # identity blocks pass r


@pytest.mark.parametrize("norm", ["layer", "rms", "batch"])
def test_norm_keeps_q_at_gamma_squared_even_for_the_bad_init(norm):
    """With normalisation the pre-activation's mean square is 1 per layer whatever the init's scale."""
    trace = initkit.simulate("bad", "tanh", depth=8, width=256, batch=64, norm=norm)
    np.testing.assert_allclose(trace.q, 1.0, atol=2e-3)
    assert np.isfinite(trace.grad_var).all()


def test_bias_enters_as_sigma_b_squared():
    """bias_std adds sigma_b^2 = bias_std^2 to the length map (tanh at the edge of chaos)."""
    sw2 = theory.edge_of_chaos("tanh", 0.05)
    trace = initkit.simulate("xavier", "tanh", depth=6, width=512, batch=128, bias_std=0.05**0.5,
                             init_params={"gain": sw2**0.5}, seeds=8)
    predicted = theory.length_map("tanh", sw2, 0.05, q0=sw2 + 0.05, depth=5)
    assert_within_se(trace.samples["q"], predicted, "q")


def test_dead_and_saturated_fractions():
    """Half the ReLU units are dead at He init; the 'bad' scale saturates most tanh units."""
    relu = initkit.simulate("he", "relu", depth=3, width=256, batch=64, seeds=8)
    assert_within_se(relu.samples["dead_fraction"], 0.5, "dead fraction")  # P(h < 0) = 1/2
    saturated = initkit.simulate("bad", "tanh", depth=3, width=256, batch=64)
    assert saturated.saturated_fraction[-1] > 0.5
    assert relu.saturated_fraction.max() == 0.0


def test_relu_correlation_follows_the_correlation_map():
    """Two random inputs' pre-activations become correlated as the ReLU c-map predicts (c_1 -> 1/pi)."""
    trace = initkit.simulate("he", "relu", depth=4, width=1024, batch=2, seeds=12)
    c = theory.correlation_map("relu", 2.0, c0=0.0, depth=4, q=2.0)
    assert_within_se(trace.samples["correlation"][:, 1:], c[1:4], "correlation")


def test_per_layer_width_list_and_ensemble_spread():
    """Width lists set each layer's fan; seeds give a spread per layer; to_dict is JSON."""
    trace = initkit.simulate("he", "relu", depth=3, width=[64, 128, 32], batch=16, seeds=3)
    assert trace.widths == [64, 64, 128, 32]
    assert trace.samples["q"].shape == (3, 3) and (trace.spread("q") > 0).all()
    assert json.loads(json.dumps(trace.to_dict()))["widths"] == [64, 64, 128, 32]


def test_weight_gradient_norm_matches_an_explicit_backward_pass():
    """|dL/dW_1| equals the norm computed by hand for a two-layer linear net."""
    trace = initkit.simulate("xavier", "linear", depth=2, width=8, batch=4, seed=9)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 8))
    init = initkit.get_initializer("xavier")
    init((8, 8), rng)  # W_1: its draw must be consumed to reach W_2
    w2 = init((8, 8), rng)
    r = rng.standard_normal((4, 8))
    grad_w1 = (r @ w2).T @ x / 4
    assert trace.weight_grad_norm[0] == pytest.approx(np.linalg.norm(grad_w1))
    assert trace.grad_var[1] == pytest.approx(np.mean(r**2))


@pytest.mark.parametrize("kwargs,message", [
    ({"depth": 0}, "depth must be a whole number >= 1, got 0"),
    ({"depth": 2.5}, "depth must be a whole number >= 1, got 2.5"),
    ({"width": 8.0}, "width must be an int or a list of ints"),
    ({"width": [8, 8, 8, 8, 8]}, "width list has 5 entries for depth 3"),
    ({"bias_std": -0.1}, "bias_std must be a number >= 0"),
    ({"residual": True, "width": [8, 16, 8]}, "residual stream needs equal widths"),
    ({"zero_gamma": True}, "zero_gamma sets a norm's gamma"),
    ({"norm": "group"}, "unknown norm 'group'"),
    ({"dtype": np.int32}, "dtype must be float32 or float64"),
])
def test_bad_arguments_get_clear_errors(kwargs, message):
    """Arguments that cannot describe a network raise a SimulationError saying why."""
    args = {"depth": 3, "width": 8, "batch": 4, **kwargs}
    with pytest.raises(SimulationError, match=message):
        initkit.simulate("he", "relu", **args)


def test_parameter_typos_name_the_valid_parameters():
    """A misspelled init or activation parameter is an InitkitError that lists the real ones."""
    with pytest.raises(initkit.ParameterError, match="no parameter 'negative_slope'; it takes: a, mode"):
        initkit.simulate("he", "relu", depth=2, width=4, init_params={"negative_slope": 0.1})
    with pytest.raises(initkit.InitkitError, match="activation 'leaky_relu'.*it takes: slope"):
        initkit.simulate("he", "leaky_relu", depth=2, width=4,
                         activation_params={"negative_slope": 0.1})


def test_unknown_init_in_simulate():
    """An unknown initializer name is an UnknownNameError listing close matches."""
    with pytest.raises(initkit.UnknownNameError, match="Did you mean 'he'"):
        initkit.simulate("hee", depth=2, width=4)


def _torch_reference(init, act_name, widths, batch, seed, bias_std, residual, norm, gamma):
    """The same network, forward and backward, with torch autograd (float64)."""
    import torch

    from initkit.norms import EPS

    rng = np.random.default_rng(seed)
    depth = len(widths) - 1
    initializer = initkit.get_initializer(init)
    x = rng.standard_normal((batch, widths[0]))
    weights = [initializer((widths[l + 1], widths[l]), rng) for l in range(depth)]
    biases = [rng.normal(0.0, bias_std, widths[l + 1]) if bias_std > 0 else None
              for l in range(depth)]
    phi = {"relu": torch.relu, "tanh": torch.tanh, "selu": torch.selu,
           "gelu": lambda t: torch.nn.functional.gelu(t, approximate="tanh")}[act_name]
    tw = [torch.tensor(w, requires_grad=True) for w in weights]
    stream = out = torch.tensor(x)
    hs = []
    for l in range(depth):
        z = (phi(stream) if residual else out) @ tw[l].T
        if biases[l] is not None:
            z = z + torch.tensor(biases[l])
        if norm == "layer":
            z = torch.nn.functional.layer_norm(z, z.shape[-1:], eps=EPS)
        elif norm == "rms":
            z = z / torch.sqrt((z * z).mean(-1, keepdim=True) + EPS)
        elif norm == "batch":
            centred = z - z.mean(0, keepdim=True)
            z = centred / torch.sqrt((centred**2).mean(0, keepdim=True) + EPS)
        z = z * gamma if norm else z
        h = stream + z if residual else z
        h.retain_grad()
        hs.append(h)
        out = h if residual else phi(h)
        stream = h
    r = torch.tensor(rng.standard_normal(tuple(stream.shape)))
    (r * out).sum().backward()
    return (np.array([float((h.grad**2).mean()) for h in hs]),
            np.array([float(torch.linalg.norm(w.grad)) / batch for w in tw]))


@pytest.mark.parametrize("act", ["relu", "tanh", "selu", "gelu"])
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
@pytest.mark.parametrize("norm", [None, "layer", "rms", "batch"])
def test_backward_pass_equals_torch_autograd(act, residual, norm):
    """grad_var and |dL/dW| per layer equal torch autograd's on the same weights, biases and loss."""
    widths = [16] * 5 if residual else [16, 24, 8, 32, 12]
    trace = initkit.simulate("he", act, depth=4, width=widths, batch=7, seed=3, bias_std=0.3,
                             residual=residual, norm=norm)
    grad_var, weight_grad_norm = _torch_reference("he", act, widths, 7, 3, 0.3, residual, norm,
                                                  1.0)
    np.testing.assert_allclose(trace.grad_var, grad_var, rtol=1e-9)
    np.testing.assert_allclose(trace.weight_grad_norm, weight_grad_norm, rtol=1e-9)


def test_float32_never_leaves_float32_inside_the_simulator():
    """Every (batch, width) array an activation sees in a float32 simulation is float32."""
    seen: set[str] = set()  # the theory column's quadrature nodes are float64 by design
    tanh = initkit.get_activation("tanh")

    class Recorder:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            def fn(x):
                if x.shape == (4, 16):
                    seen.add(x.dtype.name)
                return tanh(x)

            def grad(x):
                if x.shape == (4, 16):
                    seen.add(x.dtype.name)
                return tanh.grad(x)

            register("recording_tanh", fn, grad)

    name = initkit.register_plugin(Recorder(), name="dtype-recorder")
    try:
        for norm in (None, "layer"):
            initkit.simulate("xavier", "recording_tanh", depth=3, width=16, batch=4,
                             bias_std=0.1, norm=norm, residual=norm is not None,
                             dtype=np.float32)
    finally:
        initkit.unregister_plugin(name)
    assert seen == {"float32"}


def test_residual_gradient_variance_follows_theory():
    """In a He/ReLU residual stream the gradient variance grows by (1 + 1/2 * 2) per block down, as predicted."""
    trace = initkit.simulate("he", "relu", depth=6, width=512, batch=64, residual=True, seeds=8)
    np.testing.assert_allclose(trace.theory["grad_var"], 2.0 ** np.arange(5, -1, -1))
    assert_within_se(trace.samples["grad_var"], trace.theory["grad_var"], "grad_var")


def test_json_is_strict_even_for_a_diverged_run():
    """to_dict() maps NaN and inf to None, so strict JSON (allow_nan=False) always works."""
    trace = initkit.simulate("bad", "linear", depth=800, width=8, batch=1)  # 2.88^800: inf
    data = json.loads(json.dumps(trace.to_dict(), allow_nan=False))
    assert data["q"][-1] is None and data["correlation"][0] is None
