"""Instance layouts on folders built from real photographs: each object one sample, read as
RITM's SBD and Pascal VOC readers and pycocotools read them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from clickbench import datasets, instances
from clickbench.errors import BadInputError

skdata = pytest.importorskip("skimage.data")


def coins_labels(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's coins photograph and a label map of its coins (Otsu, holes filled,
    small specks dropped): real objects of a real photo. ``n`` keeps the first n objects."""
    from scipy import ndimage
    from skimage import filters, measure

    photo = skdata.coins()
    fg = ndimage.binary_fill_holes(photo > filters.threshold_otsu(photo))
    labels = measure.label(fg)
    sizes = np.bincount(labels.ravel())
    labels[np.isin(labels, np.flatnonzero(sizes < 300))] = 0
    labels = measure.label(labels > 0)
    if n is not None:
        labels[labels > n] = 0
    return photo, labels.astype(np.int32)


def voc_palette() -> list[int]:
    """Pascal VOC's colour map (its devkit's bit-interleaved palette), 256 RGB triples."""
    out = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out += [r, g, b]
    return out


def void_band(labels: np.ndarray, width: int = 2) -> np.ndarray:
    """Labels with VOC's void index 255 on a band around every object's boundary."""
    k = np.ones((2 * width + 1,) * 2, np.uint8)
    edge = np.zeros(labels.shape, bool)
    for v in np.unique(labels[labels > 0]):
        m = (labels == v).astype(np.uint8)
        edge |= cv2.dilate(m, k).astype(bool) & ~cv2.erode(m, k).astype(bool)
    out = labels.astype(np.uint8)
    out[edge] = 255
    return out


# --------------------------------------------------------------------------- SBD


def write_sbd_mat(path: Path, labels: np.ndarray) -> None:
    """An SBD ``inst/*.mat``: struct GTinst with Segmentation, Boundaries, Categories."""
    from scipy.io import savemat

    n = int(labels.max())
    boundaries = np.empty((n, 1), dtype=object)
    for k in range(n):  # SBD keeps each object's boundary as a (sparse) map
        m = (labels == k + 1).astype(np.uint8)
        boundaries[k, 0] = cv2.morphologyEx(m, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(
        str(path),
        {
            "GTinst": {
                "Segmentation": labels.astype(np.uint8),
                "Boundaries": boundaries,
                "Categories": np.arange(1, n + 1, dtype=np.uint8)[:, None],
            }
        },
    )


def ritm_sbd_objects(root: Path, split: str) -> list[tuple[str, int, np.ndarray]]:
    """RITM's SBDEvaluationDataset, its lines: names from <split>.txt, instance map
    ``loadmat(...)['GTinst'][0][0][0]``, one sample per non-zero label."""
    from scipy.io import loadmat

    out = []
    for name in (root / f"{split}.txt").read_text().split():
        inst = loadmat(str(root / "inst" / f"{name}.mat"))["GTinst"][0][0][0].astype(np.int32)
        for obj in [v for v in np.unique(inst) if v != 0]:
            out.append((name, int(obj), inst == obj))
    return out


@pytest.fixture
def sbd_root(tmp_path):
    photo, labels = coins_labels()
    root = tmp_path / "SBD"
    (root / "img").mkdir(parents=True)
    (root / "cls").mkdir()  # SBD's semantic masks: not part of the instance layout
    crops = {
        "2008_000001": (slice(0, 160), slice(0, 200)),
        "2008_000002": (slice(140, 303), slice(150, 384)),
    }
    for name, (rows, cols) in crops.items():
        Image.fromarray(photo[rows, cols]).save(root / "img" / f"{name}.jpg", quality=95)
        write_sbd_mat(root / "inst" / f"{name}.mat", labels[rows, cols])
    Image.fromarray(photo[:50, :50]).save(root / "img" / "2008_000003.jpg")
    write_sbd_mat(root / "inst" / "2008_000003.mat", labels[:50, :50])
    (root / "val.txt").write_text("2008_000001\n2008_000002\n")
    (root / "train.txt").write_text("2008_000003\n")
    return root


def test_sbd_reads_objects_as_ritm_does(sbd_root):
    cfg = {"name": "SBD", "layout": "sbd", "root": str(sbd_root), "split": "val"}
    found = datasets.scan(cfg)
    reference = ritm_sbd_objects(sbd_root, "val")
    assert len(reference) > 4
    want = sorted(datasets.object_id(name, obj) for name, obj, _ in reference)
    assert [s.image_id for s in found.samples] == want
    by_id = {s.image_id: s for s in found.samples}
    for name, obj, ritm_mask in reference:
        s = by_id[datasets.object_id(name, obj)]
        assert s.image == sbd_root / "img" / f"{name}.jpg"
        image, gt, ignore = datasets.load_sample(s, "sbd")
        np.testing.assert_array_equal(gt, ritm_mask)
        assert ignore is None and image.shape == (*gt.shape, 3)
    stray = {p.path.name for p in found.stray}
    assert stray == {"cls", "train.txt"}  # val.txt is the split read


def test_sbd_without_split_reads_every_mask(sbd_root):
    found = datasets.scan({"name": "SBD", "layout": "sbd", "root": str(sbd_root)})
    assert {datasets.split_object_id(s.image_id)[0] for s in found.samples} == {
        "2008_000001",
        "2008_000002",
        "2008_000003",
    }


def test_sbd_missing_split_file_is_named(sbd_root):
    with pytest.raises(BadInputError, match="split file not found"):
        datasets.scan({"name": "SBD", "layout": "sbd", "root": str(sbd_root), "split": "test"})


def test_sbd_mat_without_gtinst_is_bad_input(sbd_root):
    from scipy.io import savemat

    bad = sbd_root / "inst" / "2008_000001.mat"
    savemat(str(bad), {"other": np.zeros((3, 3))})
    cfg = {"name": "SBD", "layout": "sbd", "root": str(sbd_root), "split": "val"}
    sample = next(s for s in datasets.scan(cfg).samples if s.mask == bad)
    assert sample.image_id == "2008_000001"  # unreadable at discovery: one sample, no instance
    result, skipped = datasets.try_load(sample, "sbd", "skip")
    assert result is None and skipped.path == str(bad) and "no GTinst" in skipped.problem


# --------------------------------------------------------------------------- Pascal VOC


def ritm_voc_gray(mask_path: Path) -> np.ndarray:
    """RITM's PascalVocDataset: ``cv2.imread`` (palette colours) then ``BGR2GRAY``."""
    return cv2.cvtColor(cv2.imread(str(mask_path)), cv2.COLOR_BGR2GRAY).astype(np.int32)


@pytest.fixture
def voc_root(tmp_path):
    photo, labels = coins_labels()
    root = tmp_path / "VOC2012"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "SegmentationObject").mkdir()
    (root / "SegmentationClass").mkdir()
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    rgb = np.stack([photo, np.roll(photo, 3, axis=1), photo // 2 + 60], axis=2)
    for name, (rows, cols) in {"2007_000032": (slice(0, 170), slice(0, 220))}.items():
        Image.fromarray(rgb[rows, cols]).save(root / "JPEGImages" / f"{name}.jpg", quality=95)
        im = Image.fromarray(void_band(labels[rows, cols]), "P")
        im.putpalette(voc_palette())
        im.save(root / "SegmentationObject" / f"{name}.png")
    Image.fromarray(rgb[:40, :40]).save(root / "JPEGImages" / "2007_000033.jpg")  # no mask
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000032\n")
    return root


@pytest.mark.parametrize("split", ["val", None])
def test_pascal_voc_objects_and_void_match_ritm(voc_root, split):
    cfg = {"name": "VOC", "layout": "pascal_voc", "root": str(voc_root)}
    if split:
        cfg["split"] = split
    found = datasets.scan(cfg)
    mask_path = voc_root / "SegmentationObject" / "2007_000032.png"
    gray = ritm_voc_gray(mask_path)
    ritm_ids = sorted(set(np.unique(gray)) - {0, 220})  # RITM: objects, 220 = the void colour
    assert len(found.samples) == len(ritm_ids) > 4
    seen_gray = set()
    for s in found.samples:
        _, gt, ignore = datasets.load_sample(s, "pascal_voc")
        values = np.unique(gray[gt])
        assert len(values) == 1  # one of RITM's objects, whole
        np.testing.assert_array_equal(gt, gray == values[0])
        seen_gray.add(int(values[0]))
        np.testing.assert_array_equal(ignore, gray == 220)
    assert seen_gray == set(ritm_ids)
    if split is None:  # the mask-less JPEG is counted, not listed one by one
        assert any("1 images without a SegmentationObject" in p.reason for p in found.stray)


# --------------------------------------------------------------------------- instances


def test_instance_png_values_are_objects(tmp_path):
    photo, labels = coins_labels(n=3)
    root = tmp_path / "inst"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray(photo).save(root / "images" / "coins.png")
    Image.fromarray(labels.astype(np.uint8), "L").save(root / "masks" / "coins.png")
    deep = np.zeros(labels.shape, np.uint16)
    deep[labels == 2] = 300  # 16-bit: more than 255 objects
    Image.fromarray(photo).save(root / "images" / "deep.png")
    cv2.imwrite(str(root / "masks" / "deep.png"), deep)
    cfg = {"name": "coins", "layout": "instances", "root": str(root)}
    found = datasets.scan(cfg)
    assert [s.image_id for s in found.samples] == ["coins#1", "coins#2", "coins#3", "deep#300"]
    for s in found.samples:
        notes = []
        image, gt, ignore = datasets.load_sample(s, "instances", notes)
        stem, k = datasets.split_object_id(s.image_id)
        want = (labels == k) if stem == "coins" else (labels == 2)
        np.testing.assert_array_equal(gt, want)
        assert ignore is None and "grayscale" in notes[0].note  # coins is a grayscale photo
    # the same mask under a binary layout is not "empty": it is named an instance mask
    with pytest.raises(BadInputError, match="instance mask"):
        datasets.load_ground_truth(root / "masks" / "coins.png", "generic", photo.shape)


def test_instance_mask_with_no_object(tmp_path):
    root = tmp_path / "inst"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray(skdata.coins()[:32, :32]).save(root / "images" / "a.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "masks" / "a.png")
    (sample,) = datasets.scan({"name": "x", "layout": "instances", "root": str(root)}).samples
    assert sample.image_id == "a"
    _, skipped = datasets.try_load(sample, "instances", "skip")
    assert "holds no object" in skipped.problem and "every pixel is 0" in skipped.problem


# --------------------------------------------------------------------------- COCO JSON


def write_coco(root: Path) -> tuple[Path, list[dict]]:
    """Two photos, annotations as polygons, uncompressed RLE, compressed RLE and a crowd."""
    from pycocotools import mask as mask_utils

    photo, labels = coins_labels(n=4)
    (root / "val2017").mkdir(parents=True)
    Image.fromarray(photo).save(root / "val2017" / "000000000001.jpg", quality=95)
    astro = skdata.astronaut()
    Image.fromarray(astro).save(root / "val2017" / "000000000002.jpg", quality=95)
    h, w = labels.shape
    anns = []
    contours, _ = cv2.findContours(
        (labels == 1).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    anns.append({"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 0, "segmentation": polys})
    fortran = np.asfortranarray((labels == 2).astype(np.uint8))
    rle = mask_utils.encode(fortran)
    anns.append(
        {
            "id": 12,
            "image_id": 1,
            "category_id": 1,
            "iscrowd": 0,
            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
        }
    )
    anns.append(
        {
            "id": 13,
            "image_id": 1,
            "category_id": 1,
            "iscrowd": 0,
            "segmentation": {"size": [h, w], "counts": _uncompressed(labels == 3)},
        }
    )
    anns.append(
        {
            "id": 14,
            "image_id": 1,
            "category_id": 1,
            "iscrowd": 1,
            "segmentation": {"size": [h, w], "counts": _uncompressed(labels == 4)},
        }
    )
    anns.append(
        {
            "id": 21,
            "image_id": 2,
            "category_id": 2,
            "iscrowd": 0,
            "segmentation": [[100.0, 60.0, 300.0, 60.0, 300.0, 400.0, 100.0, 400.0]],
        }
    )
    data = {
        "images": [
            {"id": 1, "file_name": "000000000001.jpg", "height": h, "width": w},
            {"id": 2, "file_name": "000000000002.jpg", "height": 512, "width": 512},
        ],
        "annotations": anns,
        "categories": [{"id": 1, "name": "coin"}, {"id": 2, "name": "person"}],
    }
    path = root / "annotations" / "instances_val2017.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path, anns


def _uncompressed(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE: run lengths of the column-major mask, starting with zeros."""
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.r_[0, edges, flat.size]).tolist()
    return ([0] if flat[0] else []) + runs


def coco_config(root: Path) -> dict:
    return {
        "name": "coco",
        "layout": "coco_json",
        "root": str(root),
        "annotations": "annotations/instances_val2017.json",
        "images_dir": "val2017",
    }


def test_coco_json_objects_match_pycocotools(tmp_path):
    from pycocotools.coco import COCO

    path, anns = write_coco(tmp_path / "coco")
    cfg = coco_config(tmp_path / "coco")
    found = datasets.scan(cfg)
    ids = [s.image_id for s in found.samples]
    assert ids == ["000000000001#11", "000000000001#12", "000000000001#13", "000000000002#21"]
    assert any("1 crowd annotations" in p.reason for p in found.stray)
    reference = COCO(str(path))
    for s in found.samples:
        ann_id = datasets.split_object_id(s.image_id)[1]
        notes = []
        image, gt, ignore = datasets.load_sample(s, "coco_json", notes)
        want = reference.annToMask(reference.anns[ann_id]).astype(bool)
        np.testing.assert_array_equal(gt, want)
        assert gt.sum() > 100 and ignore is None and image.shape[:2] == gt.shape
        assert s.image.parent == tmp_path / "coco" / "val2017"
    _, labels = coins_labels(n=4)
    for s in found.samples[1:3]:  # the RLE ones decode exactly
        k = {"000000000001#12": 2, "000000000001#13": 3}[s.image_id]
        np.testing.assert_array_equal(datasets.load_sample(s, "coco_json")[1], labels == k)


def test_coco_json_bad_files_are_named(tmp_path):
    path, _ = write_coco(tmp_path / "coco")
    cfg = coco_config(tmp_path / "coco")
    data = json.loads(path.read_text())
    data["images"][1]["height"] = 500  # the record disagrees with the photo's size
    path.write_text(json.dumps(data))
    s = next(s for s in datasets.scan(cfg).samples if s.image_id.endswith("#21"))
    with pytest.raises(BadInputError, match="differs from its image's size") as err:
        datasets.load_sample(s, "coco_json")
    assert err.value.path == str(path)
    path.write_text('{"images": [], "annotations": [')
    with pytest.raises(BadInputError, match="not valid JSON"):
        datasets.scan(cfg)
    data["annotations"][0]["image_id"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(BadInputError, match="names image_id 99, not listed"):
        datasets.scan(cfg)


def test_labels_are_read_once_per_file(tmp_path):
    """The objects of one image share one read of their mask (a cache keyed by the file's
    path, modification time and size): a rewritten file is read again."""
    _, labels = coins_labels(n=3)
    path = tmp_path / "m.png"
    Image.fromarray(labels.astype(np.uint8)).save(path)
    instances._read_labels.cache_clear()
    for k in (1, 2, 3):
        datasets.load_ground_truth(path, "instances", labels.shape, k)
    assert instances._read_labels.cache_info().misses == 1
    Image.fromarray((labels == 1).astype(np.uint8) * 7).save(path)
    gt, _ = datasets.load_ground_truth(path, "instances", labels.shape, 7)
    np.testing.assert_array_equal(gt, labels == 1)


def test_split_name_without_a_mask_names_the_file_looked_for(voc_root):
    split = voc_root / "ImageSets" / "Segmentation" / "val.txt"
    split.write_text("2007_000032\n2007_000033\n")  # 000033 has a photo but no mask
    cfg = {"name": "VOC", "layout": "pascal_voc", "root": str(voc_root), "split": "val"}
    (sample,) = [s for s in datasets.scan(cfg).samples if s.image_id == "2007_000033"]
    _, skipped = datasets.try_load(sample, "pascal_voc", "skip")
    assert "no ground-truth mask" in skipped.problem
    assert str(voc_root / "SegmentationObject" / "2007_000033.png") in skipped.problem


def test_object_ids_are_remembered_between_runs(sbd_root, tmp_path, monkeypatch):
    """Discovery reads each instance mask once, then takes its ids from the cache until the
    file changes."""
    cfg = {"name": "SBD", "layout": "sbd", "root": str(sbd_root), "split": "val"}
    cache = tmp_path / "cache"
    first = datasets.scan(cfg, cache)
    (index_file,) = (cache / "objects").glob("sbd-*.json")
    reads = []
    real = instances.read_labels
    monkeypatch.setattr(
        instances, "read_labels", lambda p, layout: reads.append(p) or real(p, layout)
    )
    assert datasets.scan(cfg, cache) == first and reads == []
    changed = sbd_root / "inst" / "2008_000001.mat"
    _, labels = coins_labels()
    write_sbd_mat(changed, labels[:160, :200] * (labels[:160, :200] == 1))
    again = datasets.scan(cfg, cache)
    assert reads == [changed]
    ids = [s.image_id for s in again.samples if s.image_id.startswith("2008_000001")]
    assert ids == ["2008_000001#1"]
    assert datasets.scan(cfg) == again  # no cache: the same samples
    index_file.write_text("{not json")  # a damaged index is rebuilt
    assert datasets.scan(cfg, cache) == again


def test_runner_scores_each_object_against_its_own_mask(tmp_path):
    """Two COCO objects of one photo through the runner (OpenCV GrabCut seeded by the first
    click): each click lies on its own object and each IoU is against that object."""
    from clickbench import metrics, runner, traces

    write_coco(tmp_path / "coco")
    samples = datasets.scan(coco_config(tmp_path / "coco")).samples[:2]
    assert {datasets.split_object_id(s.image_id)[0] for s in samples} == {"000000000001"}
    job = runner.ModelJob(
        model="grabcut",
        spec={"type": "grabcut"},
        protocols={"first_click": {"strategies": ["max_score"]}},
        layout="coco_json",
        device="cpu",
        precision="fp32",
        cache_dir=str(tmp_path / "cache"),
    )
    for s in samples:
        task = runner.ImageTask(s.cls, s.image_id, str(s.image), str(s.mask))
        out = {n: str(tmp_path / "out" / s.image_id / n) for n in job.output_files()}
        assert runner.run_image(job, task, out) == "computed"
        (trace,) = traces.load_traces(out["first_click_npz"]).values()
        ann = datasets.split_object_id(s.image_id)[1]
        gt = instances.coco_object_mask(s.mask, ann)
        row, col, positive = trace.clicks[0]
        assert positive == 1 and gt[row, col]
        want = metrics.iou_batch(gt, None, trace.masks[0])
        np.testing.assert_allclose(trace.ious[0], want, rtol=1e-6)


def test_config_readme_dataset_blocks_validate():
    """The instance-dataset blocks config/README.md shows pass the schema, and a dataset
    block without a needed key does not."""
    import re

    import yaml

    from clickbench import config

    readme = (Path(__file__).resolve().parents[1] / "config" / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"`(\{name: [^`]+\})`", readme)]
    assert {b["layout"] for b in blocks} == {"sbd", "pascal_voc", "coco_json", "instances"}
    rest = {
        "dedup": {"method": "none"},
        "models": {"g": {"type": "grabcut"}},
        "protocols": {"noc": {"models": ["g"]}},
    }
    for block in blocks:
        config.validate({"dataset": block, **rest})
    coco = next(b for b in blocks if b["layout"] == "coco_json")
    with pytest.raises(config.ConfigError, match="annotations"):
        config.validate({"dataset": {k: v for k, v in coco.items() if k != "annotations"}, **rest})
