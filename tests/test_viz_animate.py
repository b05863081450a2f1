"""initkit.viz animations: GIFs with one frame per layer / sampled step, of sane size."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from initkit import viz
from initkit.viz import VizError
from initkit.viz.animate import animation_steps


def frames_and_durations(path):
    with Image.open(path) as gif:
        durations = []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info["duration"])
        return gif.n_frames, durations


def test_variance_animation_has_one_frame_per_layer(tmp_path):
    """A GIF of any inits has exactly `layers` frames at 1000/fps ms each, and is small."""
    seen = []
    path = viz.anim_variance_evolution(layers=8, fps=5, path=tmp_path / "sub" / "v.gif",
                                       inits=["he", "lecun"], width=32,
                                       progress=lambda i, n: seen.append((i, n)))
    assert path == tmp_path / "sub" / "v.gif"
    frames, durations = frames_and_durations(path)
    assert frames == 8
    assert set(durations) == {200}
    assert seen == [(i, 8) for i in range(8)]
    assert path.stat().st_size < 2_000_000 * 8 / 50


def test_variance_animation_frames_grow_layer_by_layer(tmp_path):
    """Later frames show more of the curves: the first and last frames differ in pixels."""
    path = viz.anim_variance_evolution(layers=4, path=tmp_path / "v.gif", width=16)
    with Image.open(path) as gif:
        first = np.asarray(gif.convert("RGB"))
        gif.seek(3)
        last = np.asarray(gif.convert("RGB"))
    assert (first != last).any(axis=2).sum() > 100


def test_gradient_animation_samples_steps(tmp_path):
    """A 30-step run with max_frames=10 gives a 10-frame GIF over steps 0 ... 29."""
    rng = np.random.default_rng(0)
    run = SimpleNamespace(label="he", grad_norms=np.exp(rng.normal(size=(30, 4))),
                          diverged=False)
    path = viz.anim_gradient_norms([run], fps=10, path=tmp_path / "g.gif", max_frames=10)
    assert frames_and_durations(path)[0] == 10
    steps = animation_steps(30, 10)
    assert steps[0] == 0 and steps[-1] == 29 and len(steps) == 10
    np.testing.assert_array_equal(animation_steps(3, 10), [0, 1, 2])


def test_an_animation_needs_a_gif_path(tmp_path):
    """Writing an animation to a .png is refused with a message naming the file."""
    with pytest.raises(VizError, match="'v.png': give it a .gif suffix"):
        viz.anim_variance_evolution(layers=2, path=tmp_path / "v.png")


def test_frames_are_byte_for_byte_what_a_full_redraw_of_every_frame_gives(tmp_path):
    """save_animation lays the figure out once (constrained layout, first frame) and keeps
    that layout: the GIF equals matplotlib's own save, which lays out every frame again
    (kills the layout frozen before the first frame is saved: it then comes from the
    figure's 100 dpi, not the GIF's 80), and the figure gets its layout engine back."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    from initkit.viz._common import new_axes
    from initkit.viz.animate import save_animation

    def figure():
        fig, ax = new_axes(figsize=(5.0, 3.0))
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1e4)
        ax.set_xlim(0, 6)
        ax.set_title("Variance Across Layers")
        ax.set_ylabel("Variance")
        (line,) = ax.plot([], [], label="he")
        ax.legend()
        counter = ax.text(0.02, 0.04, "", transform=ax.transAxes)

        def update(frame):
            line.set_data(np.arange(frame + 1), 10.0 ** np.arange(frame + 1))
            counter.set_text(f"layer {frame + 1}")
            ax.set_title(f"Variance Across Layers, layer {frame + 1}")
            return [line, counter]

        return fig, update

    fig, update = figure()
    engine = fig.get_layout_engine()
    ours = save_animation(fig, update, 5, 5, tmp_path / "ours.gif")
    assert fig.get_layout_engine() is engine
    theirs_fig, theirs_update = figure()
    FuncAnimation(theirs_fig, theirs_update, frames=5, blit=False, repeat=False).save(
        tmp_path / "theirs.gif", writer=PillowWriter(fps=5), dpi=80)
    assert ours.read_bytes() == (tmp_path / "theirs.gif").read_bytes()
