"""``initkit data fetch mnist`` and ``initkit data info``: the only downloads, on request."""

from __future__ import annotations

import click


@click.group("data")
def data_group() -> None:
    """Data sets: where they are, and fetching MNIST (nothing downloads unless asked)."""


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
    """Show where the kit looks for MNIST and what it found."""
    from ..data import DATASETS, data_dir, find_mnist

    click.echo(f"data directory: {data_dir(directory)}")
    found = find_mnist(directory)
    if found is None:
        click.echo("mnist: not found (the 8x8 scikit-learn digits are used instead; "
                   "`initkit data fetch mnist` downloads it)")
    else:
        click.echo(f"mnist: {found[0]} files in {found[1]}")
    click.echo(f"datasets: {', '.join(DATASETS)}")


COMMANDS = [data_group]
