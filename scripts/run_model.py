"""One model x one image: every protocol the model takes part in (see rules/models.smk).

input:  image, mask, optional checkpoint (only a dependency: the builder reads
        spec["checkpoint"]["path"]), optional source (the replay source model's noc .npz;
        its ``max_score`` loop's clicks are replayed).
params: model (name), spec (its config block), protocols (name -> config block, ``noc``
        with ``strategies``), layout, device, precision, cache_dir, cls (class name),
        image (image id).
output: ``<protocol>_npz`` (traces, clickbench.protocols.save_traces) and ``<protocol>_tsv``
        (per-image rows) for every protocol in params.protocols.
log:    timings of each stage: model build, set_image (SAM's encoder), every click.

The model is built once and ``set_image`` runs once; every protocol and strategy reuses it.
"""

import logging
import time

from clickbench import protocols as P
from clickbench.datasets import load_ground_truth, load_image
from clickbench.models import registry
from clickbench.models.base import InteractiveModel

_handler = logging.FileHandler(snakemake.log[0])
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
logging.getLogger().addHandler(_handler)
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("run_model")


class Timed(InteractiveModel):
    """Passes every call through to ``inner`` and logs how long it took."""

    def __init__(self, inner: InteractiveModel, label: str):
        self.inner, self.label, self.loop = inner, label, ""

    def set_image(self, image):
        t0 = time.perf_counter()
        self.inner.set_image(image)
        log.info("set_image: %.3f s", time.perf_counter() - t0)

    def reset(self):
        self.inner.reset()

    def predict(self, clicks, previous=None, previous_choice=None):
        t0 = time.perf_counter()
        pred = self.inner.predict(clicks, previous=previous, previous_choice=previous_choice)
        c = clicks[-1]
        log.info(
            "%s click %d (%d, %d, %s): %.3f s",
            self.label,
            len(clicks),
            c.row,
            c.col,
            "+" if c.positive else "-",
            time.perf_counter() - t0,
        )
        return pred


params = snakemake.params
spec = dict(params.spec)
protocol_blocks = {name: dict(block) for name, block in dict(params.protocols).items()}
log.info("model %s (%s), image %s / %s", params.model, spec["type"], params.cls, params.image)
try:
    image = load_image(snakemake.input.image)
    gt, ignore = load_ground_truth(snakemake.input.mask, params.layout, image.shape)

    # light models never import torch: their environment may not have it
    heavy = spec["type"] in registry.HEAVY_TYPES
    device = registry.resolve_device(params.device) if heavy else "cpu"
    t0 = time.perf_counter()
    model = registry.build(
        spec, device=device, precision=params.precision, cache_dir=params.cache_dir
    )
    log.info("build on %s: %.3f s", device, time.perf_counter() - t0)
    timed = Timed(model, params.model)
    timed.set_image(image)

    source = getattr(snakemake.input, "source", None)
    source_clicks = None
    if "replay" in protocol_blocks and source:
        source_clicks = P.replay_source_clicks(source)
        log.info("replay: %d clicks from %s", len(source_clicks), source)
    t0 = time.perf_counter()
    results = P.run_protocols(
        timed,
        gt,
        ignore,
        protocol_blocks,
        source_clicks=source_clicks,
        keep_logits=bool(spec.get("save_logits", False)),
    )
    log.info("all protocols: %.3f s", time.perf_counter() - t0)

    selection = spec.get("selection") or ["max_score"]
    for name, traces in results.items():
        strategies = protocol_blocks[name].get("strategies") or selection
        P.save_traces(getattr(snakemake.output, f"{name}_npz"), traces)
        rows = P.trace_rows(
            traces,
            protocol=name,
            model=params.model,
            cls=params.cls,
            image=params.image,
            strategies=strategies,
        )
        P.write_rows_tsv(getattr(snakemake.output, f"{name}_tsv"), rows)
        for loop, trace in traces.items():
            log.info("%s/%s: %d clicks, IoU %s", name, loop, trace.n_clicks, trace.curve.round(4))
except Exception:
    log.exception("failed")
    raise
finally:
    _handler.close()
    logging.getLogger().removeHandler(_handler)
