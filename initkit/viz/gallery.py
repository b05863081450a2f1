"""The README's images: ``python -m initkit.viz.gallery docs/images`` regenerates them.

Each image is made by one line of code, kept here as the text the README shows (so the
image and its caption cannot drift apart): the line is evaluated with ``viz`` bound to
``initkit.viz`` and its Figure saved as PNG, one after the other in this process (worker
processes made it slower, not faster: forked numpy workers spent most of their time in the
kernel).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: file name -> the one line of code that makes it, in the README's order.
GALLERY = {
    "variance.png": 'viz.plot_variance(["he", "xavier"], depth=30, seeds=8)',
    "gradients.png": 'viz.plot_gradients([("constant", {"value": 0.002}), "xavier"], '
                     'activation="tanh")',
    "spectrum.png": 'viz.plot_eigenvalues(["he", "orthogonal"], n=256)',
    "phase.png": 'viz.plot_phase_diagram("tanh")',
}

#: The folder the README's images live in, relative to the repository root.
DEFAULT_FOLDER = Path("docs/images")


def render(name: str, folder: str | Path) -> tuple[Path, float]:
    """Make ``GALLERY[name]`` and save it into ``folder``; return its path and seconds."""
    from .. import viz

    start = time.perf_counter()
    fig = eval(GALLERY[name], {"viz": viz})  # noqa: S307 - a constant from this module
    path = viz.save_figure(fig, Path(folder) / name)
    return path, time.perf_counter() - start


def render_gallery(folder: str | Path = DEFAULT_FOLDER) -> list[Path]:
    """Render every GALLERY image into ``folder``; return the written paths in order."""
    return [render(name, folder)[0] for name in GALLERY]


def readme_snippets(folder: str = "docs/images") -> str:
    """The Markdown the README shows: each image with the line of code that made it."""
    blocks = ["Each figure is one call (`from initkit import viz`; "
              '`viz.save_figure(fig, "out.png")` writes it, PNG or SVG). '
              "`make images` redraws them all."]
    for name, code in GALLERY.items():
        blocks.append(f"![{name[:-4]}]({folder}/{name})\n\n```python\nfig = {code}\n```")
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    """``python -m initkit.viz.gallery [FOLDER] [--markdown]``."""
    parser = argparse.ArgumentParser(prog="python -m initkit.viz.gallery",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--markdown", action="store_true",
                        help="print the README snippet instead of rendering")
    args = parser.parse_args(argv)
    if args.markdown:
        print(readme_snippets(args.folder))
        return 0
    start = time.perf_counter()
    for path in render_gallery(args.folder):
        print(f"wrote {path}")
    print(f"{len(GALLERY)} images in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
