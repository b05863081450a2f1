"""``initkit list``, ``initkit simulate`` and ``initkit seed-table``."""

from __future__ import annotations

import json

import click

from ..lesson import LESSON_INITS, VarianceSimulator
from ..registry import activations, get_activation, initializers
from ..simulation import Trace
from ..simulation import simulate as run_simulation
from .format import INIT_SPEC_FORM, format_table, parse_init_spec, spec_label


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_command(as_json: bool) -> None:
    """List initializers and activations with the plugin that provides each."""
    inits = initializers()
    acts = activations()
    if as_json:
        click.echo(json.dumps({
            "initializers": [{"name": i.name, "aliases": list(i.aliases), "plugin": i.plugin,
                              "family": i.family, "activation": i.activation,
                              "description": i.description} for i in inits.values()],
            "activations": [{"name": a.name, "aliases": list(a.aliases), "plugin": a.plugin,
                             "gain": a.gain_for(), "description": a.description}
                            for a in acts.values()],
        }, indent=2))
        return
    click.echo("Initializers")
    click.echo(format_table(
        ["name", "aliases", "meant for", "plugin", "description"],
        [[i.name, ", ".join(i.aliases) or "-", i.activation, i.plugin, i.description]
         for i in sorted(inits.values(), key=lambda i: i.name)]))
    click.echo("\nActivations")
    click.echo(format_table(
        ["name", "aliases", "gain", "plugin", "description"],
        [[a.name, ", ".join(a.aliases) or "-", f"{a.gain_for():.4f}", a.plugin, a.description]
         for a in sorted(acts.values(), key=lambda a: a.name)]))


@click.command("seed-table")
@click.option("--layers", default=20, show_default=True, type=click.IntRange(min=1),
              help="Number of layers.")
@click.option("--width", default=128, show_default=True, type=click.IntRange(min=1),
              help="Units per layer.")
@click.option("--seed", default=42, show_default=True, help="Seed of default_rng.")
def seed_table(layers: int, width: int, seed: int) -> None:
    """Print the lesson's three lines (xavier, he, bad) exactly as the seed notebook does."""
    click.echo(VarianceSimulator(layers=layers, width=width, seed=seed).table(LESSON_INITS))


def _parse_widths(value: str) -> int | list[int]:
    try:
        parts = [int(p) for p in value.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an int or a comma-separated list of ints") from None
    return parts[0] if len(parts) == 1 else parts


@click.command("simulate")
@click.option("--init", "init", default="he", show_default=True, metavar=INIT_SPEC_FORM,
              help="Registered initializer (see `initkit list`) and its parameters, e.g. "
                   "constant:value=0.01 or he_normal:mode=fan_out.")
@click.option("--activation", default=None,
              help="Registered activation [default: the one the init is meant for].")
@click.option("--depth", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--width", default="256", show_default=True,
              help="Units per layer, or a comma-separated list, one per layer.")
@click.option("--batch", default=256, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True)
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(min=1),
              help="Ensemble size: mean and spread over this many seeds.")
@click.option("--bias-std", default=0.0, show_default=True, type=click.FloatRange(min=0))
@click.option("--residual", is_flag=True, help="Residual stream s_l = s_{l-1} + branch.")
@click.option("--norm", type=click.Choice(["layer", "rms", "batch"]), default=None)
@click.option("--zero-gamma", is_flag=True, help="Start each norm's gamma at 0.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float64",
              show_default=True)
@click.option("--backward", is_flag=True, help="Show the backward gradient columns too.")
@click.option("--lesson", is_flag=True, help="Print the lesson's seed table and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the Trace as JSON.")
def simulate_command(init: str, activation: str | None, depth: int, width: str, batch: int,
                     seed: int, seeds: int, bias_std: float, residual: bool, norm: str | None,
                     zero_gamma: bool, dtype: str, backward: bool, lesson: bool,
                     as_json: bool) -> None:
    """Simulate signal (and gradient) variance layer by layer, beside mean-field theory."""
    if lesson:
        click.echo(VarianceSimulator(layers=20, width=128, seed=42).table(LESSON_INITS))
        return
    initializer, params = parse_init_spec(init, "--init")
    act = get_activation(activation or initializer.activation)
    trace = run_simulation(initializer, act, depth=depth, width=_parse_widths(width),
                           batch=batch, seed=seed, seeds=seeds if seeds > 1 else None,
                           bias_std=bias_std, residual=residual, norm=norm,
                           zero_gamma=zero_gamma, dtype=dtype, init_params=params)
    if as_json:
        click.echo(json.dumps({**trace.to_dict(), "init_params": params}, indent=2,
                              allow_nan=False))
        return
    click.echo(trace_table(trace, backward=backward, init=spec_label(initializer, params)))


def trace_table(trace: Trace, backward: bool = True, init: str | None = None) -> str:
    """A Trace as the terminal table: a settings line, then one row per layer with theory.

    ``init`` is the settings line's initializer label (default ``trace.init``).
    """
    settings = (f"init={init or trace.init} activation={trace.activation} depth={trace.depth} "
                f"widths={_compact(trace.widths)} batch={trace.batch} seeds={len(trace.seeds)}"
                + (" residual" if trace.residual else "")
                + (f" norm={trace.norm}" if trace.norm else "")
                + (" zero-gamma" if trace.zero_gamma else ""))
    headers = ["layer", "q", "theory q", "act var", "dead", "saturated"]
    columns = [trace.q, trace.theory["q"], trace.act_var, trace.dead_fraction,
               trace.saturated_fraction]
    if len(trace.seeds) > 1:
        headers.insert(2, "q std")
        columns.insert(1, trace.spread("q"))
    if backward:
        headers += ["grad var", "theory grad var", "|dL/dW|"]
        columns += [trace.grad_var, trace.theory["grad_var"], trace.weight_grad_norm]
    rows = [[layer + 1, *(float(c[layer]) for c in columns)] for layer in range(trace.depth)]
    return settings + "\n" + format_table(headers, rows)


def _compact(widths: list[int]) -> str:
    return str(widths[0]) if len(set(widths)) == 1 else ",".join(map(str, widths))


COMMANDS = [list_command, simulate_command, seed_table]
