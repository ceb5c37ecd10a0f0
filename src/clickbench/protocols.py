"""The click loops: one loop on one image, and every protocol a model runs on it.

One *loop* on one image: click, predict, keep one candidate, score, repeat::

    model.set_image(image)                      # the caller, once per image
    traces = run_noc(model, gt, ignore, ["max_score", "oracle"], max_clicks=20)

A loop's record is a :class:`clickbench.traces.Trace`; saving it and its per-image rows are
in :mod:`clickbench.traces`. Which protocols a model runs, with which strategies, is resolved
once from the validated config (:func:`plan`); every later step reads that plan.

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
is kept at every step, and the loop times each model call (``Trace.seconds``).

The single-loop protocols are driven by :data:`~clickbench.traces.DRIVING_STRATEGY`
(``max_score``) and every strategy re-scores that loop's candidates afterwards. With a model
that feeds its kept mask back (SAM with ``mask_input``) that re-scoring keeps ``max_score``'s
history: the other strategies' rows are then "this step's choice given max_score's past", not
a loop of their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from clickbench import prompts
from clickbench.clicks import Click, clicks_array, next_click
from clickbench.metrics import boundary_iou_batch, boundary_width, iou_batch, mask_to_boundary
from clickbench.models.base import InteractiveModel, Prediction
from clickbench.selection import select
from clickbench.traces import (
    BOX_PROTOCOL,
    DRIVING_STRATEGY,
    PROTOCOLS,
    TRIAL_PROTOCOLS,
    Trace,
    load_traces,
    trial_loop,
)

#: protocols that run one loop (or one per trial) per selection strategy
LOOP_PER_STRATEGY = ("noc", BOX_PROTOCOL, *TRIAL_PROTOCOLS)


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


def _loop_per_strategy(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    strategies: Sequence[str],
    **loop,
) -> dict[str, Trace]:
    """One :func:`run_loop` (arguments ``loop``) per strategy, keyed by strategy name;
    a strategy named twice runs once."""
    return {s: run_loop(model, gt, ignore, strategy=s, **loop) for s in dict.fromkeys(strategies)}


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
    return _loop_per_strategy(
        model,
        gt,
        ignore,
        strategies,
        max_clicks=max_clicks,
        target_iou=target_iou,
        keep_logits=keep_logits,
    )


def run_first_click(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    keep_logits: bool = False,
) -> dict[str, Trace]:
    """The ``first_click`` protocol: RITM's first click only (the farthest object pixel from
    the boundary, positive), one loop keyed :data:`~clickbench.traces.DRIVING_STRATEGY`."""
    return _loop_per_strategy(
        model, gt, ignore, [DRIVING_STRATEGY], max_clicks=1, keep_logits=keep_logits
    )


def run_replay(
    model: InteractiveModel,
    gt: np.ndarray,
    ignore: np.ndarray | None,
    source_clicks: Sequence[Click] | np.ndarray,
    max_clicks: int | None = None,
    keep_logits: bool = False,
) -> dict[str, Trace]:
    """The ``replay`` protocol: clicks 1..k of another run for every k (all of them, or the
    first ``max_clicks``), one loop keyed :data:`~clickbench.traces.DRIVING_STRATEGY`."""
    source = [Click(int(c[0]), int(c[1]), bool(c[2])) for c in source_clicks]
    if not source:
        raise ValueError("replay needs at least one source click")
    return _loop_per_strategy(
        model,
        gt,
        ignore,
        [DRIVING_STRATEGY],
        max_clicks=max_clicks if max_clicks is not None else len(source),
        clicks=source,
        keep_logits=keep_logits,
    )


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
    return _loop_per_strategy(
        model, gt, ignore, strategies, max_clicks=max_clicks, box=box, keep_logits=keep_logits
    )


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

    protocols: the model's :func:`plan`: protocol name -> its validated config block with
               ``strategies`` resolved (``noc``: ``max_clicks``, ``target_iou``; ``replay``:
               ``max_clicks`` or none (all the source's clicks); ``box``: ``max_clicks``,
               ``jitter``, ``seed``; ``random_clicks``: ``max_clicks``, ``trials``,
               ``margin``, ``seed``; ``perturbed``: ``max_clicks``, ``trials``, ``sigma`` (a
               fraction of the image diagonal), ``seed``); run in
               :data:`~clickbench.traces.PROTOCOLS` order. ``strategies`` gives the loops of
               the loop-per-strategy protocols; the single-loop ones run
               :data:`~clickbench.traces.DRIVING_STRATEGY`'s loop.
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
        block = protocols[name]
        strategies = block["strategies"]
        if name == "noc":
            out[name] = run_noc(
                model,
                gt,
                ignore,
                strategies,
                max_clicks=int(block["max_clicks"]),
                target_iou=block["target_iou"],
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


def plan(
    protocols: Mapping[str, Mapping], model: str, models: Mapping[str, Mapping]
) -> dict[str, dict]:
    """The protocols ``model`` runs, in config order: protocol name -> its block, with the
    strategies resolved (the one place they are).

    protocols: the validated config's ``protocols``; models: the active models' validated
    blocks (``selection`` filled in by the schema). A protocol is run when its ``models`` list
    ``model``; ``replay`` only when its ``source`` is active too. Every block gets
    ``strategies``: in a loop-per-strategy protocol (:data:`LOOP_PER_STRATEGY`) the model's
    ``selection`` in its order, kept to the block's own ``strategies`` when it has some (the
    first of the selection when none of them is in it); in a single-loop protocol the whole
    ``selection``, the strategies its one loop is re-scored with.
    """
    selection = list(models[model]["selection"])
    out = {}
    for name, spec in protocols.items():
        if model not in spec["models"]:
            continue
        if name == "replay" and spec["source"] not in models:
            continue
        block = dict(spec)
        if name in LOOP_PER_STRATEGY:
            wanted = spec.get("strategies", selection)
            block["strategies"] = [s for s in selection if s in wanted] or selection[:1]
        else:
            block["strategies"] = selection
        out[name] = block
    return out


__all__ = [
    "LOOP_PER_STRATEGY",
    "plan",
    "replay_source_clicks",
    "run_box",
    "run_first_click",
    "run_loop",
    "run_noc",
    "run_protocols",
    "run_replay",
    "run_trials",
]
