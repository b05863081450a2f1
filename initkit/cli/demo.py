"""``initkit demo``: the main job that ``make demo`` runs."""

from __future__ import annotations

import click

from ..lesson import LESSON_INITS, VarianceSimulator
from .core import simulate_command


@click.command("demo")
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Print the lesson's variance table, then one simulation beside mean-field theory."""
    click.echo("The lesson's variance table (20 layers, width 128, seed 42):")
    click.echo(VarianceSimulator(layers=20, width=128, seed=42).table(LESSON_INITS))
    click.echo("\nHe init + ReLU, 20 layers of 512 units, mean of 10 seeds: simulation vs theory")
    ctx.invoke(simulate_command, init="he", activation="relu", depth=20, width="512",
               batch=64, seed=0, seeds=10, bias_std=0.0, residual=False, norm=None,
               zero_gamma=False, dtype="float64", backward=True, lesson=False, as_json=False)
    click.echo("\nXavier init + tanh: the signal decays like q_l ~ 1/(2l), as theory says")
    ctx.invoke(simulate_command, init="xavier", activation="tanh", depth=20, width="512",
               batch=64, seed=0, seeds=10, bias_std=0.0, residual=False, norm=None,
               zero_gamma=False, dtype="float64", backward=True, lesson=False, as_json=False)


COMMANDS = [demo]
