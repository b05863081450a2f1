"""``initkit plot ...`` and ``initkit animate``: the figures of ``initkit.viz`` as files.

A thin layer: options become ``initkit.simulate`` / ``initkit.viz`` arguments. PNG or SVG by
the output's suffix; animations are GIFs, with a progress bar on a terminal. matplotlib is
imported inside the commands, so ``initkit --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .format import INIT_SPEC_FORM, parse_init_spec, parse_init_specs, split_init_specs

#: initkit.viz.save_figure's suffixes (repeated here: importing viz loads matplotlib).
FIGURE_SUFFIXES = (".png", ".svg")


def _output(suffixes: tuple[str, ...]) -> Callable[[click.Context, click.Parameter, str], Path]:
    def check(ctx: click.Context, param: click.Parameter, value: str) -> Path:
        path = Path(value)
        if path.suffix.lower() not in suffixes:
            raise click.BadParameter(f"{value!r} needs a {' or '.join(suffixes)} suffix")
        return path
    return check


DPI_OPTION = click.option("--dpi", default=100, show_default=True, type=click.IntRange(10),
                          help="Resolution of a PNG.")


def output_option(suffixes: tuple[str, ...] = FIGURE_SUFFIXES, default: str | None = None):
    """``-o/--output FILE``, checked for a suffix we can write (a usage error otherwise)."""
    return click.option("-o", "--output", required=default is None, default=default,
                        callback=_output(suffixes), show_default=default is not None,
                        help=f"File to write ({', '.join(suffixes)}).")


def parse_pair(value: str, kind: type, hint: str) -> tuple[Any, Any]:
    """``"1,4"`` -> (1.0, 4.0) for ``kind=float``."""
    try:
        first, second = (kind(p) for p in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not two comma-separated numbers",
                                 param_hint=hint) from None
    return first, second


def figure_data(fig: Any) -> dict[str, Any]:
    """What a figure shows, as JSON-ready data: per axes its title, labels, y scale, and
    every line (label, style, x, y), scatter (x, y points), circle (label, radius) and
    image (the array).

    NaN and inf become None (JSON has neither).
    """
    def clean(values: Any) -> Any:
        import numpy as np

        arr = np.asarray(values, dtype=float)
        return [clean(row) for row in arr] if arr.ndim > 1 else \
            [float(v) if np.isfinite(v) else None for v in arr]

    axes = []
    for ax in fig.axes:
        axes.append({
            "title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "yscale": ax.get_yscale(),
            "lines": [{"label": line.get_label(), "linestyle": line.get_linestyle(),
                       "x": clean(line.get_xdata()), "y": clean(line.get_ydata())}
                      for line in ax.lines],
            "scatter": [{"label": c.get_label(), "points": clean(c.get_offsets())}
                        for c in ax.collections if type(c).__name__ == "PathCollection"],
            "circles": [{"label": c.get_label(), "radius": float(c.get_radius())}
                        for c in ax.patches if hasattr(c, "get_radius")],
            "images": [clean(image.get_array()) for image in ax.images],
        })
    return {"axes": axes}


DATA_OPTION = click.option("--data", "data", default=None, type=click.Path(dir_okay=False),
                           help="Also write what the figure shows (every line's x and y, "
                                "scatter points, circles, images) to this JSON file.")


def write(fig: Any, output: Path, dpi: int, data: str | None = None) -> None:
    """Save ``fig`` to ``output`` (and its :func:`figure_data` to ``data``, if given)."""
    import json

    from ..viz import save_figure

    if data:
        Path(data).write_text(json.dumps(figure_data(fig), indent=1, allow_nan=False))
    click.echo(f"wrote {save_figure(fig, output, dpi=dpi)}")


@click.group("plot")
def plot() -> None:
    """Draw a figure of initkit.viz into a PNG or SVG file (by its suffix)."""


def simulation_options(default_inits: str, quantities: tuple[str, ...]):
    """The options of ``plot variance`` and ``plot gradients`` (an ensemble per init)."""
    def decorate(fn):
        for option in reversed([
            click.option("--inits", default=default_inits, show_default=True,
                         metavar=f"{INIT_SPEC_FORM},...",
                         help="Initializers to compare, e.g. xavier,constant:value=0.002."),
            click.option("--activation", default=None,
                         help="Activation for all [default: each init's own]."),
            click.option("--quantity", type=click.Choice(quantities), default=quantities[0],
                         show_default=True),
            click.option("--depth", default=20, show_default=True, type=click.IntRange(1)),
            click.option("--width", default=256, show_default=True, type=click.IntRange(1)),
            click.option("--batch", default=64, show_default=True, type=click.IntRange(1)),
            click.option("--seeds", default=5, show_default=True, type=click.IntRange(1),
                         help="Ensemble size (the band spans the middle 68% of seeds)."),
            click.option("--seed", default=0, show_default=True, help="First seed."),
            click.option("--bias-std", default=0.0, show_default=True,
                         type=click.FloatRange(min=0)),
            click.option("--theory/--no-theory", default=True, show_default=True,
                         help="Dashed mean-field prediction beside each curve."),
            DPI_OPTION,
            DATA_OPTION,
            output_option(),
        ]):
            fn = option(fn)
        return fn
    return decorate


def simulation_kwargs(activation: str | None, depth: int, width: int, batch: int, seeds: int,
                      seed: int, bias_std: float) -> dict[str, Any]:
    """The ``initkit.simulate`` keyword arguments the options describe."""
    return {"activation": activation, "depth": depth, "width": width, "batch": batch,
            "seeds": seeds, "seed": seed, "bias_std": bias_std}


@plot.command("variance")
@simulation_options("he,xavier", ("q", "act_var"))
def plot_variance(inits: str, activation: str | None, quantity: str, depth: int, width: int,
                  batch: int, seeds: int, seed: int, bias_std: float, theory: bool, dpi: int,
                  data: str | None, output: Path) -> None:
    """Forward signal per layer for several inits, mean-field theory dashed beside each."""
    from ..viz import plot_variance as draw

    write(draw(parse_init_specs(inits), quantity, theory=theory,
               **simulation_kwargs(activation, depth, width, batch, seeds, seed, bias_std)),
          output, dpi, data)


@plot.command("gradients")
@simulation_options("constant:value=0.002,xavier", ("grad_var", "weight_grad_norm"))
def plot_gradients(inits: str, activation: str | None, quantity: str, depth: int, width: int,
                   batch: int, seeds: int, seed: int, bias_std: float, theory: bool, dpi: int,
                   data: str | None, output: Path) -> None:
    """Backward gradient per layer for several inits (exercise 1: constant vs Xavier)."""
    from ..viz import plot_gradients as draw

    write(draw(parse_init_specs(inits), quantity, theory=theory,
               **simulation_kwargs(activation, depth, width, batch, seeds, seed, bias_std)),
          output, dpi, data)


@plot.command("training")
@click.option("--history", "histories", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="JSON from `initkit train --json` (repeatable; runs sharing a label are "
                   "seeds).")
@click.option("--metric", default="loss", show_default=True,
              type=click.Choice(["loss", "accuracy", "epoch_loss", "epoch_accuracy",
                                 "test_loss", "test_accuracy"]))
@DPI_OPTION
@DATA_OPTION
@output_option()
def plot_training(histories: tuple[str, ...], metric: str, dpi: int, data: str | None,
                  output: Path) -> None:
    """Training curves (mean and band over seeds) from saved `initkit train --json` runs."""
    from ..viz import plot_training as draw
    from ..viz.training import histories_from_json

    runs = [run for path in histories for run in histories_from_json(path)]
    write(draw(runs, metric), output, dpi, data)


@plot.command("spectrum")
@click.option("--kind", type=click.Choice(["eigenvalues", "singular", "jacobian"]),
              default="eigenvalues", show_default=True,
              help="Eigenvalues + circular law, singular values + Marchenko-Pastur, or the "
                   "squared singular values of a product of --depth layers.")
@click.option("--inits", default=None, metavar=f"{INIT_SPEC_FORM},...",
              help="[default: he,orthogonal; lecun_normal,orthogonal for jacobian; he for "
                   "singular].")
@click.option("--n", "n", default=256, show_default=True, type=click.IntRange(2),
              help="Matrix size (columns).")
@click.option("--m", "m", default=None, type=click.IntRange(1),
              help="Rows for --kind singular [default: n].")
@click.option("--depth", default=10, show_default=True, type=click.IntRange(1),
              help="Layers multiplied for --kind jacobian.")
@click.option("--seed", default=0, show_default=True)
@DPI_OPTION
@DATA_OPTION
@output_option()
def plot_spectrum(kind: str, inits: str | None, n: int, m: int | None, depth: int, seed: int,
                  dpi: int, data: str | None, output: Path) -> None:
    """Spectra of random weight matrices against random-matrix theory (exercise 5)."""
    from ..viz import plot_eigenvalues, plot_jacobian_spectrum, plot_singular_values

    default = {"eigenvalues": "he,orthogonal", "singular": "he",
               "jacobian": "lecun_normal,orthogonal"}[kind]
    specs = parse_init_specs(inits or default)
    if kind == "jacobian":
        fig = plot_jacobian_spectrum(specs, depth=depth, width=n, seed=seed)
    elif kind == "singular":
        fig = plot_singular_values(specs, n=n, m=m, seed=seed)
    else:
        fig = plot_eigenvalues(specs, n=n, seed=seed)
    write(fig, output, dpi, data)


@plot.command("phase")
@click.option("--activation", default="tanh", show_default=True)
@click.option("--sigma-w2", default="1,4", show_default=True, metavar="LOW,HIGH")
@click.option("--sigma-b2", default="0,0.3", show_default=True, metavar="LOW,HIGH")
@click.option("--resolution", default="13,7", show_default=True, metavar="NW,NB",
              help="Grid points along sigma_w^2 and sigma_b^2 (one theory.depth_scales call "
                   "each: 13,7 takes about 20 s).")
@click.option("--from", "from_table", default=None,
              type=click.Path(exists=True, dir_okay=False), metavar="SWEEP.csv",
              help="Overlay the measured xi_c of an `initkit sweep` table on the theory map "
                   "(the table sets the activation, range and resolution; its deepest, "
                   "widest networks are shown).")
@DPI_OPTION
@output_option()
def plot_phase(activation: str, sigma_w2: str, sigma_b2: str, resolution: str,
               from_table: str | None, dpi: int, output: Path) -> None:
    """Order-to-chaos phase diagram: depth scale xi_c and the chi_1 = 1 edge."""
    from ..registry import get_activation
    from ..viz import plot_phase_diagram

    if from_table:
        from ..sweep import read_table
        from ..viz.sweep import plot_sweep_overlay

        write(plot_sweep_overlay(read_table(from_table)), output, dpi)
        return
    get_activation(activation)  # an unknown name fails before the grid is computed
    fig = plot_phase_diagram(activation, parse_pair(sigma_w2, float, "--sigma-w2"),
                             parse_pair(sigma_b2, float, "--sigma-b2"),
                             parse_pair(resolution, int, "--resolution"))
    write(fig, output, dpi)


@plot.command("symmetry")
@click.option("--init", "init", default="constant:value=0.5", show_default=True,
              metavar=INIT_SPEC_FORM, help="Initializer of the drawn matrix.")
@click.option("--weights", default=None, type=click.Path(exists=True, dir_okay=False),
              help="A (hidden, inputs) matrix saved with numpy.save (overrides --init).")
@click.option("--hidden", default=32, show_default=True, type=click.IntRange(1))
@click.option("--inputs", default=64, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True)
@DPI_OPTION
@DATA_OPTION
@output_option()
def plot_symmetry(init: str, weights: str | None, hidden: int, inputs: int, seed: int,
                  dpi: int, data: str | None, output: Path) -> None:
    """Pairwise cosine similarity of hidden units' weight vectors (exercise 2)."""
    from ..viz import VizError
    from ..viz import plot_symmetry as draw

    if weights:
        import numpy as np

        try:
            matrix = np.load(weights, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise VizError(f"cannot read a weight matrix from {weights!r}: {exc}; save one "
                           "with numpy.save('w.npy', W)") from None
        fig = draw(matrix)
    else:
        if "," in init:
            raise click.BadParameter("give one initializer", param_hint="--init")
        fig = draw(parse_init_spec(init, "--init"), hidden=hidden, inputs=inputs, seed=seed)
    write(fig, output, dpi, data)


@click.command("animate")
@click.option("--inits", default="xavier,he,bad", show_default=True, metavar="INIT,...",
              help="Initializers revealed layer by layer (the lesson's three by default).")
@click.option("--layers", default=50, show_default=True, type=click.IntRange(1),
              help="Layers, and frames.")
@click.option("--width", default=200, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True)
@click.option("--fps", default=10, show_default=True, type=click.IntRange(1))
@click.option("--history", "histories", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Animate these `initkit train --json` runs' per-layer gradient norms "
                   "over steps instead (repeatable).")
@click.option("--max-frames", default=100, show_default=True, type=click.IntRange(1),
              help="With --history: at most this many steps are shown.")
@output_option((".gif",), default="variance_evolution.gif")
def animate(inits: str, layers: int, width: int, seed: int, fps: int,
            histories: tuple[str, ...], max_frames: int, output: Path) -> None:
    """Write the lesson's variance-across-layers animation (or gradient norms) as a GIF."""
    from ..progress import ProgressBar
    from ..viz import anim_gradient_norms, anim_variance_evolution
    from ..viz.animate import animation_steps
    from ..viz.training import histories_from_json

    if histories:
        runs = [run for path in histories for run in histories_from_json(path)]
        frames = len(animation_steps(max(len(run.grad_norms) for run in runs), max_frames))
        with ProgressBar(frames, "rendering") as bar:
            path = anim_gradient_norms(runs, fps=fps, path=output, max_frames=max_frames,
                                       progress=lambda done, total: bar.update())
    else:
        names = split_init_specs(inits, "--inits")  # the lesson's legend keys by these names
        if any(params for _, params in (parse_init_spec(n, "--inits") for n in names)):
            raise click.BadParameter("the lesson's animation takes initializer names only "
                                     "(no :KEY=VALUE)", param_hint="--inits")
        with ProgressBar(layers, "rendering") as bar:
            path = anim_variance_evolution(layers, fps, output, inits=names, width=width,
                                           seed=seed, progress=lambda done, total: bar.update())
    click.echo(f"wrote {path}")


COMMANDS = [plot, animate]
