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

#: The ensemble tests (seeds of wide networks against theory) are marked slow: ``make test``
#: runs them, ``make mutation`` leaves them to the exact, per-seed tests below them.

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


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
def test_forward_q_agrees_with_the_length_map(wide_trace):
    """The ensemble-mean q of every layer is within 5 standard errors of the length map."""
    trace, act, sigma_w2 = wide_trace
    predicted = theory.length_map(act, sigma_w2, q0=sigma_w2 * 1.0, depth=trace.depth - 1)
    np.testing.assert_allclose(trace.theory["q"], predicted, rtol=1e-12)
    assert_within_se(trace.samples["q"], predicted, "q")


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
def test_backward_gradient_variance_follows_chi1_per_layer(wide_trace):
    """Each layer down multiplies the gradient variance by chi = sigma_w^2 E[phi'(sqrt(q_l) z)^2]
    (the per-seed ratio, within 5 standard errors)."""
    trace, act, sigma_w2 = wide_trace
    grad = trace.samples["grad_var"]
    chis = np.array([theory.chi1(act, sigma_w2, q=q) for q in trace.theory["q"][:-1]])
    assert_within_se(grad[:, :-1] / grad[:, 1:], chis, "grad_var ratio")


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
def test_backward_gradient_variance_agrees_with_predict(wide_trace):
    """The ensemble-mean gradient variance of every layer is within 5 standard errors of
    predict() (the SELU quadrature error of issue 14 put it 7% low: 6-12 SE)."""
    trace, _, _ = wide_trace
    assert_within_se(trace.samples["grad_var"], trace.theory["grad_var"], "grad_var")


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
def test_backward_gradient_with_unequal_widths_uses_fan_out():
    """He/ReLU with widths 256-128-512-128-512: going down, each layer multiplies the gradient
    by fan_out * (2 / fan_in) / 2, so the variance alternates 2, 1/2, 2, 1/2 (fan_in in place
    of fan_out would predict 1/2 everywhere)."""
    trace = initkit.simulate("he", "relu", depth=4, width=[256, 128, 512, 128, 512],
                             batch=128, seeds=12)
    np.testing.assert_allclose(trace.theory["grad_var"], [2.0, 0.5, 2.0, 0.5], rtol=1e-12)
    assert_within_se(trace.samples["grad_var"], [2.0, 0.5, 2.0, 0.5], "grad_var")
    assert_within_se(trace.samples["q"], trace.theory["q"], "q")


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
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


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
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


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
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


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
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
    ({"batch": 0}, r"^batch must be a whole number >= 1, got 0$"),
    ({"batch": 2.5}, r"^batch must be a whole number >= 1, got 2.5$"),
    ({"norm": "batch", "batch": 1}, r"^batch norm needs batch >= 2$"),
    ({"seeds": []}, r"^seeds is empty$"),
    ({"zero_gamma": True, "norm": None},
     r"^zero_gamma sets a norm's gamma: pass norm='layer', 'rms' or 'batch' with it$"),
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
    phi = {"relu": torch.relu, "tanh": torch.tanh, "selu": torch.selu, "linear": lambda t: t,
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


@pytest.mark.parametrize("act", ["relu", "tanh", "selu", "gelu", "linear"])
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


@pytest.mark.slow  # seed ensembles against theory; mutation runs use the exact tests
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


def _reference_forward(init, act_name, widths, batch, seed, bias_std=0.0, residual=False,
                       init_params=None):
    """The network's forward pass written out in float64 numpy, one line per equation;
    returns per layer (h, phi(h) or the stream, phi'(h))."""
    rng = np.random.default_rng(seed)
    act = initkit.get_activation(act_name)
    initializer = initkit.get_initializer(init)
    depth = len(widths) - 1
    x = rng.standard_normal((batch, widths[0]))
    weights = [initializer((widths[l + 1], widths[l]), rng, **(init_params or {}))
               for l in range(depth)]
    biases = [rng.normal(0.0, bias_std, widths[l + 1]) if bias_std > 0 else 0.0
              for l in range(depth)]
    layers, stream = [], x
    for weight, bias in zip(weights, biases, strict=True):
        branch = (act(stream) if residual or layers else stream) @ weight.T + bias
        h = stream + branch if residual else branch
        layers.append((h, h if residual else act(h), act.grad(h)))
        stream = h
    return layers


@pytest.mark.parametrize("init,act,residual,bias_std,init_params", [
    ("he", "relu", False, 0.2, None),                       # half the units dead
    ("normal", "tanh", False, 0.0, {"std": 1.0}),           # most units saturated
    ("xavier", "linear", False, 0.1, None),                 # phi(h) is h itself
    ("he", "relu", True, 0.3, None),                        # a residual stream
    ("normal", "tanh", False, 0.0, {"std": 0.01}),          # |h|^2 << 1 (cosine still)
])
def test_forward_statistics_equal_a_pass_written_out_by_hand(init, act, residual, bias_std,
                                                             init_params):
    """q, act_var, dead and saturated fractions and the 0-1 correlation of every layer equal
    their definitions (np.var, mean of phi' == 0, 0 < |phi'| < 0.01, the cosine) on a
    reference forward pass drawn from the same generator."""
    widths = [24] * 5 if residual else [24, 40, 16, 32, 8]
    trace = initkit.simulate(init, act, depth=4, width=widths, batch=6, seed=11,
                             bias_std=bias_std, residual=residual, init_params=init_params)
    layers = _reference_forward(init, act, widths, 6, 11, bias_std, residual, init_params)
    for l, (h, out, slope) in enumerate(layers):
        assert trace.q[l] == pytest.approx(np.mean(h * h), rel=1e-12)
        assert trace.act_var[l] == pytest.approx(np.var(out), rel=1e-10)
        assert trace.dead_fraction[l] == np.mean(slope == 0)
        saturated = np.mean((np.abs(slope) < initkit.simulation.SATURATION) & (slope != 0))
        assert trace.saturated_fraction[l] == saturated
        cosine = h[0] @ h[1] / np.sqrt((h[0] @ h[0]) * (h[1] @ h[1]))
        assert trace.correlation[l] == pytest.approx(cosine, rel=1e-12)
    if act == "relu" and not residual:
        assert 0.3 < trace.dead_fraction.min() and trace.saturated_fraction.max() == 0
    if act == "tanh" and init_params == {"std": 1.0}:
        assert trace.saturated_fraction.min() > 0.3 and trace.dead_fraction.max() == 0


def test_activation_variance_keeps_its_digits_where_the_mean_dominates():
    """sigmoid(h) of tiny h is 1/2 + h/4: its variance is under 1e-6 of its mean square,
    which a float32 mean(a^2) - mean(a)^2 would lose to cancellation; act_var stays within
    1e-4 of the variance of the same float32 outputs computed in float64."""
    trace = initkit.simulate("normal", "sigmoid", depth=2, width=256, batch=64, seed=5,
                             dtype=np.float32, init_params={"std": 1e-4})
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 256), dtype=np.float32)
    w1 = initkit.get_initializer("normal")((256, 256), rng, std=1e-4, dtype=np.float32)
    out = initkit.get_activation("sigmoid")(x @ w1.T).astype(np.float64)
    assert np.var(out) < 1e-6 * np.mean(out * out)
    assert trace.act_var[0] == pytest.approx(np.var(out), rel=1e-4)


@pytest.mark.parametrize("residual", [False, True])
def test_forward_only_leaves_the_backward_columns_empty(residual):
    """backward=False gives the same forward columns and NaN gradient columns. The dead and
    saturated fractions, counted in the forward pass without a backward pass and in the
    backward pass with one (where phi'(h) is computed once), agree layer by layer, in a tanh
    network with saturated units and a ReLU one with dead units (kills a count filed under
    the wrong layer)."""
    for init, act, params in (("he", "relu", None), ("normal", "tanh", {"std": 0.4})):
        both = initkit.simulate(init, act, depth=4, width=16, batch=4, seed=2,
                                residual=residual, init_params=params)
        forward = initkit.simulate(init, act, depth=4, width=16, batch=4, seed=2,
                                   residual=residual, init_params=params, backward=False)
        for name in ("q", "act_var", "dead_fraction", "saturated_fraction", "correlation"):
            np.testing.assert_array_equal(forward.mean(name), both.mean(name))
        assert np.isnan(forward.grad_var).all() and np.isnan(forward.weight_grad_norm).all()
        assert np.isfinite(both.grad_var).all() and np.isfinite(both.weight_grad_norm).all()
        counted = "dead_fraction" if act == "relu" else "saturated_fraction"
        assert len(set(both.mean(counted))) > 1, "layers with different counts"


def test_run_network_shows_each_layer_and_can_skip_weight_gradients():
    """run_network's observer sees every layer's h and phi'(h) in order (q is mean(h^2) of
    what it saw); without weight gradients the gradient variances are unchanged and the
    weight-gradient column is NaN."""
    from initkit.simulation import run_network
    from initkit.theory import NetworkSpec

    spec = NetworkSpec.build("xavier", "tanh", depth=3, width=[12, 20, 8], bias_std=0.1)
    seen = []
    full = run_network(spec, 5, seed=7, observe=lambda l, h, s: seen.append(
        (l, float(np.mean(h * h)), float(np.mean(s)), h.shape)))
    assert [(l, shape) for l, _, _, shape in seen] == [(0, (5, 12)), (1, (5, 20)), (2, (5, 8))]
    np.testing.assert_allclose([q for _, q, _, _ in seen], full["q"], rtol=1e-12)
    reference = _reference_forward("xavier", "tanh", [12, 12, 20, 8], 5, 7, 0.1)
    np.testing.assert_allclose([s for _, _, s, _ in seen],
                               [np.mean(slope) for _, _, slope in reference], rtol=1e-12)
    light = run_network(spec, 5, seed=7, weight_grads=False)
    np.testing.assert_array_equal(light["grad_var"], full["grad_var"])
    assert np.isnan(light["weight_grad_norm"]).all()
    assert np.isfinite(full["weight_grad_norm"]).all()


def test_to_dict_holds_the_settings_and_every_column():
    """to_dict gives the settings, layers numbered from 1, and per quantity its seed mean,
    its spread and (for q and grad_var) theory's value, as plain lists of floats."""
    trace = initkit.simulate("he", "relu", depth=3, width=8, batch=4, seeds=2, bias_std=0.1,
                             dtype=np.float32)
    data = trace.to_dict()
    columns = [c for name in initkit.simulation.QUANTITIES for c in (name, f"{name}_std")]
    assert list(data) == ["init", "activation", "widths", "depth", "batch", "seeds",
                          "bias_std", "residual", "norm", "zero_gamma", "dtype", "layer",
                          *columns, "theory_q", "theory_grad_var"]
    assert data["init"] == "he_normal" and data["activation"] == "relu"
    assert data["widths"] == [8, 8, 8, 8] and data["depth"] == 3 and data["batch"] == 4
    assert data["seeds"] == [0, 1] and data["bias_std"] == 0.1 and data["dtype"] == "float32"
    assert (data["residual"], data["norm"], data["zero_gamma"]) == (False, None, False)
    assert data["layer"] == [1, 2, 3]
    for name in initkit.simulation.QUANTITIES:
        assert data[name] == [float(v) for v in trace.mean(name)], name
        assert data[f"{name}_std"] == [float(v) for v in trace.spread(name)], name
        assert all(type(v) is float for v in data[name])
    assert data["theory_q"] == [float(v) for v in trace.theory["q"]]
    assert data["theory_grad_var"] == [float(v) for v in trace.theory["grad_var"]]
    normed = initkit.simulate("he", "relu", depth=2, width=8, batch=4, residual=True,
                              norm="rms", zero_gamma=True).to_dict()
    assert (normed["residual"], normed["norm"], normed["zero_gamma"]) == (True, "rms", True)


def test_spread_of_a_diverged_ensemble_is_nan_without_a_warning():
    """Two seeds that overflow to inf have no spread: NaN, with no 'invalid value' warning
    (inf - inf)."""
    import warnings

    trace = initkit.simulate("bad", "linear", depth=800, width=8, batch=2, seeds=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="invalid value", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="overflow", category=RuntimeWarning)
        spread = trace.spread("q")
    assert np.isnan(spread[-1]) and np.isfinite(spread[0]) and spread[0] > 0


def test_theory_column_is_predict_of_the_same_network():
    """Trace.theory is the mean-field prediction of the simulated network itself: He/ReLU
    keeps q = 2 with gradient 1/2; sigma_b^2 = bias_std^2 adds to q_1; leaky ReLU's slope
    0.2 makes q grow by 1 + 0.2^2 per layer; a zero-gamma norm in a residual stream keeps
    q_in = 1 with no gradient prediction; a deterministic init has no theory (NaN)."""
    def theory_of(**kwargs):
        trace = initkit.simulate("he", **{"depth": 3, "width": 8, "batch": 2, **kwargs})
        return trace.theory["q"], trace.theory["grad_var"]

    q, grad = theory_of()
    np.testing.assert_allclose(q, [2.0, 2.0, 2.0], rtol=1e-15)
    np.testing.assert_allclose(grad, [0.5, 0.5, 0.5], rtol=1e-15)
    q, _ = theory_of(bias_std=0.3)
    assert q[0] == pytest.approx(2.09, rel=1e-15)
    q, _ = theory_of(activation="leaky_relu", activation_params={"slope": 0.2})
    np.testing.assert_allclose(q[1:] / q[:-1], 1.04, rtol=1e-13)
    q, grad = theory_of(residual=True, norm="layer", zero_gamma=True)
    np.testing.assert_allclose(q, 1.0, rtol=1e-15)
    assert np.isnan(grad).all()
    q, grad = theory_of(init_params={"mode": "fan_out"}, width=[8, 16, 4])
    want = theory.predict("he", "relu", [8, 8, 16, 4], init_params={"mode": "fan_out"})
    np.testing.assert_array_equal(q, want.q)
    np.testing.assert_array_equal(grad, want.grad_var)
    nothing = initkit.simulate("identity", "tanh", depth=2, width=4, batch=2)
    assert np.isnan(nothing.theory["q"]).all() and np.isnan(nothing.theory["grad_var"]).all()
    assert np.isfinite(nothing.q).all()


def test_defaults_and_seed_lists():
    """simulate(init) is 10 layers of 256 units on a batch of 256 with seed 0; seeds=3 with
    seed=5 is seeds 5, 6, 7; an explicit list is used as given; batch norm runs at batch 2."""
    default = initkit.simulate("he", backward=False)
    assert default.widths == [256] * 11 and default.batch == 256 and default.seeds == [0]
    ensemble = initkit.simulate("he", depth=2, width=8, batch=4, seed=5, seeds=3)
    assert ensemble.seeds == [5, 6, 7]
    listed = initkit.simulate("he", depth=2, width=8, batch=4, seeds=[7, 5])
    assert listed.seeds == [7, 5]
    np.testing.assert_array_equal(listed.samples["q"][1], ensemble.samples["q"][0])
    assert initkit.simulate("he", depth=2, width=8, batch=2, norm="batch").batch == 2


def test_a_diverging_run_is_quiet():
    """The 'bad' init overflows to inf on purpose: the Trace says so (inf, NaN), and numpy
    warns about nothing on the way."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        trace = initkit.simulate("bad", "linear", depth=800, width=8, batch=2)
        tanh = initkit.simulate("bad", "tanh", depth=40, width=8, batch=2, bias_std=1e300)
    assert np.isinf(trace.q[-1]) and np.isfinite(trace.q[0])
    assert np.isfinite(tanh.act_var).all()


def _torch_norm_reference(widths, batch, seed, gamma):
    """h per layer and the gradient variances of a plain He/ReLU chain with layer norm
    scaled by gamma, by torch autograd (float64)."""
    import torch

    from initkit.norms import EPS

    rng = np.random.default_rng(seed)
    init = initkit.get_initializer("he")
    x = rng.standard_normal((batch, widths[0]))
    weights = [torch.tensor(init((widths[l + 1], widths[l]), rng), requires_grad=True)
               for l in range(len(widths) - 1)]
    out, hs = torch.tensor(x), []
    for w in weights:
        z = out @ w.T
        h = torch.nn.functional.layer_norm(z, z.shape[-1:], eps=EPS) * gamma
        h.retain_grad()
        hs.append(h)
        out = torch.relu(h)
    r = torch.tensor(rng.standard_normal(tuple(out.shape)))
    (r * out).sum().backward()
    return [h.detach().numpy() for h in hs], [float((h.grad**2).mean()) for h in hs]


def test_a_norms_gamma_scales_forward_and_backward():
    """With gamma = 2 a layer norm's output is twice the normalised pre-activation and its
    gradient passes through gamma: h and grad_var equal torch autograd's (run_network with a
    NetworkSpec, the only way to set a gamma other than 0 and 1)."""
    from initkit.simulation import run_network
    from initkit.theory import NetworkSpec

    widths = [12, 16, 8, 10]
    spec = NetworkSpec("he", "relu", widths, norm="layer", gamma=2.0)
    seen = []
    stats = run_network(spec, 5, seed=4, observe=lambda l, h, s: seen.append(h.copy()))
    hs, grads = _torch_norm_reference(widths, 5, 4, 2.0)
    for got, want in zip(seen, hs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats["grad_var"], grads, rtol=1e-9)


def test_float32_runs_draw_and_add_in_float32():
    """A float32 run draws x, every weight and r natively in float32 and its biases as float32
    casts of the float64 draws: each h equals a float32 pass written out by hand, bit for bit,
    and the top gradient variance is that of r * phi'(h_L) with r drawn in float32; two inputs
    (batch 2) are enough for their correlation."""
    from initkit.simulation import run_network
    from initkit.theory import NetworkSpec

    widths = [16, 24, 8]
    spec = NetworkSpec("he", "relu", widths, bias_std=0.1)
    seen = []
    stats = run_network(spec, 2, seed=6, dtype=np.float32,
                        observe=lambda l, h, s: seen.append(h.copy()))
    rng = np.random.default_rng(6)
    init = initkit.get_initializer("he")
    x = rng.standard_normal((2, 16), dtype=np.float32)
    weights = [init((24, 16), rng, dtype=np.float32), init((8, 24), rng, dtype=np.float32)]
    biases = [rng.normal(0.0, 0.1, n).astype(np.float32) for n in (24, 8)]
    out = x
    for l, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = out @ w.T + b
        assert seen[l].dtype == np.float32 and np.array_equal(seen[l], h), l
        out = np.maximum(h, 0)
    r = rng.standard_normal(h.shape, dtype=np.float32)
    top = r * (h > 0)
    assert stats["grad_var"][-1] == pytest.approx(float(np.mean(top.astype(np.float64) ** 2)),
                                                  rel=1e-6)
    cosine = h[0] @ h[1] / np.sqrt((h[0] @ h[0]) * (h[1] @ h[1]))
    assert stats["correlation"][-1] == pytest.approx(float(cosine), rel=1e-5)


# The simulator's buffer pool (issue 26's speed) is a contract of its own: a role's array is
# handed out again once nothing in use shares its memory, so the layer loop allocates once.


def test_the_buffer_pool_reuses_an_array_unless_it_is_in_use():
    """take(role, shape) gives the same array again while nothing passed as in use shares its
    memory, a second array when the first is in use (never aliasing an input), and other
    arrays for another role, shape or dtype (kills the in-use test inverted or given None,
    and a pool that appends None)."""
    from initkit.simulation import _Buffers

    buffers = _Buffers(np.dtype(np.float64))
    first = buffers.take("z", (4, 3))
    assert isinstance(first, np.ndarray) and first.shape == (4, 3) and first.dtype == np.float64
    assert buffers.take("z", (4, 3)) is first
    unrelated = np.zeros((4, 3))
    assert buffers.take("z", (4, 3), unrelated) is first
    second = buffers.take("z", (4, 3), first)
    assert second is not first and not np.may_share_memory(second, first)
    assert buffers.take("z", (4, 3), first[1:]) is second  # a view of first is first in use
    assert buffers.take("z", (4, 3), second) is first
    assert buffers.take("dW", (4, 3)) is not first
    assert buffers.take("z", (3, 4)) is not first
    flags = buffers.take("z", (4, 3), dtype=bool)
    assert flags.dtype == bool and flags is not first


def test_unit_counts_count_by_kind_and_write_into_the_pool():
    """dead = phi' exactly 0, saturated = 0 < |phi'| < SATURATION (negative slopes by their
    magnitude, NaN neither), the slope itself untouched; |phi'| and the comparisons go into
    the pool's "abs" and "flags" arrays, the same ones on a second call (kills the buffers
    skipped, renamed or given the wrong dtype)."""
    from initkit.simulation import SATURATION, _Buffers, _unit_counts

    slope = np.array([[0.0, 0.5 * SATURATION, -0.5 * SATURATION, 1.0],
                      [-1.0, np.nan, 0.0, 2 * SATURATION]], dtype=np.float32)
    kept = slope.copy()
    buffers = _Buffers(np.dtype(np.float64))
    assert _unit_counts(slope, buffers) == (2, 2)
    np.testing.assert_array_equal(slope, kept)
    pooled = {key: list(arrays) for key, arrays in buffers.free.items()}
    assert sorted(pooled) == [("abs", (2, 4), np.dtype(np.float32).str),
                              ("flags", (2, 4), np.dtype(bool).str)]
    assert all(len(arrays) == 1 for arrays in pooled.values())
    assert _unit_counts(slope, buffers) == (2, 2)
    assert all(buffers.free[key][0] is arrays[0] and len(buffers.free[key]) == 1
               for key, arrays in pooled.items())


def test_row_blocks_cover_every_row_once_in_blocks_of_at_most_block_bytes(monkeypatch):
    """_row_blocks tiles the first axis in order, without gap or overlap, each block at most
    BLOCK_BYTES (one row where a row is larger), the last block the remainder (kills a step
    off by one, a step from the array's whole size, and the floor of one row dropped)."""
    import initkit.simulation as simulation

    for rows, width, block_bytes in ((10, 3, 3 * 8 * 4), (10, 3, 3 * 8 * 4 + 7), (7, 4, 8),
                                     (5, 2, 1 << 20), (1, 1, 8)):
        monkeypatch.setattr(simulation, "BLOCK_BYTES", block_bytes)
        a = np.zeros((rows, width))
        blocks = simulation._row_blocks(a)
        covered = np.concatenate([np.arange(rows)[b] for b in blocks])
        assert covered.tolist() == list(range(rows))
        sizes = [a[b].nbytes for b in blocks]
        assert all(size <= max(block_bytes, width * 8) for size in sizes)
        assert all(size == sizes[0] for size in sizes[:-1])
        assert sizes[0] == min(rows, max(1, block_bytes // (width * 8))) * width * 8


@pytest.mark.parametrize("residual", [False, True])
def test_the_chain_through_the_slope_in_blocks_is_the_whole_arrays(monkeypatch, residual):
    """_through_slope row block by row block gives what the whole arrays give: upstream
    becomes upstream * phi'(h), added into the stream's gradient when residual, the sum of
    squares of the gradient it leaves, and the dead and saturated counts of phi'(h) (tanh
    at |h| >= 3 has phi' < 0.01; a plain 0 in h is not dead, an exact tanh'(h) = 0 needs
    |h| > 9 in float32). With blocks of 3 rows and a remainder (kills a block skipped, the
    multiply or the add dropped, the sum of squares taken of the upstream in a residual
    network, and counts reset per block)."""
    import initkit.simulation as simulation

    monkeypatch.setattr(simulation, "BLOCK_BYTES", 3 * 6 * 4)
    spec = theory.NetworkSpec.build("xavier", "tanh", depth=1, width=6)
    rng = np.random.default_rng(11)
    h = (rng.standard_normal((11, 6)) * 4).astype(np.float32)
    h[0, :3] = [12.0, -15.0, 0.0]
    upstream = rng.standard_normal((11, 6)).astype(np.float32)
    given = upstream.copy()
    stream_grad = rng.standard_normal((11, 6)).astype(np.float32) if residual else None
    slope = 1 - np.tanh(h) ** 2
    expected = upstream * slope
    if residual:
        expected = stream_grad + expected
    dead = int(np.count_nonzero(slope == 0))
    saturated = int(np.count_nonzero((np.abs(slope) > 0) & (np.abs(slope) < 0.01)))
    assert dead >= 2 and saturated >= 10
    square, got_dead, got_saturated = simulation._through_slope(
        spec, h, upstream, stream_grad, simulation._Buffers(np.dtype(np.float32)), True)
    np.testing.assert_allclose(upstream, given * slope, rtol=1e-6)
    np.testing.assert_allclose(stream_grad if residual else upstream, expected, rtol=1e-6)
    assert square == pytest.approx(float(np.sum(expected.astype(np.float64) ** 2)), rel=1e-6)
    assert (got_dead, got_saturated) == (dead, saturated)
    assert simulation._through_slope(spec, h, upstream.copy(), None,
                                     simulation._Buffers(np.dtype(np.float32)), False)[1:] \
        == (0, 0)


def test_variance_is_the_population_variance_also_when_the_mean_is_tiny():
    """_variance's shortcut mean(a^2) - mean(a)^2 equals np.var where it is taken (the
    variance at least a quarter of mean(a^2)), also for a mean small but not zero (kills the
    mean computed as sum * size: [1, -1, 1, -0.9] has sum 0.1, and the shortcut would then
    take 0.16 off mean(a^2) instead of 0.000625), and falls back to np.var where the mean
    dominates."""
    from initkit.simulation import _variance

    for a in (np.array([1.0, -1.0, 1.0, -0.9]), np.array([1.0, -1.0, 2.0, -2.0]),
              np.array([[3.0, 3.1], [2.9, 3.0]]), np.arange(12.0).reshape(3, 4) - 5.5):
        assert _variance(a) == pytest.approx(float(np.var(a)), rel=1e-12, abs=1e-15)
