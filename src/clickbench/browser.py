"""The results browser: every evaluated image, every click, every candidate mask, in a web page.

``results/<dataset>/browser/`` is a static site that opens straight from disk (``file://``,
no server, nothing from the network)::

    index.html  browser.js  browser.css   the page and its code (copied from browser_static/)
    index.js                              the table: every sample's curves, NoC, SAM's gap
    samples/<class_slug>/<image>.js       one sample: photo, ground truth, every mask

Browsers refuse ``fetch()`` of local files, so every data file is a script that hands its
payload to ``CB.index(...)`` / ``CB.sample(...)``; a sample's file is loaded (one
``<script>`` tag) only when that sample is opened. Everything is built from the saved
per-image traces (``runs/<protocol>/<model>/<class_slug>/<image>.npz`` and ``.tsv``,
``docs/internals.md``) and the dataset's image and mask files: no model runs.

A sample's payload (:func:`sample_payload`), sizes ``(h, w)`` downscaled to at most
:data:`SHOWN_MAX_SIDE` pixels a side:

- ``photo``: the image as a JPEG ``data:`` URI;
- ``masks``: every distinct downscaled mask of the sample (ground truth first, then the
  ignore band if any, then every candidate of every run at every click), stacked
  ``(N, h, w)``, ``np.packbits`` over the flattened stack, zlib-compressed, base64
  (``masks_n`` masks); the page inflates it with the browser's ``DecompressionStream``;
- ``runs``: one per (protocol, model, strategy) with the clicks (``row, col, positive`` in the
  image's own pixels), and per click the candidates' mask indices, scores and IoUs, the
  kept (``chosen``) and the best multimask candidate.

:func:`composite` is the page's drawing arithmetic in numpy (``browser.js`` ``paint``): the
tests compare what Chromium draws against it.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from clickbench import row_io, study, tables
from clickbench.atomic import write_atomic
from clickbench.datasets import slug
from clickbench.outputs import BROWSED_PROTOCOLS
from clickbench.traces import SINGLE_LOOP_PROTOCOLS, load_traces

#: the longest side of every picture in the browser, pixels
SHOWN_MAX_SIDE = 320
#: JPEG quality of the downscaled photo
JPEG_QUALITY = 85
#: the page's static files, copied next to the data
STATIC = Path(__file__).with_name("browser_static")
ASSETS = ("index.html", "browser.js", "browser.css")
#: where the browser lives, relative to ``results/<dataset>/`` (summary.md links it)
INDEX = "browser/index.html"
#: decimals kept for IoUs and scores in the page's data
DECIMALS = 4

#: drawing: the dimmed grey photo under masks (as :func:`clickbench.panels.overlay`), the
#: mask tint, the ground truth's tint and outline, the ignore band's tint
GREY_FACTOR = 0.75
MASK_COLOR = (0, 114, 178)
MASK_ALPHA = 0.55
GT_COLOR = (240, 228, 66)
IGNORE_COLOR = (128, 128, 128)


# ---------------------------------------------------------------- pictures
def shown_size(shape: Sequence[int], max_side: int = SHOWN_MAX_SIDE) -> tuple[int, int]:
    """(h, w) an image of ``shape`` (H, W, ...) is shown at: the longest side at most
    ``max_side``, aspect kept."""
    h, w = int(shape[0]), int(shape[1])
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def downscale_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: ``mask`` area-averaged to ``size``, a pixel set when half of it was."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape == tuple(size):
        return mask.copy()
    small = cv2.resize(mask.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return small >= 0.5


def downscale_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == tuple(size):
        return np.ascontiguousarray(image)
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def jpeg_uri(image: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def decode_photo(payload: Mapping) -> np.ndarray:
    """(h, w, 3) uint8: the payload's photo, decoded."""
    data = base64.b64decode(payload["photo"].split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def encode_masks(masks: np.ndarray) -> str:
    """(N, h, w) bool -> base64 of zlib(packbits(flattened))."""
    bits = np.packbits(np.asarray(masks, dtype=bool).ravel())
    return base64.b64encode(zlib.compress(bits.tobytes(), 9)).decode("ascii")


def decode_masks(payload: Mapping) -> np.ndarray:
    """(N, h, w) bool: the payload's masks (:func:`encode_masks` inverted)."""
    h, w = payload["shown"]
    n = int(payload["masks_n"])
    raw = np.frombuffer(zlib.decompress(base64.b64decode(payload["masks"])), dtype=np.uint8)
    return np.unpackbits(raw, count=n * h * w).astype(bool).reshape(n, h, w)


def edge(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` with a 4-neighbour outside it (the picture's border does not
    count), as ``browser.js`` outlines the ground truth."""
    m = np.asarray(mask, dtype=bool)
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    return m & ~inner


def composite(
    photo: np.ndarray,
    fills: Sequence[tuple[np.ndarray, Sequence[int], float]] = (),
    *,
    grey: bool = True,
    outline: np.ndarray | None = None,
) -> np.ndarray:
    """What ``browser.js`` paints before it draws the clicks: the photo (dimmed grey with
    ``grey``: ``GREY_FACTOR`` x luma), each ``(mask, rgb, alpha)`` of ``fills`` blended over it
    in turn, then ``outline``'s :func:`edge` in :data:`GT_COLOR`. Computed in float64 and
    rounded half up once per layer, as the page does. (h, w, 3) uint8."""
    out = np.asarray(photo, dtype=np.float64)
    if grey:
        luma = out @ np.array([0.299, 0.587, 0.114])
        out = np.repeat(np.floor(luma * GREY_FACTOR + 0.5)[..., None], 3, axis=2)
    for mask, color, alpha in fills:
        m = np.asarray(mask, dtype=bool)
        c = np.asarray(color, dtype=np.float64)
        out[m] = np.floor(out[m] * (1 - alpha) + c * alpha + 0.5)
    if outline is not None:
        out[edge(outline)] = GT_COLOR
    return out.astype(np.uint8)


# ---------------------------------------------------------------- one sample
def _round(values, decimals: int = DECIMALS) -> list:
    """Floats rounded for the page, NaN as None (JSON null)."""
    out = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        out.append(None if math.isnan(v) else round(float(v), decimals))
    return out


class _MaskBank:
    """Distinct downscaled masks in the order first seen; ``add`` returns the index."""

    def __init__(self, size: tuple[int, int]):
        self.size = size
        self.masks: list[np.ndarray] = []
        self.index: dict[bytes, int] = {}
        #: (npz, loop name) -> its candidates' indices (:func:`_candidates`)
        self.loops: dict[tuple, list[list[int]]] = {}

    def add(self, mask: np.ndarray) -> int:
        small = downscale_mask(mask, self.size)
        key = np.packbits(small).tobytes()
        if key not in self.index:
            self.index[key] = len(self.masks)
            self.masks.append(small)
        return self.index[key]


def _candidates(bank: _MaskBank, key: tuple, loop) -> list[list[int]]:
    """(K, C) mask indices of every candidate of ``loop`` (named ``key``) at every click,
    added to ``bank`` once per loop (a re-scored single loop serves every strategy).
    Candidate-major: one candidate's masks at successive clicks lie side by side in the
    stack, where they compress best."""
    cached = bank.loops.get(key)
    if cached is None:
        n_steps, n_cand = loop.masks.shape[:2]
        cached = [[0] * n_cand for _ in range(n_steps)]
        for c in range(n_cand):
            for step in range(n_steps):
                cached[step][c] = bank.add(loop.masks[step, c])
        bank.loops[key] = cached
    return cached


def run_key(protocol: str, model: str, strategy: str) -> str:
    return f"{protocol}/{model}/{strategy}"


def sample_payload(
    sample: Mapping,
    runs: Iterable[tuple[str, str, str | Path, str | Path]],
    max_side: int = SHOWN_MAX_SIDE,
) -> dict:
    """The payload of one sample's page (see the module docstring).

    sample: ``cls``, ``image`` (id), ``image_path``, ``mask_path``, ``layout``.
    runs:   ``(protocol, model, npz, tsv)`` of every saved trace of the image; each strategy
            of the ``.tsv`` becomes one run (``noc``: its own loop; ``first_click``/``replay``:
            the one loop, kept candidate as the ``.tsv``'s ``chosen``).
    """
    from clickbench import datasets

    image = datasets.load_image(sample["image_path"])
    layout = sample["layout"]
    instance = datasets.instance_of(sample["image"], layout)  # the object, in instance layouts
    gt, ignore = datasets.load_ground_truth(sample["mask_path"], layout, image.shape, instance)
    size = shown_size(image.shape, max_side)
    bank = _MaskBank(size)
    gt_index = bank.add(gt)
    ignore_index = bank.add(ignore) if ignore is not None and ignore.any() else None
    out_runs = []
    for protocol, model, npz, tsv in sorted(runs, key=lambda r: (r[0], r[1])):
        if protocol not in BROWSED_PROTOCOLS:
            raise ValueError(f"{npz}: the browser shows {BROWSED_PROTOCOLS}, not {protocol!r}")
        traces = load_traces(npz)
        rows = row_io.read_rows([tsv], "")
        for strategy in sorted(set(rows["strategy"])):
            mine = rows[rows["strategy"] == strategy].sort_values("click")
            if protocol in SINGLE_LOOP_PROTOCOLS:
                ((name, loop),) = traces.items()
            elif strategy in traces:
                name, loop = strategy, traces[strategy]
            else:
                raise ValueError(f"{npz}: no loop {strategy!r} for the {tsv} rows")
            k = len(mine)
            if k > loop.n_clicks:
                raise ValueError(f"{tsv}: {k} clicks of {strategy}, {npz} holds {loop.n_clicks}")
            chosen = mine["chosen"].astype(int).tolist()
            cand = [row[:] for row in _candidates(bank, (str(npz), name), loop)[:k]]
            out_runs.append(
                {
                    "key": run_key(protocol, model, strategy),
                    "protocol": protocol,
                    "model": model,
                    "strategy": strategy,
                    "clicks": np.asarray(loop.clicks[:k], dtype=int).tolist(),
                    "chosen": chosen,
                    "best": mine["best"].astype(int).tolist(),
                    "candidates": cand,
                    "scores": [_round(loop.scores[s]) for s in range(k)],
                    "ious": [_round(loop.ious[s]) for s in range(k)],
                    "multi": [int(m) for m in loop.multi],
                    "single": int(loop.single),
                }
            )
    stack = np.stack(bank.masks)
    return {
        "id": f"{slug(sample['cls'])}/{sample['image']}",
        "class": sample["cls"],
        "image": sample["image"],
        "size": [int(image.shape[0]), int(image.shape[1])],
        "shown": [int(size[0]), int(size[1])],
        "photo": jpeg_uri(downscale_image(image, size)),
        "gt": gt_index,
        "ignore": ignore_index,
        "masks_n": int(len(stack)),
        "masks": encode_masks(stack),
        "runs": out_runs,
    }


def _publish(path: str | Path, text: str) -> None:
    """Write ``text`` atomically, readable as the umask allows (a temporary file is 0600)."""
    write_atomic(path, lambda fh: fh.write(text), text=True)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _script(call: str, payload: Mapping) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return f"{call}({text});\n"


def _unscript(path: str | Path, call: str) -> dict:
    text = Path(path).read_text(encoding="utf-8")
    prefix = f"{call}("
    if not text.startswith(prefix) or not text.rstrip().endswith(");"):
        raise ValueError(f"{path}: not a clickbench browser data file ({call}(...);)")
    return json.loads(text[len(prefix) : text.rstrip().rindex(")")])


def write_sample(path: str | Path, payload: Mapping) -> None:
    """Write a sample's data file ``CB.sample({...});`` atomically."""
    _publish(path, _script("CB.sample", payload))


def read_sample(path: str | Path) -> dict:
    """The payload of a sample file :func:`write_sample` wrote."""
    return _unscript(path, "CB.sample")


def sample_file(cls: str, image: str) -> str:
    """A sample's data file, relative to the browser folder."""
    return f"samples/{slug(cls)}/{image}.js"


# ---------------------------------------------------------------- the table
def index_payload(rows: pd.DataFrame, settings: study.Settings, dataset: str) -> dict:
    """The table of every evaluated sample, from the per-image rows marked with dedup's
    selection (:func:`clickbench.row_io.read_marked_rows`): per sample and run its IoU after
    every click (carried forward to the protocol's horizon), its NoC at every threshold
    (multi-click protocols) and SAM's ambiguity gap (``first_click``, ``max_score``: best
    multimask candidate's IoU minus the kept one's)."""
    rows = rows[rows["protocol"].isin(BROWSED_PROTOCOLS)]
    rows = study.with_methods(rows.drop(columns=["dataset"], errors="ignore"))
    keys = ["protocol", "model", "strategy"]
    methods, horizon = [], {}
    for (protocol, model, strategy), sub in rows.groupby(keys, sort=True):
        horizon[protocol] = settings.horizon(protocol, rows)
        methods.append(
            {
                "key": run_key(protocol, model, strategy),
                "protocol": protocol,
                "model": model,
                "strategy": strategy,
                "label": f"{protocol}: {sub['method'].iloc[0]}",
                "clicks": horizon[protocol],
                "multi_click": protocol in study.MULTI_CLICK,
                "sam": settings.is_sam(model),
            }
        )
    samples = []
    flags = ["selected", "index_pick"]
    for (cls, image), sub in rows.groupby(["class", "image"], sort=True):
        entry = {
            "id": f"{slug(cls)}/{image}",
            "class": cls,
            "image": image,
            "file": sample_file(cls, image),
            **{f: int(sub[f].iloc[0]) if f in sub else 1 for f in flags},
            "curves": {},
            "noc": {},
            "gap": {},
        }
        for (protocol, model, strategy), loop in sub.groupby(keys, sort=True):
            loop = loop.sort_values("click")
            curve = loop["iou"].to_numpy(dtype=np.float32)
            key = run_key(protocol, model, strategy)
            entry["curves"][key] = _round(curve)
            if protocol in study.MULTI_CLICK:
                entry["noc"][key] = [_noc(curve, t, horizon[protocol]) for t in settings.thresholds]
            if protocol == "first_click" and strategy == "max_score":
                first = loop.iloc[0]
                entry["gap"][model] = _round([first["best_iou"] - first["iou"]])[0]
        samples.append(entry)
    return {
        "dataset": dataset,
        "thresholds": [float(t) for t in settings.thresholds],
        "methods": methods,
        "gap_models": sorted({m for s in samples for m in s["gap"]}),
        "samples": samples,
    }


def _noc(curve: np.ndarray, threshold: float, max_clicks: int) -> list:
    """``[NoC, failed]`` of one curve: RITM's NoC (``max_clicks`` when never reached) and
    1 when it never reaches ``threshold`` (NoF)."""
    from clickbench import metrics

    return [
        int(metrics.noc_per_image([curve], threshold, max_clicks)[0]),
        metrics.nof([curve], threshold, max_clicks),
    ]


def index_table(payload: Mapping) -> pd.DataFrame:
    """The index as a table (``browser/samples.tsv``): per sample its class, image, selection
    flags, each run's IoU after its last click (``<run> iou``), NoC at every threshold
    (``<run> noc@<t>``, the horizon when never reached) and SAM's gap (``<model> gap``)."""
    records = []
    for s in payload["samples"]:
        rec = {
            "class": s["class"],
            "image": s["image"],
            "selected": s["selected"],
            "index_pick": s["index_pick"],
        }
        for m in payload["methods"]:
            curve = s["curves"].get(m["key"])
            rec[f"{m['key']} iou"] = np.nan if not curve else curve[-1]
            if m["multi_click"]:
                for t, noc in zip(
                    payload["thresholds"], s["noc"].get(m["key"]) or [], strict=False
                ):
                    rec[f"{m['key']} noc@{tables.threshold_label(t)}"] = noc[0]
        for model in payload["gap_models"]:
            rec[f"{model} gap"] = s["gap"].get(model, np.nan)
        records.append(rec)
    return pd.DataFrame.from_records(records)


def write_index(out_dir: str | Path, payload: Mapping) -> None:
    """Write ``index.js`` and copy the page's static files into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        if name != "index.html":
            shutil.copyfile(STATIC / name, out_dir / name)
    _publish(out_dir / "index.js", _script("CB.index", payload))
    # the page last: a reader who sees index.html sees everything it loads
    _publish(out_dir / "index.html", (STATIC / "index.html").read_text(encoding="utf-8"))


def read_index(path: str | Path) -> dict:
    """The payload of an ``index.js`` :func:`write_index` wrote."""
    return _unscript(path, "CB.index")


__all__ = [
    "INDEX",
    "SHOWN_MAX_SIDE",
    "composite",
    "decode_masks",
    "decode_photo",
    "edge",
    "index_payload",
    "index_table",
    "read_index",
    "read_sample",
    "sample_file",
    "sample_payload",
    "shown_size",
    "write_index",
    "write_sample",
]
