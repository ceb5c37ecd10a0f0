"""A user's own model for clickbench, wrapped in a few dozen lines (config ``type: python``).

A nearest-colour classifier: each pixel joins the object when its colour (CIE Lab) is closer
to the mean colour under the positive clicks than to the mean under the negative clicks (or,
before any negative click, to the image's mean colour); only the parts connected to a
positive click are kept. Not a good model: a template for wrapping yours. Use it with::

    models:
      color:
        type: python
        factory: "color_model:build"
        path: examples
        options: {radius: 3}

``build`` receives the model's config block (and the run's device, precision, cache folder)
and returns an :class:`~clickbench.models.base.InteractiveModel`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab

from clickbench.models.base import InteractiveModel, Prediction


class ColorModel(InteractiveModel):
    name = "color"

    def __init__(self, radius: int = 3):
        self.radius = radius

    def set_image(self, image):
        self.lab = rgb2lab(np.asarray(image))  # the "encoding": once per image

    def _mean_under(self, clicks):
        h, w = self.lab.shape[:2]
        r = self.radius
        patches = [
            self.lab[max(c.row - r, 0) : c.row + r + 1, max(c.col - r, 0) : c.col + r + 1]
            for c in clicks
        ]
        return np.concatenate([p.reshape(-1, 3) for p in patches]).mean(axis=0)

    def predict(self, clicks, previous=None, previous_choice=None):
        pos = [c for c in clicks if c.positive]
        neg = [c for c in clicks if not c.positive]
        mask = np.zeros(self.lab.shape[:2], dtype=bool)
        if pos:
            fg = self._mean_under(pos)
            bg = self._mean_under(neg) if neg else self.lab.reshape(-1, 3).mean(axis=0)
            d_fg = np.linalg.norm(self.lab - fg, axis=2)
            d_bg = np.linalg.norm(self.lab - bg, axis=2)
            labels, _ = ndimage.label(d_fg < d_bg)
            keep = {labels[c.row, c.col] for c in pos} - {0}
            mask = np.isin(labels, sorted(keep))
        return Prediction(masks=mask[None], scores=np.ones(1, dtype=np.float32))


def build(spec, *, device="cpu", precision="fp32", cache_dir=None):
    return ColorModel(**(spec.get("options") or {}))
