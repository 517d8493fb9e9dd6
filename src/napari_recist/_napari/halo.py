"""Labels that stay readable on any CT window: a dark halo drawn round every glyph.

napari's layer text has no outline or background option, and a white 9-pt label vanishes on
a lung window (soft tissue near white) or a bone window. The layer's text is drawn by one
vispy ``Text`` visual per layer, from a signed distance field (SDF) of each glyph: a value of
0.5 on the glyph's edge, falling to 0 some texels outside it (vispy's ``TextureFont``: a
32-pixel spread at 256 pt, stored at 64 pt, i.e. about 1/8 of the em outside the outline).
This module gives that visual a fragment shader that draws the glyph as before and, where
the distance field says "just outside the glyph", an opaque dark halo under it. So:

- the halo is part of the label: it moves with a line being dragged or edited, follows the
  layer's text visibility, opacity and slicing, and costs no extra layer, no extra draw and
  no Python work per frame (only the shader's few arithmetic operations);
- the reading layout's grid (3 layers per cell, `windows.STRIDE`) is unchanged.

Only napari-recist's own layers are given the halo (metadata key starting with
``napari_recist``): another plugin's labels keep napari's look.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

# Black: 21:1 against the white lesion labels, 16.7:1 the cyan ghosts, 9.3:1 the orange ring.
HALO_RGBA = (0.0, 0.0, 0.0, 1.0)
# Where the halo ends, as a value of the distance field (0.5 is the glyph's edge, 0 the end
# of the field): 0.03 is nearly the whole field, about 1.5 px beyond the edge at 10 pt.
HALO_EDGE = 0.03
_OUTLINED: weakref.WeakSet[Any] = weakref.WeakSet()  # text visuals given the halo shader
_LOG = logging.getLogger(__name__)
_HOOKED: dict[int, weakref.ref[Any]] = {}  # viewers whose layer insertions are followed

# The fragment shader of a haloed label. vispy's Text visual supplies the same inputs as to
# its own shader: v_texcoord (into the SDF atlas), v_color (the label's colour, per label),
# u_font_atlas and u_npix (the font size in pixels). The halo colour and edge are ours.
HALO_FRAGMENT_SHADER = """
    #extension GL_OES_standard_derivatives : enable
    uniform sampler2D u_font_atlas;
    uniform float u_npix;
    uniform vec4 u_halo_color;
    uniform float u_halo_edge;
    varying vec4 v_color;
    varying vec2 v_texcoord;

    // Coverage of a level of the distance field at one texture point, antialiased over
    // the distance the field changes across one screen pixel.
    float covered(vec2 uv, float level, float soft) {
        float field = texture2D(u_font_atlas, uv).r;
        return smoothstep(level - soft, level + soft, field);
    }

    // The same, averaged with four points half a pixel away (small text shimmers otherwise).
    float coverage(float level, float soft) {
        float here = covered(v_texcoord, level, soft);
        if (u_npix >= 30.0) {
            return here;
        }
        vec2 texel_step = 0.35 * (dFdx(v_texcoord) + dFdy(v_texcoord));
        float around = covered(v_texcoord + vec2(texel_step.x, texel_step.y), level, soft)
                     + covered(v_texcoord - vec2(texel_step.x, texel_step.y), level, soft)
                     + covered(v_texcoord + vec2(texel_step.x, -texel_step.y), level, soft)
                     + covered(v_texcoord + vec2(-texel_step.x, texel_step.y), level, soft);
        return (2.0 * here + around) / 6.0;
    }

    void main(void) {
        float soft = 0.5 * fwidth(texture2D(u_font_atlas, v_texcoord).r);
        float glyph = v_color.a * coverage(0.5, soft);
        float halo = u_halo_color.a * v_color.a * coverage(u_halo_edge, soft);
        // The glyph over its halo ("over" compositing, straight alpha out).
        float alpha = glyph + halo * (1.0 - glyph);
        if (alpha <= 0.0) discard;
        vec3 colour = (v_color.rgb * glyph + u_halo_color.rgb * halo * (1.0 - glyph)) / alpha;
        gl_FragColor = vec4(colour, alpha);
    }
"""


def is_own_layer(layer: Layer) -> bool:
    """True for a layer napari-recist made (its metadata has a ``napari_recist...`` key)."""
    metadata = getattr(layer, "metadata", None)
    return isinstance(metadata, dict) and any(
        isinstance(key, str) and key.startswith("napari_recist") for key in metadata)


def outline_text_visual(text_visual: Any) -> bool:
    """Give a vispy ``Text`` visual the halo shader (idempotent). False: not a text visual."""
    program = getattr(text_visual, "shared_program", None)
    if program is None or not hasattr(text_visual, "font_size"):
        return False
    if text_visual not in _OUTLINED:
        program.frag = HALO_FRAGMENT_SHADER
        _OUTLINED.add(text_visual)
    program["u_halo_color"] = HALO_RGBA
    program["u_halo_edge"] = HALO_EDGE
    text_visual.update()
    return True


def layer_text_visual(viewer: napari.Viewer, layer: Layer) -> Any | None:
    """The vispy text visual that draws a layer's labels, or None (no canvas, no text)."""
    window = getattr(viewer, "window", None)
    qt_viewer = getattr(window, "_qt_viewer", None)
    canvas = getattr(qt_viewer, "canvas", None)
    visuals = getattr(canvas, "layer_to_visual", None)
    if not isinstance(visuals, dict):
        return None
    vispy_layer = visuals.get(layer)
    node = getattr(vispy_layer, "node", None)
    return getattr(node, "text", None)


def outline_labels(viewer: napari.Viewer, layers: Any = None) -> int:
    """Put the halo on the labels of napari-recist's layers; returns how many layers.

    A layer whose visual napari has not made yet is looked at again once Qt has handled
    the events in hand (napari makes it in its own handler of the layer's insertion).

    Parameters
    ----------
    viewer
        The viewer (its canvas holds the visuals).
    layers
        The layers to look at (default: all of the viewer's).
    """
    outlined = 0
    waiting = []
    for layer in list(viewer.layers if layers is None else layers):
        if not is_own_layer(layer) or not hasattr(layer, "text"):
            continue  # images; another plugin's layers
        visual = layer_text_visual(viewer, layer)
        if visual is None:
            waiting.append(layer)
            continue
        try:
            outlined += outline_text_visual(visual)
        except Exception:  # a vispy that changed: the labels keep napari's look
            _LOG.warning("could not draw a halo round the labels of %s", layer.name,
                         exc_info=True)
    if waiting and layers is not None:
        return outlined  # already the second look
    if waiting:
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, lambda: outline_labels(viewer, [
            layer for layer in waiting if layer in viewer.layers]))
    return outlined


def keep_labels_outlined(viewer: napari.Viewer) -> None:
    """Outline the labels of napari-recist's layers now and of every layer added later.

    Idempotent per viewer. The handler of layer insertions is connected last, after the
    one in which napari makes the layer's visual.
    """
    from napari_recist._napari.binding import unwrap

    real = unwrap(viewer)
    outline_labels(real)
    hooked = _HOOKED.get(id(real))
    if hooked is not None and hooked() is real:
        return
    _HOOKED[id(real)] = weakref.ref(real)

    def _inserted(event: Any) -> None:
        outline_labels(real)

    real.layers.events.inserted.connect(_inserted, position="last")
