"""Labels readable on every CT window (issue 17): contrast of the drawn label pixels with the
pixels right round them, measured on screenshots of a real viewer.

The week-16 read of the sample patient is opened as a reader would (guided read, prior and
current side by side) and L1 is measured with one drag, so the canvas shows lesion labels on
both scans (white), the ghost of the prior lines ("L1 prior", cyan) and the ring's label on
the prior (orange), over lung and chest wall; then N to L4 (the spine's level: a label over
soft tissue and bone). The windows are chosen with the read's own keys (1 soft tissue, 2 lung,
3 bone).

How a label is measured, per label layer and window:
- where the label is: two renders with the CT hidden (black behind), the layer's text on and
  off; the pixels that differ are the label's glyphs (a dark halo on black changes nothing);
- its colour: the median colour, in the render with the CT, of the glyphs' solid pixels;
- its surroundings: the pixels touching a glyph (one pixel round it, 8-neighbours) that are
  no glyph, in the same render;
- contrast: WCAG 2.1 ratio (success criterion 1.4.3) between the label colour and each
  surrounding pixel; the label is readable when 90 % of its surroundings give >= 4.5:1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _reading_helpers import UserActions, drag_world, open_reading, settle, true_long_axis_world
from qtpy.QtCore import Qt

from napari_recist.palette import WCAG_AA_TEXT

pytestmark = pytest.mark.viewer

WINDOW_KEYS = {"soft tissue": Qt.Key.Key_1, "lung": Qt.Key.Key_2, "bone": Qt.Key.Key_3}
SURROUNDINGS_READABLE = 0.90  # share of the surrounding pixels that must reach 4.5:1
GLYPH_DIFFERENCE = 24  # 8-bit levels: a pixel the label changes (on black)
MIN_GLYPH_PIXELS = 30  # fewer: the layer has no label on the slice shown
SOLID = 0.6  # a glyph pixel at least this much of the label's strongest change is solid


def luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.1 relative luminance of 8-bit sRGB pixels (last axis R, G, B)."""
    channel = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(channel <= 0.04045, channel / 12.92, ((channel + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def contrast(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """WCAG 2.1 contrast ratio of two luminances (either order)."""
    return (np.maximum(first, second) + 0.05) / (np.minimum(first, second) + 0.05)


def touching(mask: np.ndarray) -> np.ndarray:
    """Pixels within one pixel (8-neighbours) of the mask, the mask included."""
    grown = mask.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            grown |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return grown


def label_contrast(image: np.ndarray, on: np.ndarray, off: np.ndarray,
                   others: np.ndarray) -> tuple[float, int, float]:
    """(share of surroundings at >= 4.5:1, glyph pixels, median ratio) of one layer's labels.

    ``on``/``off`` are renders on black with the layer's text shown/hidden; ``others`` the
    glyphs of every label layer (a neighbour's glyph is no background).
    """
    change = np.max(np.abs(on.astype(int) - off.astype(int)), axis=2)
    glyph = change > GLYPH_DIFFERENCE
    if not glyph.any():
        return 0.0, 0, 0.0
    solid = change >= SOLID * change.max()
    text = luminance(np.median(image[solid], axis=0))
    around = touching(glyph) & ~glyph & ~others
    ratios = contrast(text, luminance(image[around]))
    return float(np.mean(ratios >= WCAG_AA_TEXT)), int(glyph.sum()), float(np.median(ratios))


def _render(viewer) -> np.ndarray:
    viewer.window._qt_viewer.canvas.native.update()
    settle(0.3)
    return np.asarray(viewer.screenshot(canvas_only=True, flash=False))[..., :3].copy()


def _label_layers(viewer) -> list:
    return [layer for layer in viewer.layers if layer.visible and hasattr(layer, "text")
            and layer.text.visible and any(str(s) for s in layer.text.values)]


def _glyph_renders(viewer, labelled: list) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per label layer: renders on black (CT hidden) with its text shown and hidden."""
    images = [layer for layer in viewer.layers if layer.visible and layer not in labelled
              and type(layer).__name__ == "Image"]
    renders: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for layer in images:
        layer.visible = False
    try:
        for layer in labelled:
            on = _render(viewer)
            layer.text.visible = False
            off = _render(viewer)
            layer.text.visible = True
            renders[layer.name] = (on, off)
    finally:
        for layer in images:
            layer.visible = True
    return renders


def _measure(viewer, canvas, actions: UserActions, where: str,
             measured: dict[tuple[str, str, str], tuple[float, int, float]]) -> None:
    """Contrast of every label on screen, on each window (chosen with its key)."""
    renders = _glyph_renders(viewer, _label_layers(viewer))
    glyphs = {name: np.max(np.abs(on.astype(int) - off.astype(int)), axis=2)
              > GLYPH_DIFFERENCE for name, (on, off) in renders.items()}
    for window, key in WINDOW_KEYS.items():
        actions.key(canvas, key, f"window {window}")
        image = _render(viewer)
        for name, (on, off) in renders.items():
            if glyphs[name].sum() <= MIN_GLYPH_PIXELS:
                continue  # this layer has no label on this slice
            others = np.zeros_like(glyphs[name])
            for other, mask in glyphs.items():
                if other != name:
                    others |= mask
            measured[(where, window, name)] = label_contrast(image, on, off, others)


def test_labels_readable_on_soft_tissue_lung_and_bone_windows(make_napari_viewer,
                                                              tmp_path: Path, qtbot):
    viewer, session, dock, canvas = open_reading(make_napari_viewer, tmp_path, qtbot,
                                                 size=(1500, 900))
    actions = UserActions(qtbot)
    start, end = true_long_axis_world("L1", 2)
    drag_world(actions, viewer, canvas, start, end, "L1")  # a label on the current scan
    settle(0.3)
    names = sorted(layer.name for layer in _label_layers(viewer))
    assert any("prior lines" in name for name in names), names  # the ghost's label
    assert any("lesion read" in name for name in names), names  # the ring's label
    assert sum("lesions" in name for name in names) == 2, names  # prior and current
    measured: dict[tuple[str, str, str], tuple[float, int, float]] = {}
    _measure(viewer, canvas, actions, "at L1", measured)
    for lesion_id in ("L2", "L3", "L4"):
        actions.key(canvas, Qt.Key.Key_N, f"to {lesion_id}")
    assert dock.selected == "L4"
    _measure(viewer, canvas, actions, "at L4", measured)

    report = "\n".join(f"{where:6} {window:12} {name:28} {share:6.1%} of surroundings "
                       f">= 4.5:1, median {median:5.1f}:1 ({pixels} glyph px)"
                       for (where, window, name), (share, pixels, median) in measured.items())
    print(report)
    # At L1: both scans' lesion labels, the ghost's and the ring's; at L4 the prior's.
    for where, labels in (("at L1", 4), ("at L4", 1)):
        for window in WINDOW_KEYS:
            shown = [name for (at, win, name) in measured if at == where and win == window]
            assert len(shown) >= labels, f"labels missing at {where}, {window}\n{report}"
    for (where, window, name), (share, _, _) in measured.items():
        assert share >= SURROUNDINGS_READABLE, \
            f"{name} unreadable at {where} on the {window} window\n{report}"


def test_halo_goes_on_own_layers_added_later_only(make_napari_viewer, qtbot):
    from napari_recist._napari import halo

    viewer = make_napari_viewer(show=True)
    halo.keep_labels_outlined(viewer)
    halo.keep_labels_outlined(viewer)  # idempotent: one handler per viewer
    text = {"string": "{label}", "color": "white", "size": 10}
    ours = viewer.add_shapes(
        [np.array([[0, 0], [10, 10]])], shape_type="line", features={"label": ["L9 5 mm"]},
        text=text, metadata={"napari_recist_proposals": {}})
    theirs = viewer.add_shapes(
        [np.array([[0, 0], [10, 10]])], shape_type="line", features={"label": ["other"]},
        text=text)
    settle(0.2)
    assert halo.layer_text_visual(viewer, ours) in halo._OUTLINED
    assert halo.layer_text_visual(viewer, theirs) not in halo._OUTLINED
    _render(viewer)  # the shader compiles and draws (napari raises on a compile error)
