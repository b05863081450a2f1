"""``initkit``: the command group, global plugin options and error handling.

Exit codes: 0 ok, 2 usage error (click's), 1 failure (an ``InitkitError``, printed as one
line that says what to do, never a traceback).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from pathlib import Path

import click

from .. import __version__
from ..errors import InitkitError
from ..plugins import PluginWarning, load_plugin


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


class InitkitGroup(click.Group):
    """Turns the kit's own errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InitkitError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=InitkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="initkit")
@click.option("--plugin", "plugins", multiple=True, metavar="FILE.py|MODULE",
              help="Load a plugin from a file or module (repeatable). INITKIT_PLUGINS does the "
                   "same from the environment.")
def cli(plugins: tuple[str, ...]) -> None:
    """initkit: weight initialization, simulated, predicted, trained and graded."""
    warnings.showwarning = _show_plugin_warning
    warnings.simplefilter("default", PluginWarning)
    for spec in plugins:
        load_plugin(spec)


def _command_modules() -> list[str]:
    """Every module of this package that defines ``COMMANDS`` adds them to the group.

    A command module keeps heavy imports (matplotlib, nbgrader, ...) inside its command
    functions, so ``initkit --help`` stays fast.
    """
    here = Path(__file__).parent
    return sorted(f"{__package__}.{m.name}" for m in pkgutil.iter_modules([str(here)]))


for _module_name in _command_modules():
    for _command in getattr(importlib.import_module(_module_name), "COMMANDS", ()):
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="initkit")
