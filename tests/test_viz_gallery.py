"""The README gallery: each committed image has the one line of code that makes it."""

from __future__ import annotations

import ast
from pathlib import Path

from PIL import Image

from initkit import viz
from initkit.viz.gallery import GALLERY, readme_snippets, render

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


def test_every_gallery_line_calls_one_public_viz_function():
    """Each GALLERY entry is a single call of a function in initkit.viz.__all__."""
    for code in GALLERY.values():
        call = ast.parse(code, mode="eval").body
        assert isinstance(call, ast.Call)
        assert call.func.value.id == "viz" and call.func.attr in viz.__all__


def test_committed_images_exist_for_every_entry():
    """docs/images holds a PNG for every GALLERY entry (regenerate: make images)."""
    for name in GALLERY:
        with Image.open(IMAGES / name) as image:
            assert image.format == "PNG"


def test_a_regenerated_image_has_the_committed_size(tmp_path):
    """Re-rendering the spectrum image gives a PNG of the same pixel size as the committed one."""
    path, _ = render("spectrum.png", tmp_path)
    with Image.open(path) as fresh, Image.open(IMAGES / "spectrum.png") as committed:
        assert fresh.size == committed.size


def test_readme_snippet_shows_each_image_with_its_code():
    """The Markdown snippet links each image and prints the line that made it."""
    text = readme_snippets()
    for name, code in GALLERY.items():
        assert f"(docs/images/{name})" in text
        assert f"fig = {code}" in text
