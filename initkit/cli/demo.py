"""``initkit demo``: the main job that ``make demo`` runs."""

from __future__ import annotations

from pathlib import Path

import click

from ..lesson import LESSON_INITS, VarianceSimulator
from ..simulation import simulate
from .core import trace_table
from .train import train_command


@click.command("demo")
@click.option("--out", default="out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the lesson GIF and the variance plot.")
@click.pass_context
def demo(ctx: click.Context, out: Path) -> None:
    """Print the lesson's variance table, then simulations beside mean-field theory.

    Then train a 10-layer ReLU MLP on the digits with four initializers side by side, and
    write the lesson's animation (variance_evolution.gif) and the simulation-vs-theory plot
    (variance.png) into --out and print their paths.
    """
    click.echo("The lesson's variance table (20 layers, width 128, seed 42):")
    click.echo(VarianceSimulator(layers=20, width=128, seed=42).table(LESSON_INITS))
    runs = [("He init + ReLU, 20 layers of 512 units, mean of 10 seeds: simulation vs theory",
             "he", "relu"),
            ("Xavier init + tanh: the signal decays like q_l ~ 1/(2l), as theory says",
             "xavier", "tanh")]
    traces = []
    for title, init, activation in runs:
        trace = simulate(init, activation, depth=20, width=512, batch=64, seed=0, seeds=10)
        click.echo(f"\n{title}")
        click.echo(trace_table(trace, backward=True))
        traces.append(trace)
    click.echo("\nTraining a 10-layer ReLU MLP on the 8x8 digits, one model per initializer:")
    ctx.invoke(train_command, compare="he,xavier,constant,lsuv", depth=10, progress=False)
    write_figures(out, traces)


def write_figures(out: Path, traces: list) -> None:
    """The lesson GIF (50 layers, width 200) and the plot of the simulations above."""
    from ..viz import anim_variance_evolution, plot_variance, save_figure

    click.echo("\nFigures:")
    gif = anim_variance_evolution(layers=50, fps=10, path=out / "variance_evolution.gif")
    click.echo(f"lesson animation (Xavier, He, bad init, 50 layers): {gif}")
    png = save_figure(plot_variance(traces), out / "variance.png")
    click.echo(f"signal across layers, simulation vs theory: {png}")


COMMANDS = [demo]
