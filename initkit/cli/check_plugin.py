"""``initkit check-plugin NAME|FILE.py``: the conformance suite from the command line.

TARGET is looked up in this order: a ``.py`` file (loaded as a plugin), a loaded plugin's
name (an entry-point name, a module, ``initkit.builtin_initializers``), an installed
distribution that has ``initkit`` entry points, a registered initializer or activation
name, an importable module (loaded as a plugin). Every initializer and activation the
plugin registers is checked; the report has one pytest-style line per check, the failures'
messages and a summary; the exit code is 1 when a check failed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import click

from ..errors import DuplicateNameError, InitkitError, PluginError
from ..plugins import ENTRY_POINT_GROUP, load_plugin, plugin_manager
from ..registry import Activation, Initializer, get_activation, get_initializer, registered_by

Items = tuple[str, list[Initializer], list[Activation]]


def _items_of(plugins: set[str]) -> tuple[list[Initializer], list[Activation]]:
    """Every item the plugins register, those that lost a name clash included: a clash is
    reported (a warning) and the other items are still checked."""
    return registered_by(plugins)


def _distribution_plugins(name: str) -> set[str]:
    """Entry-point names of the installed distribution ``name`` in the ``initkit`` group."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return set()
    return {ep.name for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP}


def _is_module(target: str) -> bool:
    try:
        return importlib.util.find_spec(target) is not None
    except (ImportError, ValueError):
        return False


def resolve_target(target: str) -> Items:
    """Return (what was found, initializer names, activation names) for TARGET.

    Raises:
        PluginError: nothing by that name, or the plugin could not be loaded or registers
            nothing.
    """
    if target.endswith(".py") or "/" in target or "\\" in target:
        if not Path(target).is_file():
            raise PluginError(f"no such plugin file: {target}; give a .py file, a plugin "
                              "name or an initializer name (see `initkit list`)")
        registered = load_plugin(target)
        if registered is None:
            raise PluginError(f"plugin file {target} could not be loaded (the warning above "
                              "says why); fix it and run check-plugin again")
        return _found(f"plugin file {target}", {registered})
    pm = plugin_manager()
    if pm.get_plugin(target) is not None:
        return _found(f"plugin {target!r}", {target})
    entry_points = _distribution_plugins(target)
    if entry_points:
        loaded = {n for n in entry_points if pm.get_plugin(n) is not None}
        if not loaded:
            raise PluginError(f"package {target!r} is installed but its initkit plugin did not "
                              "load (see the warning above), or INITKIT_DISABLE_PLUGIN_AUTOLOAD "
                              "is set")
        return _found(f"package {target!r}", loaded)
    for kind, get in (("initializer", get_initializer), ("activation", get_activation)):
        try:
            item = get(target)
        except DuplicateNameError:  # one name, two plugins: check both, each by its plugin
            everyone = {name for name, _ in pm.list_name_plugin()}
            found = registered_by(everyone)[0 if kind == "initializer" else 1]
            same = [i for i in found if i.name.lower() == target.lower()]
            plugins = ", ".join(repr(i.plugin) for i in same)
            inits, acts = (same, []) if kind == "initializer" else ([], same)
            return f"{kind} {target!r} from plugins {plugins}", inits, acts
        except InitkitError:
            continue
        inits, acts = ([item], []) if kind == "initializer" else ([], [item])
        return f"{kind} {item.name!r} from plugin {item.plugin!r}", inits, acts
    if _is_module(target):
        registered = load_plugin(target)
        if registered is None:
            raise PluginError(f"module {target!r} could not be loaded as a plugin (the warning "
                              "above says why)")
        return _found(f"plugin module {target!r}", {registered})
    loaded = ", ".join(sorted(name for name, _ in pm.list_name_plugin()))
    raise PluginError(f"{target!r} is not a plugin file, a loaded plugin, an installed package, "
                      f"an initializer, an activation or a module. Loaded plugins: {loaded}. "
                      "Run `initkit list` to see what is registered.")


def _found(label: str, plugins: set[str]) -> Items:
    inits, acts = _items_of(plugins)
    if not inits and not acts:
        raise PluginError(f"{label} registers no initializers or activations; does it define "
                          "an @initkit.hookimpl function initkit_register_initializers or "
                          "initkit_register_activations?")
    return label, inits, acts


@click.command("check-plugin")
@click.argument("target", metavar="NAME|FILE.py")
def check_plugin_command(target: str) -> None:
    """Run the conformance suite on a plugin (or one initializer) and report each check.

    NAME is a plugin (entry-point name, module or installed package), an initializer or an
    activation; FILE.py is loaded as a plugin first. Exit code 1 when a check fails.
    """
    from ..testing import ConformanceError, check_all  # late: keeps `initkit --help` fast

    label, inits, acts = resolve_target(target)
    click.echo(f"initkit check-plugin: {label}: {len(inits)} initializer(s), "
               f"{len(acts)} activation(s)")
    report = check_all(inits, acts)
    click.echo(report.format())
    if not report.ok:
        counts = report.counts()
        raise ConformanceError(f"{counts['failed']} of {len(report.results)} checks failed for "
                               f"{label}; each FAILURES entry above says what was expected and "
                               "what was measured")


COMMANDS = [check_plugin_command]
