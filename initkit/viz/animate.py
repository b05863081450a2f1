"""Animated GIFs (matplotlib ``FuncAnimation`` + ``PillowWriter``).

- ``anim_variance_evolution``: the lesson's figure revealed layer by layer: np.var of the
  activations after each layer (``VarianceSimulator``) for Xavier, He and the bad init (or
  any list of inits), log y from 1e-4 to 1e4; one frame per layer.
- ``anim_gradient_norms``: a training run's per-layer gradient norms, one frame per step
  (subsampled to at most ``max_frames``).

Each frame also prints its layer / step in a corner, so no two frames are identical (Pillow
would merge identical neighbours and the GIF would have fewer frames than asked for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from ..lesson import LESSON_INITS
from ._common import VizError, new_axes
from .training import draw_gradient_norms, gradient_norm_means, gradient_norm_row
from .variance import lesson_lines

#: Where the GIFs go when no path is given (the folder ``initkit demo`` writes to).
DEFAULT_FOLDER = Path("out")

Progress = Callable[[int, int], Any]


def save_animation(fig: Figure, update: Callable[[int], Iterable[Artist]], frames: int,
                   fps: int, path: str | Path, dpi: int = 80,
                   progress: Progress | None = None) -> Path:
    """Render ``update(0) ... update(frames - 1)`` into a GIF at ``path``; return the path.

    The figure's layout engine (constrained layout) runs for the first frame only; the
    later frames keep its axes positions (an animation changes data, not decorations), so
    each frame is drawn without laying out every tick label again: the lesson's 50-frame
    GIF takes 8 s instead of 12, and its file is byte for byte the same. The engine is
    given back afterwards.

    Args:
        progress: called as ``progress(frame_index, frames)`` after each frame.

    Raises:
        VizError: ``path`` does not end in ``.gif``, or ``frames`` / ``fps`` < 1.
    """
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise VizError(f"cannot write an animation as {path.name!r}: give it a .gif suffix")
    if frames < 1 or fps < 1:
        raise VizError(f"an animation needs frames >= 1 and fps >= 1, got {frames}, {fps}")
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = fig.get_layout_engine()

    def after_frame(index: int, total: int) -> None:
        # matplotlib calls this before it saves frame `index`: from the second frame on,
        # the layout the first frame was saved with holds (see the docstring)
        if index == 1:
            fig.set_layout_engine("none")
        if progress is not None:
            progress(index, total)

    animation = FuncAnimation(fig, update, frames=frames, blit=False, repeat=False)
    try:
        animation.save(path, writer=PillowWriter(fps=fps), dpi=dpi,
                       progress_callback=after_frame)
    finally:
        fig.set_layout_engine(engine)
    return path


def anim_variance_evolution(layers: int = 50, fps: int = 10, path: str | Path | None = None,
                            *, inits: Sequence[str] = LESSON_INITS, width: int = 200,
                            seed: int = 0, progress: Progress | None = None) -> Path:
    """The lesson's variance figure as a GIF, one frame per layer.

    Frame k (0-based) shows layers 1 ... k + 1 of ``VarianceSimulator(layers, width,
    seed).run(init)`` for every init, on the lesson's axes (title "Variance Across Layers",
    log y from 1e-4 to 1e4; Xavier blue, He green, bad init red).

    Args:
        layers: number of layers, and of frames.
        fps: frames per second.
        path: the .gif to write (default ``out/variance_evolution.gif``).
        inits: registered initializers, each with the activation it is meant for.
        width, seed: the ``VarianceSimulator`` settings.
        progress: called as ``progress(frame_index, layers)`` after each frame.

    Returns:
        The path of the GIF.
    """
    fig, ax = new_axes(figsize=(7.0, 4.0))
    lines = lesson_lines(ax, inits, layers, width, seed)
    heads = [ax.plot([], [], "o", color=line.get_color(), markersize=4)[0]
             for line, _ in lines.values()]
    counter = ax.text(0.02, 0.04, "", transform=ax.transAxes)
    x = np.arange(1, layers + 1)

    def update(frame: int) -> list[Artist]:
        for (line, values), head in zip(lines.values(), heads, strict=True):
            line.set_data(x[: frame + 1], values[: frame + 1])
            head.set_data(x[frame : frame + 1], values[frame : frame + 1])
        counter.set_text(f"layer {frame + 1}")
        return [line for line, _ in lines.values()] + heads + [counter]

    return save_animation(fig, update, layers, fps,
                          path or DEFAULT_FOLDER / "variance_evolution.gif", progress=progress)


def animation_steps(steps: int, max_frames: int) -> np.ndarray:
    """At most ``max_frames`` step indices spread evenly over 0 ... steps - 1 (both ends)."""
    return np.unique(np.linspace(0, steps - 1, min(steps, max_frames)).round().astype(int))


def anim_gradient_norms(histories: Iterable[Any] | Any, fps: int = 10,
                        path: str | Path | None = None, *, max_frames: int = 100,
                        progress: Progress | None = None) -> Path:
    """Per-layer gradient norms over a training run as a GIF, one frame per (sampled) step.

    Args:
        histories: History objects (``initkit.train``) with ``grad_norms`` (steps x layers);
            those sharing a label are averaged over seeds.
        fps: frames per second.
        path: the .gif to write (default ``out/gradient_norms.gif``).
        max_frames: at most this many frames, evenly spaced steps including first and last.
        progress: called as ``progress(frame_index, frames)`` after each frame.

    Returns:
        The path of the GIF.
    """
    means = gradient_norm_means(histories)
    steps = max(len(m) for m in means.values())
    frames = animation_steps(steps, max_frames)
    fig, ax = new_axes(figsize=(7.0, 4.0))
    lines = draw_gradient_norms(ax, means, int(frames[0]))

    def update(frame: int) -> list[Artist]:
        step = int(frames[frame])
        for line, mean in zip(lines, means.values(), strict=True):
            line.set_ydata(gradient_norm_row(mean, step, steps))
        ax.set_title(f"Gradient norms per layer, step {step + 1}")
        return lines

    return save_animation(fig, update, len(frames), fps,
                          path or DEFAULT_FOLDER / "gradient_norms.gif", progress=progress)
