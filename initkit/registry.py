"""Name -> initializer / activation, built on demand from the plugin manager's hooks.

Each hook implementation is called on its own with a fresh ``register`` callback that knows
which plugin it serves, so a bad item or an exception in one plugin is reported with that
plugin's name and skipped while every other plugin's items stay (tox 4's rule). The
registries are rebuilt whenever the set of registered plugins changes; nothing is cached
beyond that, so tests can register and unregister plugins freely.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import (
    DuplicateNameError,
    InitkitError,
    ParameterError,
    PluginError,
    UnknownNameError,
)
from .fans import as_shape, compute_fans
from .plugin_calls import describe_call, plugin_failure
from .plugins import plugin_manager, warn_plugin

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


def _first_doc_line(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(getattr(fn, "func", fn)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Accept a Generator, a seed or None (fresh entropy) and return a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, int | np.integer):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}; "
        "make one with numpy.random.default_rng(seed)"
    )


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters


def _declared(init: Initializer, key: str, shape: Any, params: dict[str, Any]) -> Any:
    """Call a declared variance/mean/distribution: ``(fan_in, fan_out, **params)``, plus
    ``shape=`` when the function takes it (orthogonal's variance depends on more than the
    two fans). A parameter the function does not take is a ParameterError naming it; an
    exception inside it a PluginCallError with the call and the plugin's frame."""
    target = getattr(init, key)
    params = {k: v for k, v in params.items() if k != "dtype"}
    dims = as_shape(shape)
    fans = compute_fans(dims)
    if _accepts(target, "shape"):
        params["shape"] = dims
    what = f"the declared {key} of initializer {init.name!r}"
    _check_binds(what, init.plugin, target, fans, params)
    try:
        return target(*fans, **params)
    except InitkitError:
        raise
    except Exception as exc:
        call = describe_call(key, {"fan_in": fans[0], "fan_out": fans[1]}, params)
        raise plugin_failure(f"initializer {init.name!r}", init.plugin, target, exc,
                             f"{call} for shape {dims}") from exc


def _check_binds(what: str, plugin: str, fn: Callable[..., Any], positional: tuple[Any, ...],
                 params: Mapping[str, Any]) -> None:
    """Raise ParameterError unless ``fn(*positional, **params)`` matches ``fn``'s signature.

    Only the call's *shape* is checked (``inspect.Signature.bind``), nothing runs: a
    TypeError that the function raises while it runs is its own bug and is not turned into
    "wrong parameters". A function whose signature cannot be read is not checked.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*positional, **params)
    except TypeError as exc:
        accepted = [n for n, p in signature.parameters.items()
                    if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        valid = ", ".join(n for n in accepted if n not in ("shape", "rng", "x"))
        unknown = [k for k in params if k not in accepted]
        if unknown and not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            raise ParameterError(f"{what} (plugin {plugin!r}) has no parameter "
                                 f"{', '.join(repr(k) for k in unknown)}; it takes: "
                                 f"{valid or 'no parameters'}") from None
        raise ParameterError(f"{what} (plugin {plugin!r}) cannot be called with "
                             f"{len(positional)} positional argument(s) and "
                             f"{sorted(params) or 'no parameters'}: {exc}") from None


@dataclass(frozen=True)
class Initializer:
    """A registered initializer: call it like the plugin's function, plus its metadata.

    Example:
        >>> import numpy as np, initkit
        >>> w = initkit.get_initializer("he")((256, 128), np.random.default_rng(0))
        >>> w.shape
        (256, 128)
    """

    name: str
    fn: Callable[..., np.ndarray]
    plugin: str
    aliases: tuple[str, ...] = ()
    family: str = ""
    activation: str = "linear"
    variance: Callable[..., float] | None = None
    mean: Callable[..., float] | None = None
    orthogonal: bool = False
    description: str = ""
    #: True for an initializer that draws nothing (ZerO's Hadamard, identity, constant): the
    #: same array for every rng, the rng left untouched, and ``variance`` declares the second
    #: moment E[W^2] (the mean of the squared entries), which the theory uses as sigma_w^2 /
    #: fan_in. Its conformance checks are the deterministic ones instead of the random ones.
    deterministic: bool = False
    #: The shape of the distribution the entries are drawn from, standardised (mean 0,
    #: variance 1): "normal" [default], "uniform", a scipy.stats frozen distribution (any
    #: location and scale), or a function ``(fan_in, fan_out, **params)`` returning one. The
    #: conformance suite takes its tolerances from it and checks the sample's kurtosis.
    distribution: Any = "normal"
    #: A data-dependent initializer's second step, ``data_init(model, x) -> report``:
    #: ``initkit.train.fit`` calls it once, on the first training batch and before the
    #: first step, for a model with a layer drawn from this initializer (LSUV's
    #: layer-sequential rescaling). None for the ordinary, data-free initializers.
    data_init: Callable[[Any, np.ndarray], Any] | None = None

    def __call__(self, shape: Any, rng: np.random.Generator | int | None = None,
                 **params: Any) -> np.ndarray:
        dims = as_shape(shape)
        generator = as_generator(rng)
        if 0 in dims:  # nothing to draw (PyTorch warns and returns the empty tensor)
            return np.zeros(dims, dtype=params.get("dtype", np.float64))
        self.check_params(params, dims, generator)
        try:
            out = self.fn(dims, generator, **params)
        except InitkitError:  # a FanError from compute_fans: already says what to do
            raise
        except Exception as exc:  # the plugin's own bug: one line with its context
            raise self.failure(exc, dims, params) from exc
        if not isinstance(out, np.ndarray) or out.shape != dims:
            got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            raise PluginError(
                f"initializer {self.name!r} from plugin {self.plugin!r} returned {got} for "
                f"shape {dims}; an initializer must return a numpy array of exactly that shape"
            )
        return out

    def failure(self, exc: BaseException, shape: Any, params: Mapping[str, Any]) -> PluginError:
        """The PluginCallError for ``exc`` raised by ``fn(shape, rng, **params)``."""
        call = describe_call(self.name, {"shape": tuple(shape), "rng": None}, params)
        return plugin_failure(f"initializer {self.name!r}", self.plugin, self.fn, exc, call)

    def check_params(self, params: Mapping[str, Any], shape: Any = (1, 1),
                     rng: Any = None) -> None:
        """Raise ParameterError if the plugin's function does not take ``params``.

        Checks the call ``fn(shape, rng, **params)`` against the function's signature
        without drawing anything, so the CLI can reject ``constant:valu=1`` before any work.
        """
        _check_binds(f"initializer {self.name!r}", self.plugin, self.fn, (shape, rng), params)

    def target_variance(self, shape: Any, **params: Any) -> float | None:
        """The per-entry variance this initializer declares for ``shape``, if it declares one."""
        if self.variance is None:
            return None
        return float(_declared(self, "variance", shape, params))

    def target_mean(self, shape: Any, **params: Any) -> float | None:
        """The declared mean (0 when only a variance is declared, None when neither is)."""
        if self.mean is not None:
            return float(_declared(self, "mean", shape, params))
        return 0.0 if self.variance is not None else None

    def target_distribution(self, shape: Any, **params: Any) -> Any:
        """The declared distribution's shape: "normal", "uniform" or a scipy.stats frozen
        distribution (from a declared function of the fans and parameters)."""
        if callable(self.distribution) and not hasattr(self.distribution, "expect"):
            return _declared(self, "distribution", shape, params)
        return self.distribution

    def target_std(self, shape: Any, **params: Any) -> float | None:
        var = self.target_variance(shape, **params)
        return None if var is None else float(np.sqrt(var))


@dataclass(frozen=True)
class Activation:
    """A registered activation with its derivative and gain."""

    name: str
    fn: Callable[..., np.ndarray]
    derivative: Callable[..., np.ndarray]
    plugin: str
    gain: float | Callable[..., float] = 1.0
    aliases: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __call__(self, x: np.ndarray, **params: Any) -> np.ndarray:
        try:
            return self.fn(x, **params)
        except InitkitError:
            raise
        except Exception as exc:  # a parameter mismatch: ParameterError; a bug: its context
            raise self._failure(self.fn, "fn", exc, x, params) from exc

    def grad(self, x: np.ndarray, **params: Any) -> np.ndarray:
        """d phi / dx at ``x``."""
        try:
            return self.derivative(x, **params)
        except InitkitError:
            raise
        except Exception as exc:
            raise self._failure(self.derivative, "derivative", exc, x, params) from exc

    def _failure(self, fn: Callable[..., Any], label: str, exc: Exception, x: Any,
                 params: Mapping[str, Any]) -> InitkitError:
        if isinstance(exc, TypeError):
            try:
                _check_binds(f"activation {self.name!r}", self.plugin, fn, (x,), params)
            except ParameterError as mismatch:
                return mismatch
        shape = getattr(x, "shape", None)
        what = f"x of shape {shape}" if shape is not None else f"x={x!r}"
        call = describe_call(label, {what: None}, params)
        return plugin_failure(f"activation {self.name!r}", self.plugin, fn, exc, call)

    def gain_for(self, param: float | None = None) -> float:
        """The gain; for a parametrised activation ``param`` is its first parameter."""
        if callable(self.gain):
            if param is None:
                return float(self.gain(*self.params.values()))
            return float(self.gain(param))
        return float(self.gain)


@dataclass
class _Registry:
    items: dict[str, Any] = field(default_factory=dict)  # casefolded canonical name -> item
    lookup: dict[str, Any] = field(default_factory=dict)  # casefolded name or alias -> item
    conflicts: dict[str, list[str]] = field(default_factory=dict)  # name -> plugins
    #: "plugin:name" (casefolded; a file plugin also by its file's stem) -> item, for every
    #: item, the ones that lost a name clash included
    qualified: dict[str, Any] = field(default_factory=dict)
    by_plugin: dict[str, list[Any]] = field(default_factory=dict)  # plugin -> its items


_INITIALIZER_KEYS = {"aliases", "family", "activation", "variance", "mean", "orthogonal",
                     "description", "data_init", "deterministic", "distribution"}
#: The named distribution shapes ``distribution=`` accepts (else a function of the fans).
DISTRIBUTIONS = ("normal", "uniform")
_ACTIVATION_KEYS = {"gain", "aliases", "params", "description"}


def _validate_common(name: Any, fn: Any, metadata: dict[str, Any], allowed: set[str],
                     what: str) -> tuple[str, ...]:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"{what} name {name!r} is invalid: use letters, digits, '_', '-', '.' "
                         "and start with a letter")
    if not callable(fn):
        raise ValueError(f"{what} {name!r}: {fn!r} is not callable")
    unknown = set(metadata) - allowed
    if unknown:
        raise ValueError(f"{what} {name!r}: unknown metadata {sorted(unknown)}; "
                         f"allowed: {sorted(allowed)}")
    aliases = metadata.get("aliases", ())
    aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)
    for alias in aliases:
        if not isinstance(alias, str) or not NAME_PATTERN.match(alias):
            raise ValueError(f"{what} {name!r}: alias {alias!r} is invalid")
    return aliases


def _make_initializer(plugin: str, name: Any, fn: Any, **metadata: Any) -> Initializer:
    aliases = _validate_common(name, fn, metadata, _INITIALIZER_KEYS, "initializer")
    for key in ("variance", "mean"):
        if metadata.get(key) is not None and not callable(metadata[key]):
            raise ValueError(f"initializer {name!r}: {key} must be a function "
                             f"(fan_in, fan_out, **params) -> float")
    if metadata.get("data_init") is not None and not callable(metadata["data_init"]):
        raise ValueError(f"initializer {name!r}: data_init must be a function (model, x)")
    distribution = metadata.get("distribution") or "normal"
    if not (callable(distribution) or hasattr(distribution, "expect")
            or distribution in DISTRIBUTIONS):
        raise ValueError(f"initializer {name!r}: distribution must be one of "
                         f"{', '.join(map(repr, DISTRIBUTIONS))}, a scipy.stats frozen "
                         "distribution or a function (fan_in, fan_out, **params) returning "
                         "one, got "
                         f"{distribution!r}")
    if metadata.get("deterministic") and metadata.get("orthogonal"):
        raise ValueError(f"initializer {name!r}: orthogonal=True is for random orthogonal "
                         "draws; a deterministic one declares deterministic=True only")
    return Initializer(
        name=name, fn=fn, plugin=plugin, aliases=aliases,
        family=str(metadata.get("family") or name),
        activation=str(metadata.get("activation") or "linear"),
        variance=metadata.get("variance"), mean=metadata.get("mean"),
        orthogonal=bool(metadata.get("orthogonal", False)),
        description=str(metadata.get("description") or _first_doc_line(fn)),
        data_init=metadata.get("data_init"),
        deterministic=bool(metadata.get("deterministic", False)),
        distribution=distribution,
    )


def _make_activation(plugin: str, name: Any, fn: Any, derivative: Any = None,
                     **metadata: Any) -> Activation:
    aliases = _validate_common(name, fn, metadata, _ACTIVATION_KEYS, "activation")
    if not callable(derivative):
        raise ValueError(f"activation {name!r}: its derivative is missing or not callable; "
                         "register(name, fn, derivative) (backprop needs phi')")
    gain = metadata.get("gain", 1.0)
    if not callable(gain) and not isinstance(gain, int | float):
        raise ValueError(f"activation {name!r}: gain must be a number or a function")
    params = dict(metadata.get("params") or {})
    return Activation(name=name, fn=fn, derivative=derivative, plugin=plugin, gain=gain,
                      aliases=aliases, params=MappingProxyType(params),
                      description=str(metadata.get("description") or _first_doc_line(fn)))


def _qualifiers(plugin: str) -> list[str]:
    """The names a plugin answers to in "plugin:name": its name, and a file's stem."""
    names = [plugin.lower()]
    if plugin.endswith(".py"):
        names.append(plugin.replace("\\", "/").rsplit("/", 1)[-1][:-3].lower())
    return names


def _plugin_order(name: str) -> int:
    """Built-ins first, then the others in registration order (the sort is stable)."""
    return 0 if name.startswith("initkit.") else 1


def _build(hook_name: str, make: Callable[..., Any]) -> _Registry:
    """Call every plugin's hook with its own ``register`` and collect what it registers.

    Name rules (names match case-insensitively): an alias never overrides anything; one
    that collides with a name another plugin registered is dropped with a warning, so a
    plugin cannot take "he" away from the built-ins by aliasing it. Two plugins with the
    same canonical name (or a canonical name equal to another plugin's alias) make that
    name ambiguous: using it raises DuplicateNameError naming both; other names still work,
    and ``plugin:name`` picks one of the two. The aliases of the item that lost the clash
    still resolve to it when nobody else has them (the warning lists them).
    """
    pm = plugin_manager()
    registry = _Registry()
    owner: dict[str, str] = {}  # casefolded name or alias -> the plugin that registered it
    hookimpls = sorted(getattr(pm.hook, hook_name).get_hookimpls(),
                       key=lambda impl: _plugin_order(impl.plugin_name))
    for impl in hookimpls:
        plugin = impl.plugin_name

        def register(*args: Any, _plugin: str = plugin, **kwargs: Any) -> None:
            try:
                item = make(_plugin, *args, **kwargs)
            except (TypeError, ValueError) as exc:
                warn_plugin(_plugin, f"registered an invalid item, skipped: {exc}")
                return
            name = item.name.lower()
            for qualifier in _qualifiers(_plugin):
                registry.qualified[f"{qualifier}:{name}"] = item
            mine = registry.by_plugin.setdefault(_plugin, [])
            mine[:] = [i for i in mine if i.name.lower() != name] + [item]
            kept = []
            for alias in (a.lower() for a in item.aliases):
                if alias in owner and owner[alias] != _plugin:
                    warn_plugin(_plugin, f"alias {alias!r} of {item.name!r} is already "
                                f"registered by plugin {owner[alias]!r} and was dropped")
                    continue
                if alias != name:
                    owner[alias] = _plugin
                    registry.lookup[alias] = item
                    kept.append(alias)
            if name in owner and owner[name] != _plugin:
                registry.conflicts.setdefault(name, [owner[name]]).append(_plugin)
                short = _qualifiers(_plugin)[-1]
                also = (f"; its alias(es) {', '.join(map(repr, kept))} still name it"
                        if kept else "")
                warn_plugin(_plugin, f"{item.name!r} is already registered by plugin "
                            f"{owner[name]!r}; using it by that name raises an error until "
                            f"one of the two plugins renames it; '{short}:{item.name}' picks "
                            f"this one{also}")
                return
            if name in registry.items:
                warn_plugin(_plugin, f"registers {item.name!r} twice; the last one is kept")
            owner[name] = _plugin
            registry.items[name] = item
            registry.lookup[name] = item

        try:
            # a hookimpl may take fewer arguments than the hookspec offers (pluggy's rule)
            impl.function(**{arg: register for arg in impl.argnames})
        except Exception as exc:  # one plugin's bug must not take the others down
            warn_plugin(plugin, f"its {hook_name} hook raised {type(exc).__name__}: {exc}; "
                        "items it registered before the error are kept")
    return registry


#: hook name -> (the (name, plugin) pairs it was built from, the registry). The plugin
#: objects themselves are kept and compared with ``is``: comparing id()s alone would let a
#: new plugin that reuses a dead one's id serve the old registry.
_cache: dict[str, tuple[list[tuple[str, object]], _Registry]] = {}


def _same_plugins(a: list[tuple[str, object]], b: list[tuple[str, object]]) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0] and x[1] is y[1] for x, y in zip(a, b, strict=True))


def _registry(hook_name: str, make: Callable[..., Any]) -> _Registry:
    pm = plugin_manager()
    plugins = sorted(pm.list_name_plugin(), key=lambda pair: pair[0])
    plugins.append(("<manager>", pm))
    cached = _cache.get(hook_name)
    if cached is None or not _same_plugins(cached[0], plugins):
        cached = (plugins, _build(hook_name, make))
        _cache[hook_name] = cached
    return cached[1]


def _get(kind: str, registry: _Registry, name: str) -> Any:
    if isinstance(name, str):
        key = name.lower()
        if key in registry.conflicts:
            plugins = registry.conflicts[key]
            picks = ", ".join(f"'{_qualifiers(p)[-1]}:{name}'" for p in plugins)
            raise DuplicateNameError(
                f"{kind} {name!r} is registered by more than one plugin: "
                f"{', '.join(repr(p) for p in plugins)}. Pick one by its plugin-qualified name "
                f"({picks}), uninstall or disable one of them "
                f"(INITKIT_DISABLE_PLUGIN_AUTOLOAD=1), or ask its author to rename it."
            )
        if key in registry.lookup:
            return registry.lookup[key]
        if key in registry.qualified:
            return registry.qualified[key]
    raise UnknownNameError(kind, name, registry.lookup)


def initializers() -> dict[str, Initializer]:
    """All registered initializers by canonical name (aliases resolve in get_initializer)."""
    items = _registry("initkit_register_initializers", _make_initializer).items.values()
    return {item.name: item for item in items}


def activations() -> dict[str, Activation]:
    """All registered activations by canonical name."""
    items = _registry("initkit_register_activations", _make_activation).items.values()
    return {item.name: item for item in items}


def get_initializer(name: str | Initializer) -> Initializer:
    """The initializer registered as ``name`` or one of its aliases (case-insensitive).

    Raises:
        UnknownNameError: no plugin registered it (the message lists close matches).
        DuplicateNameError: two plugins registered it.
    """
    if isinstance(name, Initializer):
        return name
    return _get("initializer", _registry("initkit_register_initializers", _make_initializer),
                name)


def registered_by(plugins: Iterable[str]) -> tuple[list[Initializer], list[Activation]]:
    """Every initializer and activation the named plugins register, sorted by name, the
    ones that lost a name clash to another plugin included (``initkit check-plugin``)."""
    wanted = set(plugins)
    out: tuple[list[Any], list[Any]] = ([], [])
    for slot, hook, make in ((0, "initkit_register_initializers", _make_initializer),
                             (1, "initkit_register_activations", _make_activation)):
        registry = _registry(hook, make)
        for plugin in wanted:
            out[slot].extend(registry.by_plugin.get(plugin, []))
        out[slot].sort(key=lambda item: (item.name.lower(), item.plugin))
    return out


def default_activation(init: str | Initializer) -> str:
    """The activation a command uses for ``init`` when none is given: the one the
    initializer is registered as meant for (``activation=`` metadata; "linear" when it
    declares none). One rule for ``simulate``, ``train`` and ``sweep``."""
    return get_initializer(init).activation


def get_activation(name: str | Activation) -> Activation:
    """The activation registered as ``name`` or one of its aliases (case-insensitive)."""
    if isinstance(name, Activation):
        return name
    return _get("activation", _registry("initkit_register_activations", _make_activation),
                name)
