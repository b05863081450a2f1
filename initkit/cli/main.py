"""``initkit``: the command group, global plugin options and error handling.

Exit codes: 0 ok, 2 usage error (click's), 1 failure (an ``InitkitError``, printed as one
line that says what to do, never a traceback).

Start-up is kept short: the commands are an explicit list (``COMMANDS``, as pytest lists
its default plugins), each command's module is imported only when that command runs, and
``initkit --help`` prints the one-line summaries written in that list, so it imports
nothing of the kit but this module and ``initkit.errors`` (``--version`` reads the installed
distribution's metadata). ``tests/test_cli_core.py`` pins that the summaries are the
commands' own.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

import click

from ..errors import InitkitError


class LazyCommand:
    """Where a command lives (``initkit.cli.<module>.<attribute>``) and its one-line summary."""

    def __init__(self, module: str, attribute: str, summary: str) -> None:
        self.module, self.attribute, self.summary = module, attribute, summary

    def load(self) -> click.Command:
        module = importlib.import_module(f"{__package__}.{self.module}")
        return getattr(module, self.attribute)


#: Every ``initkit`` command: name -> where it lives and the first paragraph of its help.
COMMANDS: dict[str, LazyCommand] = {
    "animate": LazyCommand("plot", "animate", "Write the lesson's variance-across-layers "
                           "animation (or gradient norms) as a GIF."),
    "check": LazyCommand("check", "check", "Run NOTEBOOK top to bottom and report its visible "
                         "tests with their points."),
    "check-plugin": LazyCommand("check_plugin", "check_plugin_command", "Run the conformance "
                                "suite on a plugin (or one initializer) and report each check."),
    "course": LazyCommand("course", "course", "Set up and maintain the nbgrader course of the "
                          "lesson's exercises."),
    "data": LazyCommand("data", "data_group", "Data sets: MNIST's sources and which one is "
                        "used; fetching MNIST (only when asked)."),
    "demo": LazyCommand("demo", "demo", "Print the lesson's variance table, then simulations "
                        "beside mean-field theory."),
    "grade": LazyCommand("grade", "grade", "Grade notebook SUBMISSIONS (files, flat folders or "
                         "nbgrader's submitted/)."),
    "list": LazyCommand("core", "list_command", "List initializers and activations with the "
                        "plugin that provides each."),
    "plot": LazyCommand("plot", "plot", "Draw a figure of initkit.viz into a PNG or SVG file "
                        "(by its suffix)."),
    "report": LazyCommand("report", "report", "Write OUT/report/index.html and report.json: "
                          "what a class got wrong, per check."),
    "seed-table": LazyCommand("core", "seed_table", "Print the lesson's three lines (xavier, "
                              "he, bad) exactly as the seed notebook does."),
    "simulate": LazyCommand("core", "simulate_command", "Simulate signal (and gradient) "
                            "variance layer by layer, beside mean-field theory."),
    "sweep": LazyCommand("sweep", "sweep_command", "Simulate every grid point (forward, "
                         "backward and the correlation map) and tabulate the measured q*, "
                         "chi_1 and xi_c next to initkit.theory's, one row per point."),
    "train": LazyCommand("train", "train_command", "Train an MLP (or an RNN on adding/copy) and "
                         "print its learning curve."),
}


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    from ..plugins import PluginWarning

    if issubclass(category, PluginWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


class InitkitGroup(click.Group):
    """The command list of ``COMMANDS``, loaded one command at a time; the kit's own errors
    become one clear line and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(COMMANDS[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of ``--help`` from the summaries, importing no command."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            # an unloaded command is shortened as click shortens a loaded one's help
            command = self.commands.get(name) or click.Command(name, help=COMMANDS[name].summary)
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InitkitError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=InitkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="initkit", prog_name="initkit")
@click.option("--plugin", "plugins", multiple=True, metavar="FILE.py|MODULE",
              help="Load a plugin from a file or module (repeatable). INITKIT_PLUGINS does the "
                   "same from the environment.")
def cli(plugins: tuple[str, ...]) -> None:
    """initkit: weight initialization, simulated, predicted, trained and graded."""
    from ..plugins import PluginWarning, load_plugin

    warnings.showwarning = _show_plugin_warning
    warnings.simplefilter("default", PluginWarning)
    for spec in plugins:
        load_plugin(spec)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="initkit")
