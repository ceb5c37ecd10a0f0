"""A click loop's record: the :class:`Trace`, its ``.npz`` file and its per-image TSV rows.

:mod:`clickbench.protocols` runs the loops; this module holds what they leave behind, and the
names every reader shares (protocols, loop names, columns)::

    save_traces("00001.npz", traces)                  # {loop name: Trace}
    traces = load_traces("00001.npz")
    rows = trace_rows(traces, protocol="noc", model="sam_vit_h", cls="Shrimp",
                      image="00001", strategies=["max_score", "oracle"])
    write_rows_tsv("00001.tsv", rows)

Loops are named by their strategy; a trial protocol's loops ``<strategy>~<trial>``
(:func:`trial_loop`); a single-loop protocol's one loop :data:`DRIVING_STRATEGY`. A loop's
boundary IoU of every candidate is kept; its timings (``Trace.seconds``) are not saved in the
``.npz``, so that it stays byte-for-byte reproducible (the runner writes them apart). The
``.npz`` keys are ``<loop>.<field>`` (docs/internals.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickbench.atomic import write_atomic
from clickbench.clicks import Click, clicks_from_array
from clickbench.masks import pack, save_npz_atomic, unpack
from clickbench.models.base import Prediction
from clickbench.selection import select

#: protocols that run one loop per image and re-score it with every strategy
SINGLE_LOOP_PROTOCOLS = frozenset({"first_click", "replay"})
#: protocols that run ``trials`` seeded loops per strategy
TRIAL_PROTOCOLS = ("random_clicks", "perturbed")
#: every protocol, in the order a model job runs them (the study's three first, unchanged)
PROTOCOLS = ("noc", "first_click", "replay", "box", *TRIAL_PROTOCOLS)
#: the protocol whose first step is a box, not a click: its rows count clicks after the box
BOX_PROTOCOL = "box"
#: separates a trial loop's strategy from its trial number in loop names
TRIAL_SEP = "~"
#: the strategy that drives a single-loop protocol, and the loop name it is saved under
DRIVING_STRATEGY = "max_score"

#: per-image TSV columns, in this order
COLUMNS = (
    "class",
    "image",
    "protocol",
    "model",
    "strategy",
    "trial",
    "click",
    "iou",
    "biou",
    "best_iou",
    "score",
    "chosen",
    "best",
    "positive",
    "row",
    "col",
)
#: columns the rows are sorted by
SORT_KEY = ("class", "image", "protocol", "model", "strategy", "trial", "click")


@dataclass
class Trace:
    """Everything one loop on one image produced, as stored in the ``.npz``.

    clicks: (K, 3) int32, (row, col, positive 0/1) per click, oldest first.
    masks:  (K, C, H, W) bool, every candidate after every click.
    scores: (K, C) float32, the model's own score per candidate.
    ious:   (K, C) float32, IoU of every candidate against ground truth (ignore-aware).
    chosen: (K,) int16, the candidate the loop's strategy kept after each click.
    multi:  (M,) int16, the candidates ``max_score``/``oracle`` choose among.
    single: int, the single-output candidate, -1 if the model has none.
    logits: (K, C, 256, 256) float16 low-resolution logits, or None (not kept).
    bious:  (K, C) float32 boundary IoU of every candidate (ignore-aware).
    box:    (4,) int32 (top, left, bottom, right) inclusive, the box prompt of every step
            (protocol ``box``), or None. Then step 0 had the box alone and ``clicks`` holds
            the K - 1 clicks that followed it.
    seconds: (K,) float64 wall-clock seconds of each model call, or None (not saved).
    """

    clicks: np.ndarray
    masks: np.ndarray
    scores: np.ndarray
    ious: np.ndarray
    chosen: np.ndarray
    multi: np.ndarray
    single: int = -1
    logits: np.ndarray | None = None
    bious: np.ndarray | None = None
    box: np.ndarray | None = None
    seconds: np.ndarray | None = None

    @property
    def n_steps(self) -> int:
        """Model calls in this loop (clicks, plus one for a box)."""
        return int(len(self.ious))

    @property
    def n_clicks(self) -> int:
        return int(len(self.clicks))

    @property
    def curve(self) -> np.ndarray:
        """(K,) float32 IoU of the kept candidate after each step."""
        return self.ious[np.arange(self.n_steps), self.chosen.astype(np.intp)]

    @property
    def boundary_curve(self) -> np.ndarray:
        """(K,) float32 boundary IoU of the kept candidate after each step."""
        return self.bious[np.arange(self.n_steps), self.chosen.astype(np.intp)]

    def click_list(self) -> list[Click]:
        return clicks_from_array(self.clicks)

    def prediction(self, k: int) -> Prediction:
        """Step ``k`` (0-based) as a :class:`Prediction` (views, no copies)."""
        return Prediction(
            masks=self.masks[k],
            scores=self.scores[k],
            logits=None if self.logits is None else self.logits[k],
            multi=tuple(int(i) for i in self.multi),
            single=None if self.single < 0 else int(self.single),
        )

    def rescore(self, strategy: str) -> np.ndarray:
        """(K,) int16: the candidate ``strategy`` would keep at each step of this loop."""
        return np.asarray(
            [
                select(self.prediction(k), strategy, self.ious[k], k + 1)
                for k in range(self.n_steps)
            ],
            dtype=np.int16,
        )

    def best(self) -> np.ndarray:
        """(K,) int16: the multimask candidate with the best IoU at each step (``oracle``)."""
        return self.rescore("oracle")


def trial_loop(strategy: str, trial: int) -> str:
    """The name of trial ``trial`` of ``strategy``'s loops: ``max_score~0``."""
    return f"{strategy}{TRIAL_SEP}{trial}"


def split_loop(name: str) -> tuple[str, int]:
    """A loop name -> (strategy, trial); trial 0 for a loop of a protocol without trials."""
    strategy, sep, trial = name.partition(TRIAL_SEP)
    return strategy, int(trial) if sep else 0


# --------------------------------------------------------------------------- on disk


def save_traces(path: str | Path, traces: dict[str, Trace]) -> None:
    """Write loops to one ``.npz`` atomically, keys ``<loop>.<field>`` (docs/internals.md);
    masks as packed bits (``<loop>.bits``, ``<loop>.shape``)."""
    arrays: dict[str, np.ndarray] = {}
    for name, t in traces.items():
        if not name or "." in name:
            raise ValueError(f"loop name {name!r} must be non-empty and without '.'")
        packed = pack(t.masks)
        arrays[f"{name}.clicks"] = np.asarray(t.clicks, dtype=np.int32).reshape(-1, 3)
        arrays[f"{name}.bits"] = packed["bits"]
        arrays[f"{name}.shape"] = packed["shape"]
        arrays[f"{name}.scores"] = np.asarray(t.scores, dtype=np.float32)
        arrays[f"{name}.ious"] = np.asarray(t.ious, dtype=np.float32)
        arrays[f"{name}.chosen"] = np.asarray(t.chosen, dtype=np.int16)
        arrays[f"{name}.multi"] = np.asarray(t.multi, dtype=np.int16)
        arrays[f"{name}.single"] = np.asarray(t.single, dtype=np.int16)
        arrays[f"{name}.bious"] = np.asarray(t.bious, dtype=np.float32)
        if t.box is not None:
            arrays[f"{name}.box"] = np.asarray(t.box, dtype=np.int32).reshape(4)
        if t.logits is not None:
            arrays[f"{name}.logits"] = np.asarray(t.logits, dtype=np.float16)
    save_npz_atomic(path, **arrays)


def load_traces(path: str | Path) -> dict[str, Trace]:
    """Read the loops :func:`save_traces` wrote, keyed by loop name (file order)."""
    with np.load(path) as data:
        fields: dict[str, dict[str, np.ndarray]] = {}
        for key in data.files:
            name, _, field = key.partition(".")
            fields.setdefault(name, {})[field] = data[key]
    traces = {}
    for name, f in fields.items():
        missing = {
            "clicks", "bits", "shape", "scores", "ious", "bious", "chosen", "multi", "single"
        } - set(f)  # fmt: skip
        if missing:
            raise ValueError(f"{path}: loop {name!r} lacks {', '.join(sorted(missing))}")
        traces[name] = Trace(
            clicks=f["clicks"],
            masks=unpack(f["bits"], f["shape"]),
            scores=f["scores"],
            ious=f["ious"],
            chosen=f["chosen"],
            multi=f["multi"],
            single=int(f["single"]),
            logits=f.get("logits"),
            bious=f["bious"],
            box=f.get("box"),
        )
    return traces


# --------------------------------------------------------------------------- rows


def trace_rows(
    traces: dict[str, Trace],
    *,
    protocol: str,
    model: str,
    cls: str,
    image: str,
    strategies: Sequence[str],
) -> list[dict]:
    """Per-image TSV rows, one per (strategy, trial, step), columns :data:`COLUMNS`.

    ``noc``, ``box``: strategy ``s`` reads loop ``traces[s]``. ``random_clicks``,
    ``perturbed``: loops ``s~t`` give trial ``t``. ``first_click``/``replay``: the one loop is
    re-scored with every strategy. ``trial`` is 0 outside the trial protocols.
    ``iou``/``biou``/``score``/``chosen`` are the kept candidate's (``biou``: boundary IoU),
    ``best_iou``/``best`` the best multimask candidate's by true IoU.
    ``click`` counts the clicks so far (1, 2, ...); in ``box`` it counts the clicks after the
    box, so the box alone is click 0, with ``positive``, ``row``, ``col`` -1 (the box is in the
    ``.npz``). ``box`` with no loops (the model takes no box) gives no rows.
    """
    if protocol in SINGLE_LOOP_PROTOCOLS:
        if len(traces) != 1:
            raise ValueError(f"protocol {protocol} has one loop per image, got {sorted(traces)}")
        (loop,) = traces.values()
        pairs = [(s, 0, loop, loop.rescore(s)) for s in dict.fromkeys(strategies)]
    elif protocol in ("noc", BOX_PROTOCOL):
        pairs = []
        for s in dict.fromkeys(strategies):
            if s not in traces:
                if protocol == BOX_PROTOCOL and not traces:
                    continue
                raise KeyError(f"no {s!r} loop among {sorted(traces)}")
            pairs.append((s, 0, traces[s], traces[s].chosen))
    elif protocol in TRIAL_PROTOCOLS:
        wanted = set(strategies)
        pairs = []
        for name, trace in traces.items():
            s, t = split_loop(name)
            if s in wanted:
                pairs.append((s, t, trace, trace.chosen))
        missing = wanted - {p[0] for p in pairs}
        if missing:
            raise KeyError(f"no trial loops of {sorted(missing)} among {sorted(traces)}")
    else:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    rows = []
    for strategy, trial, trace, chosen in pairs:
        best = trace.best()
        boxed = trace.box is not None
        for k in range(trace.n_steps):
            c, b = int(chosen[k]), int(best[k])
            if boxed and k == 0:
                row = col = positive = -1
            else:
                row, col, positive = (int(v) for v in trace.clicks[k - boxed])
            rows.append(
                {
                    "class": cls,
                    "image": image,
                    "protocol": protocol,
                    "model": model,
                    "strategy": strategy,
                    "trial": trial,
                    "click": k + (not boxed),
                    "iou": float(trace.ious[k, c]),
                    "biou": float(trace.bious[k, c]),
                    "best_iou": float(trace.ious[k, b]),
                    "score": float(trace.scores[k, c]),
                    "chosen": c,
                    "best": b,
                    "positive": positive,
                    "row": row,
                    "col": col,
                }
            )
    return rows


def _cell(value) -> str:
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        return "nan" if math.isnan(value) else f"{value:.6g}"
    text = str(value)
    if "\t" in text or "\n" in text:
        raise ValueError(f"a TSV cell cannot hold a tab or newline: {text!r}")
    return text


def format_rows_tsv(rows: Iterable[dict], columns: Sequence[str] = COLUMNS) -> str:
    """Rows as TSV text: a header, then rows sorted by :data:`SORT_KEY`, floats ``%.6g``."""
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in SORT_KEY if k in columns))
    lines = ["\t".join(columns)]
    lines += ["\t".join(_cell(r[c]) for c in columns) for r in rows]
    return "\n".join(lines) + "\n"


def write_rows_tsv(
    path: str | Path, rows: Iterable[dict], columns: Sequence[str] = COLUMNS
) -> None:
    """Write :func:`format_rows_tsv` atomically; the same rows always give the same bytes."""
    text = format_rows_tsv(rows, columns)
    write_atomic(path, lambda fh: fh.write(text), text=True)


__all__ = [
    "BOX_PROTOCOL",
    "COLUMNS",
    "DRIVING_STRATEGY",
    "PROTOCOLS",
    "SINGLE_LOOP_PROTOCOLS",
    "SORT_KEY",
    "TRIAL_PROTOCOLS",
    "TRIAL_SEP",
    "Trace",
    "format_rows_tsv",
    "load_traces",
    "save_traces",
    "split_loop",
    "trace_rows",
    "trial_loop",
    "write_rows_tsv",
]
