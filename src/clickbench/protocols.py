"""The evaluation loop, its traces on disk, and the per-image rows of the results table.

One *loop* on one image: click, predict, keep one candidate, score, repeat::

    model.set_image(image)                      # the caller, once per image
    traces = run_noc(model, gt, ignore, ["max_score", "oracle"], max_clicks=20)
    save_traces("00001.npz", traces)
    rows = trace_rows(traces, protocol="noc", model="sam_vit_h", cls="Shrimp",
                      image="00001", strategies=["max_score", "oracle"])
    write_rows_tsv("00001.tsv", rows)

Protocols (see ``docs/internals.md``):

- ``noc``: every strategy is its own loop (the next click depends on the mask kept), with
  RITM's click simulator; clicks 1..max_clicks, stopping early only at ``target_iou``.
- ``first_click``: one loop of one click, the simulator's first click on an empty
  prediction, which is RITM's first click (the study's protocol for SAM).
- ``replay``: one loop fed another run's clicks 1..k for every k (the study's next step: SAM
  given RITM's clicks).
- ``box``: one loop per strategy that starts from the ground-truth box (optionally jittered,
  seeded), then adds RITM's simulated clicks; only models with ``supports_box`` run it (the
  others get no loop, and the tables say "not applicable").
- ``random_clicks``: ``trials`` loops per strategy; every click drawn uniformly, seeded, from
  the larger error region (:func:`clickbench.prompts.random_click`).
- ``perturbed``: ``trials`` loops per strategy; RITM's simulated clicks displaced by seeded
  Gaussian noise, kept inside their region (:func:`clickbench.prompts.perturbed_click`).

A trial protocol's loops are named ``<strategy>~<trial>``; every other loop by its strategy.
Seeds come from :func:`clickbench.prompts.image_rng` (config seed, class, image, trial).
Besides IoU, every candidate's boundary IoU (:func:`clickbench.metrics.boundary_iou_batch`)
is kept at every step, and the loop times each model call (``Trace.seconds``, not saved in
the ``.npz`` so that it stays byte-for-byte reproducible; the runner writes the timings apart).

The single-loop protocols are driven by ``max_score`` and every strategy re-scores that
loop's candidates afterwards. With a model that feeds its kept mask back (SAM with
``mask_input``) that re-scoring keeps ``max_score``'s history: the other strategies' rows
are then "this step's choice given max_score's past", not a loop of their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickbench import prompts
from clickbench.atomic import write_atomic
from clickbench.clicks import Click, clicks_array, clicks_from_array, next_click
from clickbench.masks import pack, save_npz_atomic, unpack
from clickbench.metrics import boundary_iou_batch, boundary_width, iou_batch, mask_to_boundary
from clickbench.models.base import InteractiveModel, Prediction
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


def _check_prediction(pred: Prediction, shape: tuple[int, int], first: Prediction | None) -> None:
    masks = np.asarray(pred.masks)
    if masks.ndim != 3 or masks.shape[1:] != shape or masks.dtype != bool:
        raise ValueError(
            f"model returned masks {masks.dtype}{masks.shape}; expected bool (C, {shape[0]}, {shape[1]})"
        )
    if np.shape(pred.scores) != (masks.shape[0],):
        raise ValueError(
            f"model returned scores of shape {np.shape(pred.scores)} for {masks.shape[0]} masks"
        )
    if first is not None and (
        masks.shape[0] != first.masks.shape[0]
        or tuple(pred.multi) != tuple(first.multi)
        or pred.single != first.single
    ):
        raise ValueError("model changed its number or kinds of candidates within one loop")


#: chooses a loop's next click: (kept mask or None, clicks so far) -> Click, or None to stop
ClickChooser = Callable[[np.ndarray | None, Sequence[Click]], Click | None]


def run_loop(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    *,
    strategy: str,
    max_clicks: int | None,
    target_iou: float | None = None,
    clicks: Sequence[Click] | None = None,
    keep_logits: bool = False,
    chooser: ClickChooser | None = None,
    box: prompts.Box | None = None,
) -> Trace:
    """Run one click loop on the image the model holds; return its :class:`Trace`.

    model:      an :class:`InteractiveModel` on which the caller already ran ``set_image``
                (once per image); this calls ``model.reset()`` first.
    gt:         (H, W) bool ground truth; ignore: (H, W) bool or None.
    strategy:   which candidate to keep after each click (:mod:`clickbench.selection`).
    max_clicks: clicks at most (None with ``clicks``: all of them).
    target_iou: stop after the first step whose kept IoU reaches it (None: never stop
                early). Compared in float64, as RITM's ``evaluate_sample``.
    clicks:     None to choose the clicks (``chooser``); given, feed clicks[:k] for k = 1, 2, ...
    keep_logits: store the model's low-resolution logits (float16) when it gives them.
    chooser:    picks each next click from the kept mask (None for the first) and the clicks
                so far; None is RITM's simulator (:func:`clickbench.clicks.next_click`). A
                chooser returning None ends the loop.
    box:        a box prompt given with every step (the model must ``supports_box``); step 0
                then has the box alone and ``max_clicks`` clicks follow it.
    """
    gt = np.asarray(gt, dtype=bool)
    if max_clicks is None:
        if clicks is None:
            raise ValueError("max_clicks is needed when clicks are simulated")
        max_clicks = len(clicks)
    n_steps = max_clicks if clicks is None else min(max_clicks, len(clicks))
    if box is not None:
        if not model.supports_box:
            raise ValueError(f"model {model.name} takes no box prompt")
        n_steps += 1
    if n_steps < 1:
        raise ValueError("a loop needs at least one click")
    if chooser is None:

        def chooser(kept, made):
            return next_click(gt, ignore, kept, made)

    width = boundary_width(gt.shape)
    gt_boundary = mask_to_boundary(gt, width)
    model.reset()
    made: list[Click] = []
    masks, scores, ious, bious, chosen, logits, seconds = [], [], [], [], [], [], []
    first: Prediction | None = None
    previous: Prediction | None = None
    kept_mask: np.ndarray | None = None
    choice: int | None = None
    for step in range(n_steps):
        if box is None or step > 0:
            if clicks is None:
                click = chooser(kept_mask, made)
                if click is None:
                    break
            else:
                c = clicks[step]
                click = Click(int(c[0]), int(c[1]), bool(c[2]))
            made.append(click)
        extra = {} if box is None else {"box": box}
        t0 = time.perf_counter()
        pred = model.predict(tuple(made), previous=previous, previous_choice=choice, **extra)
        seconds.append(time.perf_counter() - t0)
        _check_prediction(pred, gt.shape, first)
        if first is None:
            first = pred
        step_ious64 = iou_batch(gt, ignore, pred.masks)
        # choose on the float32 values that are stored, so re-scoring a saved trace agrees
        step_ious = step_ious64.astype(np.float32)
        choice = select(pred, strategy, step_ious, step + 1)
        masks.append(np.asarray(pred.masks, dtype=bool))
        scores.append(np.asarray(pred.scores, dtype=np.float32))
        ious.append(step_ious)
        bious.append(
            boundary_iou_batch(gt, ignore, pred.masks, gt_boundary=gt_boundary).astype(np.float32)
        )
        chosen.append(choice)
        if keep_logits and pred.logits is not None:
            logits.append(np.asarray(pred.logits, dtype=np.float16))
        previous, kept_mask = pred, pred.masks[choice]
        if target_iou is not None and step_ious64[choice] >= target_iou:
            break
    if not masks:
        raise ValueError("the loop found no click to make (no object pixel outside ignore)")
    return Trace(
        clicks=clicks_array(made),
        masks=np.stack(masks),
        scores=np.stack(scores),
        ious=np.stack(ious),
        chosen=np.asarray(chosen, dtype=np.int16),
        multi=np.asarray(first.multi, dtype=np.int16),
        single=-1 if first.single is None else int(first.single),
        logits=np.stack(logits) if logits and len(logits) == len(masks) else None,
        bious=np.stack(bious),
        box=None if box is None else np.asarray(box, dtype=np.int32),
        seconds=np.asarray(seconds, dtype=np.float64),
    )


def run_noc(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    strategies: Sequence[str],
    max_clicks: int = 20,
    target_iou: float | None = None,
    keep_logits: bool = False,
) -> dict[str, Trace]:
    """The ``noc`` protocol: one simulated loop per strategy, keyed by strategy name."""
    return {
        s: run_loop(
            model,
            gt,
            ignore,
            strategy=s,
            max_clicks=max_clicks,
            target_iou=target_iou,
            keep_logits=keep_logits,
        )
        for s in dict.fromkeys(strategies)
    }


def run_first_click(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    keep_logits: bool = False,
) -> dict[str, Trace]:
    """The ``first_click`` protocol: RITM's first click only (the farthest object pixel from
    the boundary, positive), one loop keyed ``max_score``."""
    trace = run_loop(
        model, gt, ignore, strategy=DRIVING_STRATEGY, max_clicks=1, keep_logits=keep_logits
    )
    return {DRIVING_STRATEGY: trace}


def run_replay(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    source_clicks: Sequence[Click] | np.ndarray,
    max_clicks: int | None = None,
    keep_logits: bool = False,
) -> dict[str, Trace]:
    """The ``replay`` protocol: clicks 1..k of another run for every k (all of them, or the
    first ``max_clicks``), one loop keyed ``max_score``."""
    source = [Click(int(c[0]), int(c[1]), bool(c[2])) for c in source_clicks]
    if not source:
        raise ValueError("replay needs at least one source click")
    trace = run_loop(
        model,
        gt,
        ignore,
        strategy=DRIVING_STRATEGY,
        max_clicks=max_clicks if max_clicks is not None else len(source),
        clicks=source,
        keep_logits=keep_logits,
    )
    return {DRIVING_STRATEGY: trace}


def trial_loop(strategy: str, trial: int) -> str:
    """The name of trial ``trial`` of ``strategy``'s loops: ``max_score~0``."""
    return f"{strategy}{TRIAL_SEP}{trial}"


def split_loop(name: str) -> tuple[str, int]:
    """A loop name -> (strategy, trial); trial 0 for a loop of a protocol without trials."""
    strategy, sep, trial = name.partition(TRIAL_SEP)
    return strategy, int(trial) if sep else 0


def run_box(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    strategies: Sequence[str],
    *,
    max_clicks: int = 0,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
    keep_logits: bool = False,
) -> dict[str, Trace]:
    """The ``box`` protocol: the ground-truth box (:func:`clickbench.prompts.box_of_mask`),
    jittered by ``jitter`` times its sides (:func:`clickbench.prompts.jitter_box`, one draw
    from ``rng`` per image shared by every strategy), then ``max_clicks`` of RITM's simulated
    clicks with the box kept. One loop per strategy; ``{}`` when the model takes no box."""
    if not model.supports_box:
        return {}
    box = prompts.box_of_mask(gt, ignore)
    if jitter > 0:
        if rng is None:
            raise ValueError("a jittered box needs a random generator")
        box = prompts.jitter_box(box, gt.shape, jitter, rng)
    return {
        s: run_loop(
            model, gt, ignore, strategy=s, max_clicks=max_clicks, box=box, keep_logits=keep_logits
        )
        for s in dict.fromkeys(strategies)
    }


def run_trials(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    strategies: Sequence[str],
    *,
    protocol: str,
    trials: int,
    rng_of: Callable[[int], np.random.Generator],
    max_clicks: int = 20,
    margin: float = 0.0,
    sigma: float = 0.0,
    keep_logits: bool = False,
) -> dict[str, Trace]:
    """``random_clicks`` or ``perturbed``: ``trials`` loops per strategy, named
    :func:`trial_loop`. Trial ``t`` draws from ``rng_of(t)`` (a fresh Generator per strategy,
    so every strategy of one trial starts from the same seed). ``margin``: random clicks'
    least distance from their region's boundary, pixels; ``sigma``: the perturbation's
    standard deviation, pixels."""
    if protocol not in TRIAL_PROTOCOLS:
        raise ValueError(f"{protocol!r} is not a trial protocol ({', '.join(TRIAL_PROTOCOLS)})")
    out = {}
    for t in range(int(trials)):
        for s in dict.fromkeys(strategies):
            rng = rng_of(t)
            if protocol == "random_clicks":

                def chooser(kept, made, rng=rng):
                    return prompts.random_click(gt, ignore, kept, made, rng, margin)
            else:

                def chooser(kept, made, rng=rng):
                    return prompts.perturbed_click(gt, ignore, kept, made, rng, sigma)

            out[trial_loop(s, t)] = run_loop(
                model,
                gt,
                ignore,
                strategy=s,
                max_clicks=max_clicks,
                chooser=chooser,
                keep_logits=keep_logits,
            )
    return out


def run_protocols(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    protocols: dict[str, dict],
    *,
    source_clicks: Sequence[Click] | None = None,
    keep_logits: bool = False,
    image_key: tuple[str, str] = ("", ""),
) -> dict[str, dict[str, Trace]]:
    """Every protocol one model runs on one image (``set_image`` done by the caller).

    protocols: protocol name -> its validated config block (``noc``: ``max_clicks``,
               ``target_iou``, ``strategies``; ``replay``: ``max_clicks``; ``box``:
               ``max_clicks``, ``jitter``, ``seed``, ``strategies``; ``random_clicks``:
               ``max_clicks``, ``trials``, ``margin``, ``seed``, ``strategies``;
               ``perturbed``: ``max_clicks``, ``trials``, ``sigma`` (a fraction of the image
               diagonal), ``seed``, ``strategies``); run in :data:`PROTOCOLS` order.
    source_clicks: the clicks ``replay`` feeds (the source model's ``max_score`` loop).
    image_key: (class, image id), which with a protocol's ``seed`` seeds its draws
               (:func:`clickbench.prompts.image_rng`).
    Returns protocol -> loops, as :func:`run_noc` / :func:`run_first_click` / :func:`run_replay`
    / :func:`run_box` / :func:`run_trials`.
    """
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocol(s) {sorted(unknown)}; known: {', '.join(PROTOCOLS)}")
    cls, image = image_key
    out: dict[str, dict[str, Trace]] = {}
    for name in PROTOCOLS:
        if name not in protocols:
            continue
        block = protocols[name] or {}
        strategies = block.get("strategies") or [DRIVING_STRATEGY]
        if name == "noc":
            out[name] = run_noc(
                model,
                gt,
                ignore,
                strategies,
                max_clicks=int(block.get("max_clicks", 20)),
                target_iou=block.get("target_iou"),
                keep_logits=keep_logits,
            )
        elif name == "first_click":
            out[name] = run_first_click(model, gt, ignore, keep_logits=keep_logits)
        elif name == "replay":
            if source_clicks is None:
                raise ValueError("protocol replay needs the source model's clicks")
            out[name] = run_replay(
                model, gt, ignore, source_clicks, block.get("max_clicks"), keep_logits=keep_logits
            )
        elif name == BOX_PROTOCOL:
            out[name] = run_box(
                model,
                gt,
                ignore,
                strategies,
                max_clicks=int(block["max_clicks"]),
                jitter=float(block["jitter"]),
                rng=prompts.image_rng(block["seed"], cls, image),
                keep_logits=keep_logits,
            )
        else:
            diagonal = math.hypot(*gt.shape[:2])
            out[name] = run_trials(
                model,
                gt,
                ignore,
                strategies,
                protocol=name,
                trials=int(block["trials"]),
                rng_of=lambda t, seed=block["seed"]: prompts.image_rng(seed, cls, image, t),
                max_clicks=int(block["max_clicks"]),
                margin=float(block["margin"]) if name == "random_clicks" else 0.0,
                sigma=float(block["sigma"]) * diagonal if name == "perturbed" else 0.0,
                keep_logits=keep_logits,
            )
    return out


def replay_source_clicks(path: str | Path, loop: str = DRIVING_STRATEGY) -> list[Click]:
    """The clicks of loop ``loop`` in a saved ``noc`` trace file (the replay source)."""
    traces = load_traces(path)
    if loop not in traces:
        raise KeyError(f"{path}: no loop {loop!r} (has {', '.join(sorted(traces))})")
    return traces[loop].click_list()


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
    "TRIAL_PROTOCOLS",
    "Trace",
    "format_rows_tsv",
    "load_traces",
    "replay_source_clicks",
    "run_first_click",
    "run_loop",
    "run_noc",
    "run_protocols",
    "run_box",
    "run_replay",
    "run_trials",
    "save_traces",
    "split_loop",
    "trace_rows",
    "trial_loop",
    "write_rows_tsv",
]
