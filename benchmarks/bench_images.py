"""How long the README images take, each and all together, against the 30 s budget.

    .venv/bin/python benchmarks/bench_images.py

Renders every ``initkit.viz.gallery`` image into a temporary folder (after one warm-up
render for imports and the font cache) and prints seconds per image, the total, and the
total as a fraction of the issue's budget (all README images under 30 s on 2 cores).
Nothing is asserted; the machine may be shared, so read the numbers as rough.
"""

from __future__ import annotations

import tempfile

BUDGET_SECONDS = 30.0


def main() -> None:
    from initkit.viz.gallery import GALLERY, render

    with tempfile.TemporaryDirectory() as folder:
        render("spectrum.png", folder)  # warm-up: imports, font cache
        print(f"{'image':<16}{'seconds':>10}")
        total = 0.0
        for name in GALLERY:
            seconds = render(name, folder)[1]
            total += seconds
            print(f"{name:<16}{seconds:>10.2f}")
    print(f"{'all':<16}{total:>10.2f}   = {total / BUDGET_SECONDS:.2f} x the "
          f"{BUDGET_SECONDS:.0f} s budget")


if __name__ == "__main__":
    main()
