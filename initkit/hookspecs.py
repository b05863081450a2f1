"""The hooks a plugin may implement: one documented function each (as pytest's hookspec.py).

A plugin is any module or object with functions marked ``@initkit.hookimpl`` whose names
are the hooks below. The smallest initializer plugin is three lines::

    import initkit

    @initkit.hookimpl
    def initkit_register_initializers(register):
        register("half_normal",
                 lambda shape, rng, dtype=float: 0.5 * rng.standard_normal(shape).astype(dtype))

The host calls each hook with a fresh ``register`` callback every time it builds its
registry, so it can validate every item and name the plugin that sent a bad one
(the pattern of simonw/llm's ``register_models``).
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT = "initkit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def initkit_register_initializers(register: Callable[..., None]) -> None:
    """Register weight initializers by calling ``register(name, fn, **metadata)``.

    ``fn(shape, rng, **params) -> numpy.ndarray`` must return an array of exactly
    ``shape`` (PyTorch layout ``(out, in, *kernel)``), draw all randomness from ``rng``
    (a ``numpy.random.Generator``) and accept a ``dtype`` keyword.

    Optional metadata (defaults in brackets):
    ``aliases`` (other names) [()], ``family`` (e.g. "xavier") [the name],
    ``activation`` the nonlinearity it is meant for ["linear"],
    ``variance(fan_in, fan_out, **params) -> float`` the per-entry variance it targets
    [None: not checked; a function that also takes ``shape`` is given the weight's shape,
    for targets that the fans alone do not fix], ``mean(fan_in, fan_out, **params) -> float``
    [0.0 when a variance is declared], ``orthogonal`` [False], ``description``, one line with the
    formula and the paper [the first line of ``fn``'s docstring], ``data_init(model, x) ->
    report`` a data-dependent second step that ``initkit.train.fit`` runs once on the first
    training batch, before the first step, for a model with a layer drawn from this
    initializer (LSUV's rescaling); its return value is ``History.data_init[name]`` [None].
    """


@hookspec
def initkit_register_activations(register: Callable[..., None]) -> None:
    """Register activations by calling ``register(name, fn, derivative, **metadata)``.

    ``fn(x)`` and ``derivative(x)`` are elementwise on numpy arrays (``derivative`` is
    d fn / dx at the pre-activation ``x``; backprop needs it). Optional metadata:
    ``gain`` (the number ``calculate_gain`` returns for it) [1.0], ``aliases`` [()],
    ``params`` a dict of keyword parameters with their defaults (e.g. ``{"slope": 0.01}``)
    [{}], ``description`` [the first line of ``fn``'s docstring].
    """
