"""Download the four MNIST files on request and verify their SHA-256 checksums.

Nothing in the kit calls this implicitly: it runs only from ``initkit data fetch mnist`` (or
a direct call). Each file is streamed into a temporary ``.part`` file next to its
destination, hashed while it arrives, and renamed into place only when the hash matches, so
an interrupted or tampered download never leaves a file that looks complete.

Checksums: the SHA-256 sums the TensorFlow and torchvision mirrors publish for the
original files of LeCun, Cortes & Burges.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .dataset import FetchError
from .mnist import MNIST_FILES, data_dir, load_mnist

MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
CHUNK = 1 << 16


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checksums(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a ``sha256sum``-style file: ``<hex digest>  <file name>`` per line."""
    sums: dict[str, str] = {}
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise FetchError(f"{path}: cannot read checksums ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise FetchError(f"{path}:{number}: expected '<sha256 hex>  <file name>', "
                             f"got {line!r}")
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _download(url: str, dest: Path, expected: str, timeout: float) -> None:
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    got = digest.hexdigest()
    if got != expected:
        part.unlink(missing_ok=True)
        raise FetchError(f"{dest.name} from {url} has SHA-256 {got}, expected {expected}: "
                         "the mirror serves a different or damaged file. Nothing was saved; "
                         "try another --mirror.")
    os.replace(part, dest)


def fetch_mnist(directory: str | os.PathLike[str] | None = None,
                mirrors: Sequence[str] | str | None = None,
                checksums: Mapping[str, str] | None = None, timeout: float = 60.0,
                force: bool = False,
                report: Callable[[str], None] | None = None) -> Path:
    """Download the four gzipped MNIST IDX files into ``directory`` and verify them.

    Args:
        directory: target folder (default: ``$INITKIT_DATA_DIR`` or ``~/.cache/initkit``).
        mirrors: base URL(s) tried in order (default: the TensorFlow and torchvision ones).
        checksums: file name -> SHA-256 hex (default: MNIST's published sums).
        timeout: seconds per connection.
        force: download even files that are present with the right checksum.
        report: called with one line per file (the CLI prints them).

    Returns:
        the directory, which ``load_mnist`` then reads.

    Raises:
        FetchError: every mirror failed for a file, or a checksum did not match.
    """
    target = data_dir(directory)
    target.mkdir(parents=True, exist_ok=True)
    bases = (mirrors,) if isinstance(mirrors, str) else tuple(mirrors or MIRRORS)
    sums = dict(MNIST_SHA256 if checksums is None else checksums)
    say = report or (lambda line: None)
    names = [f"{stem}.gz" for pair in MNIST_FILES.values() for stem in pair]
    for name in names:
        if name not in sums:
            raise FetchError(f"no SHA-256 checksum given for {name}; every file is verified")
        dest = target / name
        if dest.is_file() and not force and sha256_of(dest) == sums[name]:
            say(f"{name}: present, checksum ok")
            continue
        errors = []
        for base in bases:
            url = base.rstrip("/") + "/" + name
            try:
                _download(url, dest, sums[name], timeout)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            say(f"{name}: downloaded from {base}, checksum ok")
            break
        else:
            raise FetchError(f"could not download {name}: " + "; ".join(errors)
                             + ". Check the network or pass --mirror URL.")
    load_mnist(target, fallback=False)  # the files must also parse: magic numbers, sizes
    return target
