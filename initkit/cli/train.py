"""``initkit train``: train a model on a data set with one or several initializers."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import click

from .format import (
    INIT_SPEC_FORM,
    fmt_param,
    format_table,
    parse_init_spec,
    parse_params,
    split_init_specs,
)

DATASET_NAMES = ["digits", "mnist", "circles", "adding", "copy"]


def _load(dataset: str, data_dir: str | None, seed: int):
    from ..data import DataFallbackWarning, load_dataset
    from ..errors import MissingExtra

    kwargs: dict[str, Any] = {"path": data_dir} if dataset == "mnist" else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataFallbackWarning)
        try:
            data = load_dataset(dataset, **kwargs) if dataset == "mnist" else \
                load_dataset(dataset, seed=seed)
        except MissingExtra as exc:  # say which command needs the extra
            if dataset == "mnist":
                raise
            raise MissingExtra(f"initkit train --dataset {dataset}", exc.package,
                               exc.extra) from None
    for w in caught:
        if issubclass(w.category, DataFallbackWarning):
            click.echo(f"notice: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return data


@click.command("train")
@click.option("--dataset", type=click.Choice(DATASET_NAMES), default="digits",
              show_default=True, help="mnist falls back to digits when not on disk.")
@click.option("--init", "init", default="he", show_default=True, metavar=INIT_SPEC_FORM,
              help="Registered initializer (see `initkit list`) and its parameters, e.g. "
                   "constant:value=0.01; for adding/copy it is W_hh's.")
@click.option("--compare", default=None, metavar=f"{INIT_SPEC_FORM},...",
              help="Train once per initializer and print one table (overrides --init).")
@click.option("--init-param", "init_param", multiple=True, metavar="KEY=VALUE",
              help="Keyword parameter of every initializer, e.g. value=0.5 (repeatable; "
                   "a NAME:KEY=VALUE of --init/--compare overrides it).")
@click.option("--activation", default=None,
              help="Registered activation [default: the one the initializer is meant for "
                   "(with --compare, the first one's, for every run); tanh for adding/copy].")
@click.option("--depth", default=2, show_default=True, type=click.IntRange(min=1),
              help="Hidden layers of the MLP (ignored by the RNN).")
@click.option("--width", default=64, show_default=True, type=click.IntRange(min=1),
              help="Units per hidden layer (hidden units of the RNN).")
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd",
              show_default=True)
@click.option("--lr", default=None, type=click.FloatRange(min=0, min_open=True),
              help="Learning rate [default: sgd 0.01, adam 0.001].")
@click.option("--momentum", default=0.9, show_default=True,
              type=click.FloatRange(0, 1, max_open=True))
@click.option("--seed", default=0, show_default=True, help="Seed of weights and batches.")
@click.option("--residual", is_flag=True, help="Residual blocks (equal hidden widths).")
@click.option("--norm", type=click.Choice(["layer", "rms", "batch"]), default=None)
@click.option("--zero-gamma", is_flag=True, help="Start each norm's gamma at 0.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Where MNIST is [default: $INITKIT_DATA_DIR or ~/.cache/initkit].")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar [default: on a terminal only].")
@click.option("--json", "as_json", is_flag=True, help="Print the History as JSON.")
def train_command(dataset: str, init: str, compare: str | None, init_param: tuple[str, ...],
                  activation: str | None, depth: int, width: int, epochs: int,
                  batch_size: int, optimizer: str, lr: float | None, momentum: float,
                  seed: int, residual: bool, norm: str | None, zero_gamma: bool, dtype: str,
                  data_dir: str | None, progress: bool | None, as_json: bool) -> None:
    """Train an MLP (or an RNN on adding/copy) and print its learning curve.

    With --compare he,xavier,constant it trains one model per initializer on the same
    data, batches and seed, and prints one row each.
    """
    from ..nn import symmetry
    from ..registry import default_activation, get_activation
    from ..train import build_model, fit

    shared = parse_params(init_param, "--init-param")
    labels = split_init_specs(compare, "--compare") if compare else [init.strip()]
    runs_of = []
    for label in labels:  # an unknown name or a wrong parameter fails before any training
        initializer, own = parse_init_spec(label, "--compare" if compare else "--init")
        params = {**shared, **own}
        initializer.check_params(params)
        runs_of.append((label, initializer, params))
    if activation:
        get_activation(activation)
    elif compare:  # the runs differ only in their initialization
        activation = default_activation(runs_of[0][1])
    data = _load(dataset, data_dir, seed)
    runs = []
    for label, initializer, params in runs_of:
        model = build_model(data, init=initializer, activation=activation, depth=depth,
                            width=width, residual=residual, norm=norm, zero_gamma=zero_gamma,
                            init_params=params, dtype=dtype, seed=seed)
        history = fit(model, data, epochs=epochs, batch_size=batch_size, lr=lr,
                      optimizer=optimizer, momentum=momentum, seed=seed, progress=progress,
                      label=label)
        runs.append((label, model, history))
    if as_json:
        payload = [{**h.to_dict(), "dataset": data.name, "symmetry": symmetry(m).n_distinct}
                   for _, m, h in runs]
        click.echo(json.dumps(payload[0] if not compare else {"runs": payload}, indent=2))
        return
    _, model, first = runs[0]
    click.echo(f"dataset={data.name} ({len(data.x_train)} train / {len(data.x_test)} test, "
               f"{data.source})")
    baseline = {k: v for k, v in data.info.items() if k.startswith("baseline_")}
    if baseline:  # what a model that learned nothing scores, so 0.75 is not read as learning
        click.echo("baseline (no learning): " + ", ".join(
            f"{k.removeprefix('baseline_')} {v:.4f}" for k, v in baseline.items()))
    click.echo(f"model={_describe(model, show_init=not compare)}")
    click.echo(f"optimizer={first.config['optimizer']} lr={first.config['lr']:g} "
               f"batch={batch_size} epochs={epochs} seed={seed}")
    if compare:
        _print_comparison(runs)
    else:
        _print_curve(first)


def _describe(model, show_init: bool = True) -> str:
    config = getattr(model, "config", {})
    if "widths" not in config:
        return repr(model)
    widths = config["widths"]
    hidden = widths[1:-1]
    middle = (f"{hidden[0]}x{len(hidden)}" if len(set(hidden)) == 1 and len(hidden) > 1
              else "-".join(map(str, hidden)))
    text = f"MLP {widths[0]}-{middle}-{widths[-1]} {config['activation']}"
    params = "".join(f":{k}={fmt_param(v)}" for k, v in config.get("init_params", {}).items())
    text += f" init={config['init']}{params}" if show_init else ""
    text += " residual" if config["residual"] else ""
    text += f" norm={config['norm']}" if config["norm"] else ""
    return text + f" {config['dtype']}"


def _print_curve(history) -> None:
    import numpy as np

    grads = history.epoch_grad_norms()  # per epoch: mean ||dL/dW|| of each weight
    rows = [[e + 1, history.epoch_loss[e], history.epoch_accuracy[e], history.test_loss[e],
             history.test_accuracy[e], *_first_last(grads[e]), float(history.epoch_time[e])]
            for e in range(history.epochs)]
    click.echo(format_table(["epoch", "train loss", "train acc", "test loss", "test acc",
                             "|dW| first", "|dW| last", "time s"], rows))
    if history.diverged:
        click.echo(f"diverged: the loss became {history.loss[-1]} at step "
                   f"{history.diverged_step}; try a smaller --lr or another --init")
    else:
        acc = history.final_test_accuracy
        click.echo(f"final: train loss {history.epoch_loss[-1]:.4f}"
                   + ("" if np.isnan(acc) else f", test accuracy {acc:.4f}")
                   + f" ({history.wall_time:.2f} s)")


def _first_last(per_layer) -> tuple[float, float]:
    """The first and the last weight's value (NaN, NaN for a model without weights)."""
    return (float(per_layer[0]), float(per_layer[-1])) if len(per_layer) else (math.nan,
                                                                               math.nan)


def _print_comparison(runs) -> None:
    from ..nn import symmetry

    rows = []
    for name, model, h in runs:
        first, last = _first_last(h.mean_grad_norms())
        distinct = symmetry(model).n_distinct
        rows.append([name,
                     h.epoch_loss[-1] if h.epochs else math.nan,
                     h.test_loss[-1] if h.epochs else math.nan,
                     h.test_accuracy[-1] if h.epochs else math.nan,
                     first, last, str(min(distinct)) if distinct else "-",
                     "yes" if h.diverged else "no", h.wall_time])
    click.echo(format_table(["init", "train loss", "test loss", "test acc", "|dW| first",
                             "|dW| last", "distinct units", "diverged", "time s"], rows))


COMMANDS = [train_command]
