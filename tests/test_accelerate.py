"""Accelerated SAM encoders (clickbench.models.accelerate) against segment-anything's own.

Small sizes here; benchmarks/models.py repeats the equality check on full-size vit_b weights
(SAM's, and HQ-SAM's with --hq).
The check's limits are the issue's: embedding relative error <= 1e-3 in fp32, mean |dIoU|
<= 1e-3, no kept-mask choice changed.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import GRABCUT, REPO, requires_grabcut, run_script
from segment_anything.modeling.image_encoder import Attention

from clickbench import config as cbconfig
from clickbench.datasets import load_ground_truth, load_image
from clickbench.embedding_cache import cache_key, count_encodings
from clickbench.models import accelerate, registry
from clickbench.models.sam import SamModel
from clickbench.models.tiny import make_tiny_checkpoint, make_tiny_model
from clickbench.protocols import run_loop

EMBEDDING_RTOL = 1e-3
MEAN_DIOU = 1e-3


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def attention(size: int, dim: int = 64, heads: int = 4, seed: int = 0) -> Attention:
    """segment-anything's Attention with random (non-zero) relative positions."""
    torch.manual_seed(seed)
    a = Attention(dim, heads, use_rel_pos=True, input_size=(size, size)).eval()
    with torch.no_grad():
        a.rel_pos_h.normal_(0, 0.5)
        a.rel_pos_w.normal_(0, 0.5)
    return a


@pytest.mark.parametrize("batch,size", [(1, 16), (6, 14)])  # a global grid; windows
def test_sdpa_attention_equals_segment_anythings(batch, size):
    ref = attention(size)
    fast = copy.deepcopy(ref)
    accelerate.apply_to_attention(fast)
    assert type(fast) is accelerate.SdpaAttention
    x = torch.randn(batch, size, size, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = ref(x), fast(x)
        # the relative positions matter here: without them the output moves by far more
        plain = copy.deepcopy(ref)
        plain.use_rel_pos = False
        assert accelerate.relative_error(plain(x), want) > 0.1
    assert got.shape == want.shape
    assert accelerate.relative_error(got, want) < 1e-5


@pytest.mark.parametrize("rel_pos", [True, False])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize(
    "batch,size,chunk",
    [
        (1, 40, 40 * 1600),  # a global grid (columns >= 32) in blocks of one grid row...
        (1, 40, 7 * 40 * 1600),  # ... and of 7 rows (the last one 5)
        (6, 14, 3 * 196 * 196),  # windows (14 columns: the laid-out sums), 3 per block
        (5, 14, None),  # the default block: every window in one
    ],
)
def test_chunked_attention_is_segment_anythings_bit_for_bit(
    monkeypatch, batch, size, chunk, precision, rel_pos
):
    """The chunked blocks give segment-anything's Attention's output exactly (torch.equal),
    in fp32 and under bf16 autocast, whatever the blocks."""
    if chunk is not None:
        monkeypatch.setattr(accelerate, "CHUNK_LOGITS", chunk)
    ref = attention(size)
    ref.use_rel_pos = rel_pos
    fast = copy.deepcopy(ref)
    accelerate.apply_to_attention(fast, "chunked")
    assert type(fast) is accelerate.ChunkedAttention
    x = torch.randn(batch, size, size, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
        want, got = ref(x), fast(x)
    assert got.dtype == want.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
    assert torch.equal(got, want)
    # and sdpa, whose order of operations differs, is close but not equal: equality means
    # something here
    sdpa = copy.deepcopy(ref)
    accelerate.apply_to_attention(sdpa, "sdpa")
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
        assert not torch.equal(sdpa(x), want)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("batch,size", [(1, 40), (6, 14)])
def test_chunked_attention_on_worker_threads_is_the_same(monkeypatch, batch, size, precision):
    """With more than one torch thread the blocks run on single-threaded workers: the output
    is still the original's exactly, and the caller keeps its thread count."""
    monkeypatch.setattr(accelerate, "CHUNK_LOGITS", 3 * size**4 // 2)  # a few blocks
    ref = attention(size)
    fast = accelerate.apply_to_attention(copy.deepcopy(ref), "chunked")
    x = torch.randn(batch, size, size, 64, generator=torch.Generator().manual_seed(1))
    torch.set_num_threads(2)
    try:
        with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
            want, got = ref(x), fast(x)
        # grad and inference mode are per thread: the workers take the caller's
        with torch.inference_mode(), torch.autocast("cpu", enabled=precision == "bf16"):
            got_inference = fast(x)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert (os.getpid(), 2) in accelerate._POOL  # the blocks did run on the workers
    assert torch.equal(got, want) and torch.equal(got_inference, want)


def test_chunked_attention_with_gradients_is_the_original():
    """With autograd on, ChunkedAttention runs segment-anything's own arithmetic (the blocks
    write into buffers autograd cannot follow): same output, same gradients."""
    ref = attention(14)
    fast = accelerate.apply_to_attention(copy.deepcopy(ref), "chunked")
    x = torch.randn(2, 14, 14, 64, generator=torch.Generator().manual_seed(1))
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    outs = [m(xi) for m, xi in zip((ref, fast), xs, strict=True)]
    for out in outs:
        out.square().sum().backward()
    assert torch.equal(outs[0], outs[1]) and torch.equal(xs[0].grad, xs[1].grad)
    assert torch.equal(ref.rel_pos_h.grad, fast.rel_pos_h.grad)


def test_rel_pos_bias_is_add_decomposed_rel_pos():
    """The mask is exactly the term segment-anything adds to the attention logits."""
    from segment_anything.modeling.image_encoder import add_decomposed_rel_pos

    a = attention(8, dim=16, heads=2)
    q = torch.randn(3, 2, 64, 8, generator=torch.Generator().manual_seed(2))
    zeros = torch.zeros(6, 64, 64)
    want = add_decomposed_rel_pos(
        zeros, q.reshape(6, 64, 8), a.rel_pos_h, a.rel_pos_w, (8, 8), (8, 8)
    )
    got = accelerate.rel_pos_bias(q, a.rel_pos_h, a.rel_pos_w, (8, 8))
    torch.testing.assert_close(got.reshape(6, 64, 64), want, rtol=1e-6, atol=1e-6)


def test_apply_keeps_the_weights_and_rejects_unknown_modes():
    sam = tiny_sam()
    before = {k: v.clone() for k, v in sam.state_dict().items()}
    assert accelerate.mode_of(sam) == "none"
    assert accelerate.apply(sam, "none") is sam and accelerate.mode_of(sam) == "none"
    accelerate.apply(sam, "sdpa")
    assert accelerate.mode_of(sam) == "sdpa"
    assert accelerate.apply(sam, "sdpa") is sam  # again: nothing changes
    after = sam.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)
    with pytest.raises(ValueError, match="accelerate must be one of none, chunked, sdpa, compile"):
        accelerate.apply(sam, "fast")
    with pytest.raises(ValueError, match="already in mode 'sdpa'"):
        accelerate.apply(sam, "chunked")
    other = accelerate.apply(tiny_sam(), "chunked")
    assert accelerate.mode_of(other) == "chunked"
    assert {type(m) for m in other.image_encoder.modules() if isinstance(m, Attention)} == {
        accelerate.ChunkedAttention
    }


def test_apply_names_an_encoder_it_cannot_accelerate():
    sam = make_tiny_model("sam", 0)
    sam.image_encoder = torch.nn.Conv2d(3, 64, 16, 16)
    with pytest.raises(ValueError, match=r"found no ViT attention block \(segment-anything's "):
        accelerate.apply(sam, "sdpa")
    with pytest.raises(ValueError, match="Attention\\) in Conv2d"):
        accelerate.apply(sam, "chunked")


# ------------------------------------------------------------ HQ-SAM: the same ViT attention
def test_hq_sams_attention_is_segment_anythings_code():
    """segment-anything-hq's ViT attention is a copy of segment-anything's (the same forward,
    relative positions and attributes): what lets :func:`accelerate.apply` treat both alike."""
    import inspect

    from segment_anything.modeling import image_encoder as sa
    from segment_anything_hq.modeling import image_encoder as hq

    def code(obj):  # the source without docstrings and comments
        import ast

        tree = ast.parse(inspect.getsource(obj).lstrip())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
        return ast.dump(tree)

    for name in ("Attention", "add_decomposed_rel_pos", "get_rel_pos"):
        assert code(getattr(hq, name)) == code(getattr(sa, name)), name
    assert hq.Attention in accelerate.attention_types()


def tiny_hq(seed: int = 0, **kwargs):
    from clickbench.models.hq_sam import HqSamModel, build_hq_tiny
    from clickbench.models.tiny import seeded

    sam = accelerate.randomize_rel_pos(seeded(build_hq_tiny, seed).eval(), seed=seed)
    return HqSamModel(sam, variant="tiny", checkpoint_sha256="t", **kwargs)


@requires_grabcut()
@pytest.mark.parametrize("mode", ["sdpa", "chunked"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_accelerated_hq_sam_equals_plain_hq_sam(photos, mode, precision):
    """HQ-SAM's packed embedding (features and the first global block's ViT map) and a
    3-click trace on a real photo: chunked exactly the plain one, sdpa within 1e-5 in fp32."""
    plain = tiny_hq(precision=precision)
    fast = tiny_hq(precision=precision, accelerate=mode)
    assert accelerate.mode_of(fast.sam) == mode and accelerate.mode_of(plain.sam) == "none"
    image, gt, ignore = photos[1]
    a, b = plain.encode([image])[0], fast.encode([image])[0]
    assert a.features.shape == b.features.shape == (1, 64 + 64, 64, 64)  # decoder, ViT widths
    err = accelerate.relative_error(b.features, a.features)
    if mode == "chunked":
        assert np.array_equal(a.features, b.features)
    else:
        assert 0 < err < (1e-5 if precision == "fp32" else 2e-2), err
    plain.set_embedding(a)
    fast.set_embedding(b)
    ref = run_loop(plain, gt, ignore, strategy="max_score", max_clicks=3)
    other = run_loop(fast, gt, ignore, strategy="max_score", max_clicks=3, clicks=ref.clicks)
    diff = accelerate.trace_differences(ref, other)
    assert diff["choices_changed"] == 0
    if mode == "chunked":
        assert max(diff["abs_diou"]) == 0 and diff["pixels_changed"] == 0
    key, meta = fast._key(image)
    assert meta["accelerate"] == mode and key != plain._key(image)[0]


def test_hq_sam_builds_with_accelerate_and_vit_tiny_is_refused(tmp_path):
    from clickbench.models.hq_sam import make_tiny_checkpoint as make_hq

    spec = {
        "type": "hq_sam",
        "variant": "tiny",
        "checkpoint": {"path": str(make_hq(tmp_path / "h.pth"))},
    }
    model = registry.build({**spec, "accelerate": "chunked"})
    assert (model.accelerate, accelerate.mode_of(model.sam)) == ("chunked", "chunked")
    assert accelerate.mode_of(registry.build(spec).sam) == "none"
    from clickbench.models.hq_sam import VARIANTS

    tinyvit = VARIANTS["vit_tiny"]()  # the light HQ-SAM: a TinyViT, no ViT attention
    with pytest.raises(ValueError, match="found no ViT attention block .* in TinyViT"):
        accelerate.apply(tinyvit, "chunked")


# ------------------------------------------------------------ the whole model, real photos
PHOTOS = ("106024", "124080", "153077")


@pytest.fixture(scope="module")
def photos():
    if not (GRABCUT / "data_GT").is_dir():
        pytest.skip(f"the GrabCut benchmark is not at {GRABCUT}")
    out = []
    for stem in PHOTOS:
        image = load_image(GRABCUT / "data_GT" / f"{stem}.jpg")
        gt, ignore = load_ground_truth(
            GRABCUT / "boundary_GT" / f"{stem}.bmp", "grabcut", image.shape
        )
        out.append((image, gt, ignore))
    return out


def tiny_sam(seed: int = 0):
    """The tiny SAM with non-zero relative positions (trained SAMs have them)."""
    return accelerate.randomize_rel_pos(make_tiny_model("sam", seed), seed=seed)


def tiny_pair(mode: str):
    plain = SamModel(tiny_sam(), variant="tiny", checkpoint_sha256="t")
    fast = SamModel(tiny_sam(), variant="tiny", checkpoint_sha256="t", accelerate=mode)
    tables = [p for n, p in fast.sam.named_parameters() if "rel_pos" in n]
    assert len(tables) == 4 and all(p.abs().min() > 0 for p in tables)
    return plain, fast


@requires_grabcut()
@pytest.mark.parametrize("mode", ["sdpa", "chunked"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_accelerated_sam_equals_plain_sam_on_grabcut_photos(photos, precision, mode):
    """Embeddings, every candidate's IoU and the kept mask over 5 simulated clicks on real
    photos: the accelerated encoder against the plain one (both in ``precision``), the plain
    loop's clicks replayed; chunked's embeddings and traces are the plain ones exactly."""
    plain, fast = tiny_pair(mode)
    plain.precision = fast.precision = precision
    diffs = []
    for image, gt, ignore in photos:
        a, b = plain.encode([image])[0], fast.encode([image])[0]
        assert a.input_size == b.input_size and a.original_size == b.original_size
        err = accelerate.relative_error(b.features, a.features)
        assert err <= (EMBEDDING_RTOL if precision == "fp32" else 2e-2), err
        assert np.array_equal(b.features, a.features) == (mode == "chunked")
        plain.set_embedding(a)
        fast.set_embedding(b)
        ref = run_loop(plain, gt, ignore, strategy="max_score", max_clicks=5)
        other = run_loop(fast, gt, ignore, strategy="max_score", max_clicks=5, clicks=ref.clicks)
        diffs.append(accelerate.trace_differences(ref, other))
    abs_diou = [d for x in diffs for d in x["abs_diou"]]
    assert len(abs_diou) == 3 * 5 * 4
    assert np.mean(abs_diou) <= MEAN_DIOU
    assert sum(x["choices_changed"] for x in diffs) == 0
    if precision == "fp32":
        assert max(abs_diou) <= 1e-3
    if mode == "chunked":
        assert max(abs_diou) == 0 and all(x["pixels_changed"] == 0 for x in diffs)


def test_trace_differences_counts_what_changed(photos):
    """A different model (another seed) is not "equal": the check can fail."""
    image, gt, ignore = photos[0]
    a = SamModel(tiny_sam(0), variant="tiny", checkpoint_sha256="a")
    b = SamModel(tiny_sam(3), variant="tiny", checkpoint_sha256="b")
    a.set_image(image)
    b.set_image(image)
    ref = run_loop(a, gt, ignore, strategy="max_score", max_clicks=5)
    other = run_loop(b, gt, ignore, strategy="max_score", max_clicks=5, clicks=ref.clicks)
    d = accelerate.trace_differences(ref, other)
    assert d["steps"] == 5 and np.mean(d["abs_diou"]) > MEAN_DIOU and d["pixels_changed"] > 0
    same = accelerate.trace_differences(ref, ref)
    assert same["choices_changed"] == 0 and max(same["abs_diou"]) == 0
    with pytest.raises(ValueError, match="same clicks"):
        shorter = run_loop(a, gt, ignore, strategy="max_score", max_clicks=2, clicks=ref.clicks)
        accelerate.trace_differences(ref, shorter)


@requires_grabcut()
def test_compile_sam_equals_plain_sam(photos):
    """torch.compile of the sdpa encoder (TorchInductor builds C++ kernels: slow the first
    time) gives the same embedding."""
    plain, fast = tiny_pair("compile")
    assert accelerate.mode_of(fast.sam) == "compile"
    image = photos[0][0]
    a, b = plain.encode([image])[0], fast.encode([image])[0]
    assert accelerate.relative_error(b.features, a.features) <= EMBEDDING_RTOL


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_sdpa_sam_equals_plain_sam_on_cuda(precision):
    """On a GPU, scaled_dot_product_attention takes another kernel than on a CPU."""
    image = (np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)
    feats = []
    for mode in ("none", "sdpa", "chunked"):
        m = SamModel(
            tiny_sam().to("cuda"),
            variant="tiny",
            checkpoint_sha256="t",
            device="cuda",
            precision=precision,
            accelerate=mode,
        )
        feats.append(m.encode([image])[0].features)
    limit = EMBEDDING_RTOL if precision == "fp32" else 2e-2
    assert accelerate.relative_error(feats[1], feats[0]) <= limit
    assert accelerate.relative_error(feats[2], feats[0]) <= limit


# ------------------------------------------------------------ config, cache, provenance
def test_cache_key_takes_the_acceleration_and_keeps_plain_keys():
    parts = ("i" * 64, "c" * 64, "vit_b", "fp32", "cpu")
    plain = cache_key(*parts)
    assert cache_key(*parts, accelerate="none") == plain  # entries made before the setting
    keys = {plain} | {cache_key(*parts, accelerate=m) for m in ("chunked", "sdpa", "compile")}
    assert len(keys) == 4


def test_build_reads_accelerate_and_caches_apart(tmp_path):
    ckpt = make_tiny_checkpoint("sam", tmp_path / "sam.pth")
    spec = {"type": "sam", "variant": "tiny", "checkpoint": {"path": str(ckpt)}}
    image = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
    plain = registry.build(spec, cache_dir=tmp_path / "cache")
    fast = registry.build({**spec, "accelerate": "sdpa"}, cache_dir=tmp_path / "cache")
    assert (plain.accelerate, accelerate.mode_of(plain.sam)) == ("none", "none")
    assert (fast.accelerate, accelerate.mode_of(fast.sam)) == ("sdpa", "sdpa")
    plain.set_image(image)
    fast.set_image(image)
    plain.set_image(image)
    assert count_encodings(tmp_path / "cache") == 2  # one per mode, the second plain a hit
    assert (plain.last_hit, fast.last_hit) == (True, False)
    key, meta = fast._key(image)
    assert meta["accelerate"] == "sdpa" and key != plain._key(image)[0]
    assert "accelerate" not in plain._key(image)[1]


def base_config(**model):
    return {
        "dataset": {"name": "x", "layout": "generic", "root": "r"},
        "models": {"m": model},
        "protocols": {"noc": {"models": ["m"]}},
    }


def test_config_default_is_none_and_only_sam_and_hq_sam_accelerate():
    sam = {"type": "sam", "variant": "tiny", "checkpoint": {"path": "s.pth"}}
    assert cbconfig.validate(base_config(**sam))["models"]["m"]["accelerate"] == "none"
    for mode in ("chunked", "sdpa", "compile"):
        got = cbconfig.validate(base_config(**sam, accelerate=mode))
        assert got["models"]["m"]["accelerate"] == mode
    with pytest.raises(cbconfig.ConfigError, match="models.m.accelerate"):
        cbconfig.validate(base_config(**sam, accelerate="fast"))
    # the schema and registry.ACCELERATED_TYPES say the same, for every model type
    for kind in registry.BUILDERS:
        spec = {"type": kind}
        if kind in registry.HEAVY_TYPES:
            spec["checkpoint"] = {"path": "c"}
            spec.update({} if kind == "ritm" else {"variant": "tiny"})
        if kind == "python":
            spec["factory"] = "m:f"
        if kind in registry.ACCELERATED_TYPES:
            assert cbconfig.validate(base_config(**spec, accelerate="chunked"))
        else:
            with pytest.raises(cbconfig.ConfigError, match="only sam and hq_sam models take"):
                cbconfig.validate(base_config(**spec, accelerate="chunked"))
    hq = {"type": "hq_sam", "checkpoint": {"path": "c"}}
    assert cbconfig.validate(base_config(**hq, variant="vit_b", accelerate="sdpa"))
    with pytest.raises(cbconfig.ConfigError, match="vit_tiny encoder is a TinyViT"):
        cbconfig.validate(base_config(**hq, variant="vit_tiny", accelerate="sdpa"))


def test_provenance_records_each_sams_acceleration(tmp_path):
    ckpt = make_tiny_checkpoint("sam", tmp_path / "sam.pth")
    cfg = base_config(type="sam", variant="tiny", checkpoint={"path": str(ckpt)}, accelerate="sdpa")
    cfg["models"]["g"] = {"type": "grabcut"}
    hq = make_tiny_checkpoint("sam", tmp_path / "hq.pth")  # hashed only: any file does
    cfg["models"]["h"] = {"type": "hq_sam", "variant": "vit_b", "checkpoint": {"path": str(hq)}}
    cfg["models"]["h"]["accelerate"] = "chunked"
    cfg = cbconfig.validate(cfg)
    out = tmp_path / "provenance.yaml"
    run_script(
        "provenance.py",
        tmp_path,
        inputs={},
        outputs={"provenance": str(out)},
        params={"config": cfg, "models": cfg["models"], "skipped": []},
    )
    record = yaml.safe_load(out.read_text())
    assert record["accelerate"] == {"m": "sdpa", "h": "chunked"}
    assert record["config"]["models"]["m"]["accelerate"] == "sdpa"


# ------------------------------------------------------------ the GPU script on this machine
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_gpu_script_skips_cleanly_without_cuda(tmp_path):
    proc = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu.sh"), str(tmp_path / "gpu.json")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device" in proc.stdout and "skipped" in proc.stdout
    assert not Path(tmp_path / "gpu.json").exists()


#: one of the demo's SAM runs (the demo dataset is seeded: 00001 is an original)
DEMO_RUN = "results/demo/runs/noc/sam_tiny/hourse_mackerel/00001.npz"


@pytest.mark.workflow
def test_gpu_script_rehearsed_on_the_cpu(tmp_path):
    """``GPU_SH_REHEARSE=1``: every step of gpu.sh on the CPU, with the tiny models, into the
    one JSON: the script a GPU machine will run, bar the device."""
    out = tmp_path / "gpu.json"
    env = {
        **os.environ,
        "GPU_SH_REHEARSE": "1",
        "GPU_SH_DEMO_ARGS": f"{DEMO_RUN} results/demo/provenance.yaml",
        "TMPDIR": str(tmp_path),  # gpu.sh's scratch folder (mktemp -t)
    }
    proc = subprocess.run(  # a relative OUT.json is the caller's folder's
        ["bash", str(REPO / "benchmarks" / "gpu.sh"), "gpu.json"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["device"] == "cpu" and res["rehearsal"] is True
    tests = res["cuda_tests"]  # every CUDA-marked test ran, and skipped here
    assert tests["rc"] == 0 and tests["tests"] >= 3 and tests["skipped"] == tests["tests"]
    enc = res["encode"]
    assert enc["rc"] == 0 and enc["rehearsal"] is True and enc["sam"]["variant"] == "tiny"
    for accel in ("none", "sdpa", "chunked"):
        for prec in ("fp32", "bf16"):
            row = enc["sam"][f"{accel}_{prec}"]
            assert row["images_per_s"] > 0 and 0 < row["fraction_of_bf16_matmul"]
    assert enc["sam"]["chunked_fp32"]["embedding_rel_error_vs_plain_fp32"] == 0
    assert enc["sam"]["sdpa_fp32"]["embedding_rel_error_vs_plain_fp32"] < 1e-5
    assert 1e-4 < enc["sam"]["none_bf16"]["embedding_rel_error_vs_plain_fp32"] < 0.05
    assert enc["sam2"]["variant"] == "tiny" and enc["sam2"]["bf16"]["images_per_s"] > 0
    demo = res["demo"]  # the demo's SAM jobs ran from the root of a copy, on the device asked
    assert demo["rc"] == 0 and demo["provenance_device"] == "cpu", demo["log_tail"]
    assert (Path(res["scratch"]) / "demo" / DEMO_RUN).is_file()


def test_a_sam_job_does_not_import_segment_anything_hq():
    """HQ-SAM's attention is recognised without importing its package (timm and half a
    second of imports) where only SAM runs."""
    code = (
        "import sys; from clickbench.models import accelerate, registry; "
        "from clickbench.models.tiny import make_tiny_model; "
        "accelerate.apply(make_tiny_model('sam'), 'chunked'); "
        "assert accelerate.HQ_ENCODER_MODULE not in sys.modules, 'imported'; "
        "assert 'segment_anything_hq' not in sys.modules; "
        "assert len(accelerate.attention_types()) == 1"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
