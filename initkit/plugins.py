"""The plugin manager: built-ins, entry points, files and modules named by the user.

Loading follows pytest and tox 4: built-in plugins are plain modules registered through the
same hooks as third-party ones; third-party ones come from the ``initkit`` entry-point group
(off with ``INITKIT_DISABLE_PLUGIN_AUTOLOAD=1``) and from ``INITKIT_PLUGINS`` (comma-separated
module names or ``.py`` paths). A plugin that fails to load is reported with a
:class:`PluginWarning` naming it and the reason, and dropped; the rest keeps working
(unlike pluggy's own ``load_setuptools_entrypoints``, which lets one broken plugin stop
start-up).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "initkit"
ENV_PLUGINS = "INITKIT_PLUGINS"
ENV_DISABLE_AUTOLOAD = "INITKIT_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugin modules, registered first, under these names.
BUILTIN_PLUGINS = ("initkit.builtin_initializers", "initkit.builtin_activations", "initkit.lsuv")


class PluginWarning(UserWarning):
    """A plugin was dropped or one of its items was rejected; the message says why."""


_manager: pluggy.PluginManager | None = None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created and loaded on first use (lazily, once)."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        for module_name in BUILTIN_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
        _manager = pm
        if not _truthy(os.environ.get(ENV_DISABLE_AUTOLOAD)):
            _load_entry_points(pm)
        for spec in filter(None, (s.strip() for s in os.environ.get(ENV_PLUGINS, "").split(","))):
            load_plugin(spec)
    return _manager


def reset_plugin_manager() -> None:
    """Forget the manager; the next use loads everything again (for tests and the CLI)."""
    global _manager
    _manager = None


def warn_plugin(plugin: str, reason: str) -> None:
    """Report a dropped plugin or rejected item without stopping anything."""
    warnings.warn(f"initkit plugin {plugin!r}: {reason}", PluginWarning, stacklevel=3)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        dist = getattr(ep.dist, "name", None) or "unknown package"
        label = f"{ep.name} (entry point {ep.value} of {dist})"
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not stop the kit
            warn_plugin(label, f"failed to import and was skipped: {_describe(exc)}. "
                        f"Fix or uninstall {dist}, or set {ENV_DISABLE_AUTOLOAD}=1.")
            continue
        _register(pm, plugin, ep.name, label)


def _register(pm: pluggy.PluginManager, plugin: object, name: str, label: str) -> bool:
    try:
        pm.register(plugin, name=name)
    except Exception as exc:  # e.g. a hookimpl whose arguments do not match its hook
        warn_plugin(label, f"could not be registered and was skipped: {_describe(exc)}")
        return False
    known = sorted(n for n in dir(hookspecs) if n.startswith("initkit_"))
    for caller in pm.get_hookcallers(plugin) or []:
        if not caller.has_spec():  # pluggy accepts unknown hook names silently
            warn_plugin(label, f"implements {caller.name!r}, which is not an initkit hook, so "
                        f"it is never called; the hooks are {', '.join(known)}")
    return True


def _import_file(path: Path) -> ModuleType:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    module_name = f"initkit_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_plugin(spec: str) -> str | None:
    """Load a plugin from a ``.py`` file path or an importable module name and register it.

    Returns the name it was registered under, or ``None`` (with a :class:`PluginWarning`)
    when it could not be loaded. Loading the same spec twice registers it once.
    """
    pm = plugin_manager()
    is_file = spec.endswith(".py") or os.sep in spec or "/" in spec
    name = str(Path(spec).resolve()) if is_file else spec
    if pm.get_plugin(name) is not None:
        return name
    try:
        if is_file:
            path = Path(spec)
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {path}")
            plugin = _import_file(path.resolve())
        else:
            plugin = importlib.import_module(spec)
    except BaseException as exc:  # SystemExit from a plugin file must not end the CLI
        if isinstance(exc, KeyboardInterrupt):
            raise
        warn_plugin(spec, f"failed to load and was skipped: {_describe(exc)}")
        return None
    return name if _register(pm, plugin, name, spec) else None


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object (a module, class or instance with hookimpls); return its name.

    Tests do this in a ``try`` and call :func:`unregister_plugin` in ``finally``.
    """
    registered = plugin_manager().register(plugin, name=name)
    assert registered is not None
    return registered


def unregister_plugin(name_or_plugin: object) -> None:
    """Remove a plugin registered with :func:`register_plugin` (by name or object)."""
    pm = plugin_manager()
    if isinstance(name_or_plugin, str):
        pm.unregister(name=name_or_plugin)
    else:
        pm.unregister(plugin=name_or_plugin)
