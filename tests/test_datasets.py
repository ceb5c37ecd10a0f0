"""Dataset readers on small generated trees, and the GrabCut reader on the real benchmark."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clickbench import datasets
from clickbench.datasets import check_slugs, discover, scan, slug
from clickbench.errors import BadInputError
from clickbench.native import find_native, scan_native

GRABCUT = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "GrabCut"

H, W = 24, 32


def rgb(path: Path, seed: int = 0, size=(H, W)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(arr, "RGB").save(path)
    return path


def mask(path: Path, values: np.ndarray | None = None, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if values is None:
        values = np.zeros((H, W), np.uint8)
        values[6:18, 8:24] = 255
    im = Image.fromarray(values.astype(np.uint8), "L")
    if mode == "RGB":
        im = im.convert("RGB")
    im.save(path)
    return path


# --------------------------------------------------------------------------- slug


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Hourse Mackerel", "hourse_mackerel"),
        ("Gilt-Head Bream", "gilt_head_bream"),
        ("Shrimp", "shrimp"),
        ("  Red  Sea--Bream! ", "red_sea_bream"),
        ("GrabCut", "grabcut"),
    ],
)
def test_slug(name, expected):
    assert slug(name) == expected


def test_check_slugs_names_both_colliding_classes():
    with pytest.raises(BadInputError) as err:
        check_slugs(["Sea Bass", "Trout", "Sea-Bass"], "/data/fish")
    msg = str(err.value)
    assert "'Sea Bass'" in msg and "'Sea-Bass'" in msg and "sea_bass" in msg
    assert msg.startswith("/data/fish")
    assert check_slugs(["Gilt-Head Bream", "Shrimp"]) == {
        "Gilt-Head Bream": "gilt_head_bream",
        "Shrimp": "shrimp",
    }


# --------------------------------------------------------------------------- fish


CLASSES = ["Shrimp", "Gilt-Head Bream", "Hourse Mackerel"]


def fish_tree(classes_root: Path, ids=("00003", "00001", "00002")) -> None:
    for c, cls in enumerate(CLASSES):
        for i, stem in enumerate(ids):
            rgb(classes_root / cls / cls / f"{stem}.png", seed=10 * c + i)
            mask(classes_root / cls / f"{cls} GT" / f"{stem}.png")


def fish_cfg(root: Path, **extra) -> dict:
    return {"name": "fish", "layout": "fish", "root": str(root), **extra}


@pytest.mark.parametrize("level", ["inner", "outer", "download"])
def test_fish_root_at_any_level_sorted(tmp_path, level):
    download = tmp_path / "dl"
    fish_tree(download / "Fish_Dataset" / "Fish_Dataset")
    root = {
        "inner": download / "Fish_Dataset" / "Fish_Dataset",
        "outer": download / "Fish_Dataset",
        "download": download,
    }[level]
    samples = discover(fish_cfg(root))
    assert [(s.cls, s.image_id) for s in samples] == [
        (cls, i) for cls in sorted(CLASSES) for i in ("00001", "00002", "00003")
    ]
    s = samples[0]
    inner = download / "Fish_Dataset" / "Fish_Dataset"
    assert s.image == inner / "Gilt-Head Bream" / "Gilt-Head Bream" / "00001.png"
    assert s.mask == inner / "Gilt-Head Bream" / "Gilt-Head Bream GT" / "00001.png"
    image, gt, ignore = datasets.load_sample(s, "fish")
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    assert gt.shape == (H, W) and gt.dtype == bool and gt.sum() == 12 * 16 and ignore is None


def test_fish_stray_files_reported_not_silent(tmp_path, caplog):
    outer = tmp_path / "Fish_Dataset"
    inner = outer / "Fish_Dataset"
    fish_tree(inner)
    (inner / "README.txt").write_text("readme")
    (inner / "license.txt").write_text("license")
    (outer / "notes.md").write_text("x")
    (inner / "Shrimp" / "Shrimp" / ".DS_Store").write_bytes(b"\0")
    (inner / "Shrimp" / "Shrimp" / "Thumbs.db").write_bytes(b"\0")
    mask(inner / "Shrimp" / "Shrimp GT" / "00099.png")  # mask with no image
    found = scan(fish_cfg(outer))
    stray = {p.path.name: p.reason for p in found.stray}
    assert set(stray) == {
        "README.txt",
        "license.txt",
        "notes.md",
        ".DS_Store",
        "Thumbs.db",
        "00099.png",
    }
    assert "mask without an image" in stray["00099.png"]
    assert stray[".DS_Store"] == "hidden file"
    assert len(found.samples) == 9
    with caplog.at_level(logging.WARNING, logger="clickbench.datasets"):
        discover(fish_cfg(outer))
    assert "README.txt" in caplog.text and "00099.png" in caplog.text


def test_fish_image_without_mask_is_recorded(tmp_path):
    fish_tree(tmp_path)
    rgb(tmp_path / "Shrimp" / "Shrimp" / "00004.png")
    samples = discover(fish_cfg(tmp_path))
    lone = [s for s in samples if s.image_id == "00004"]
    assert len(lone) == 1 and lone[0].mask is None
    assert lone[0].expected_mask == tmp_path / "Shrimp" / "Shrimp GT" / "00004.png"


def test_fish_class_filter_and_unknown_class(tmp_path):
    fish_tree(tmp_path)
    samples = discover(fish_cfg(tmp_path, classes=["Shrimp"]))
    assert {s.cls for s in samples} == {"Shrimp"} and len(samples) == 3
    with pytest.raises(BadInputError, match="'Trout', not found; classes present: 'Gilt-Head"):
        discover(fish_cfg(tmp_path, classes=["Trout"]))


def test_fish_slug_collision_is_an_error(tmp_path):
    for cls in ("Sea Bass", "Sea-Bass"):
        rgb(tmp_path / cls / cls / "00001.png")
        mask(tmp_path / cls / f"{cls} GT" / "00001.png")
    with pytest.raises(BadInputError, match="'Sea Bass' and 'Sea-Bass' both map"):
        discover(fish_cfg(tmp_path))


def test_fish_missing_root_and_wrong_layout(tmp_path):
    with pytest.raises(BadInputError, match="dataset folder not found"):
        discover(fish_cfg(tmp_path / "nope"))
    (tmp_path / "somewhere").mkdir()
    with pytest.raises(BadInputError, match="no fish class folders found"):
        discover(fish_cfg(tmp_path / "somewhere"))


def native_tree(folder: Path) -> None:
    rgb(folder / "Gilt Head Bream" / "10.JPG")
    rgb(folder / "Gilt Head Bream" / "2.png")
    rgb(folder / "Gilt Head Bream" / "1.jpg")
    rgb(folder / "shrimp" / "00001.png")
    (folder / "Gilt Head Bream" / "desktop.ini").write_text("x")
    rgb(folder / "Unknown Fish" / "1.png")


@pytest.mark.parametrize("where", ["beside_outer", "at_given_level"])
def test_find_native_matches_spelling(tmp_path, where):
    inner = tmp_path / "dl" / "Fish_Dataset" / "Fish_Dataset"
    fish_tree(inner)
    folder = {
        "beside_outer": tmp_path / "dl" / "NA_Fish_Dataset",
        "at_given_level": inner / "NA_Fish_Dataset",
    }[where]
    native_tree(folder)
    for root in (inner, inner.parent):
        if where == "at_given_level" and root != inner:
            continue
        found = scan_native(root)
        assert found.folder == folder
        assert found.images == {
            "Gilt-Head Bream": [
                folder / "Gilt Head Bream" / n for n in ("1.jpg", "2.png", "10.JPG")
            ],
            "Shrimp": [folder / "shrimp" / "00001.png"],
        }
        assert found.unmatched == (folder / "Unknown Fish",)
        assert [s.path.name for s in found.stray] == ["desktop.ini"]
        assert find_native(root) == found.images
    # the NA folder is not a class of the masked set, nor a stray file
    found = scan(fish_cfg(inner))
    assert {s.cls for s in found.samples} == set(CLASSES)
    assert not any("NA_Fish_Dataset" in str(s.path) for s in found.stray)


def test_find_native_absent(tmp_path):
    fish_tree(tmp_path / "Fish_Dataset")
    assert find_native(tmp_path / "Fish_Dataset") == {}
    assert scan_native(tmp_path / "Fish_Dataset").folder is None


# --------------------------------------------------------------------------- RITM layouts


def test_grabcut_ignore_band(tmp_path):
    values = np.zeros((H, W), np.uint8)
    values[4:20, 6:26] = 128
    values[6:18, 8:24] = 255
    rgb(tmp_path / "data_GT" / "b.jpg")
    rgb(tmp_path / "data_GT" / "a.bmp")
    rgb(tmp_path / "data_GT" / "c.JPG")
    for stem in "abc":
        mask(tmp_path / "boundary_GT" / f"{stem}.bmp", values)
    (tmp_path / "data_GT" / "notes.txt").write_text("x")
    found = scan({"name": "GrabCut", "layout": "grabcut", "root": str(tmp_path)})
    assert [(s.cls, s.image_id) for s in found.samples] == [("GrabCut", x) for x in "abc"]
    assert [s.path.name for s in found.stray] == ["notes.txt"]
    _, gt, ignore = datasets.load_sample(found.samples[0], "grabcut")
    assert gt.sum() == 12 * 16
    assert ignore is not None and ignore.sum() == 16 * 20 - 12 * 16
    assert not (gt & ignore).any()


def test_grabcut_missing_folder(tmp_path):
    rgb(tmp_path / "data_GT" / "a.jpg")
    with pytest.raises(BadInputError, match="boundary_GT: mask folder not found"):
        scan({"name": "GrabCut", "layout": "grabcut", "root": str(tmp_path)})


def palette_mask(path: Path, index: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(index.astype(np.uint8), "P")
    pal = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9)
    im.putpalette(pal)
    im.save(path)
    return path


@pytest.mark.parametrize("layout", ["davis", "coco_mval"])
def test_davis_palette_foreground_is_nonzero(tmp_path, layout):
    index = np.zeros((H, W), np.uint8)
    index[2:6, 2:6] = 1
    index[10:20, 10:20] = 2
    rgb(tmp_path / "img" / "frame.jpg")
    palette_mask(tmp_path / "gt" / "frame.png", index)
    (sample,) = discover({"name": "DAVIS", "layout": layout, "root": str(tmp_path)})
    assert sample.cls == "DAVIS" and sample.image_id == "frame"
    _, gt, ignore = datasets.load_sample(sample, layout)
    assert ignore is None
    np.testing.assert_array_equal(gt, index > 0)


@pytest.mark.parametrize("dirs", [("images", "masks"), ("img", "gt")])
def test_berkeley(tmp_path, dirs):
    values = np.zeros((H, W), np.uint8)
    values[3:9, 3:9] = 255
    rgb(tmp_path / dirs[0] / "42049.jpg")
    mask(tmp_path / dirs[1] / "42049.png", values)
    (sample,) = discover({"name": "Berkeley", "layout": "berkeley", "root": str(tmp_path)})
    assert sample.mask == tmp_path / dirs[1] / "42049.png"
    _, gt, ignore = datasets.load_sample(sample, "berkeley")
    assert gt.sum() == 36 and ignore is None


# --------------------------------------------------------------------------- generic


def test_generic_with_suffix_single_class(tmp_path):
    for stem in ("b", "a"):
        rgb(tmp_path / "pics" / f"{stem}.jpg")
        mask(tmp_path / "labels" / f"{stem}_mask.png")
    rgb(tmp_path / "pics" / "c.png")  # no mask
    mask(tmp_path / "labels" / "z_mask.png")  # no image
    cfg = {
        "name": "mine",
        "layout": "generic",
        "root": str(tmp_path),
        "images_dir": "pics",
        "masks_dir": "labels",
        "mask_suffix": "_mask.png",
    }
    found = scan(cfg)
    assert [(s.cls, s.image_id, s.mask) for s in found.samples] == [
        ("mine", "a", tmp_path / "labels" / "a_mask.png"),
        ("mine", "b", tmp_path / "labels" / "b_mask.png"),
        ("mine", "c", None),
    ]
    assert found.samples[2].expected_mask == tmp_path / "labels" / "c_mask.png"
    assert [s.path.name for s in found.stray] == ["z_mask.png"]
    _, gt, _ = datasets.load_sample(found.samples[0], "generic")
    assert gt.sum() == 12 * 16


def test_generic_class_subfolders_and_masks_beside_images(tmp_path):
    for cls in ("Dogs", "Cats"):
        rgb(tmp_path / "data" / cls / "1.png")
        mask(tmp_path / "data" / cls / "1_gt.png")
    (tmp_path / "data" / "README").write_text("x")
    cfg = {
        "name": "pets",
        "layout": "generic",
        "root": str(tmp_path),
        "images_dir": "data",
        "masks_dir": "data",
        "mask_suffix": "_gt.png",
    }
    found = scan(cfg)
    assert [(s.cls, s.image_id, s.mask.name) for s in found.samples] == [
        ("Cats", "1", "1_gt.png"),
        ("Dogs", "1", "1_gt.png"),
    ]
    assert [s.path.name for s in found.stray] == ["README"]


def test_generic_accepts_zero_one_masks(tmp_path):
    values = np.zeros((H, W), np.uint8)
    values[:5, :5] = 1
    gt, ignore = datasets.load_ground_truth(mask(tmp_path / "m.png", values), "generic", (H, W))
    assert gt.sum() == 25 and ignore is None


def test_fish_mask_antialiased_edge_is_thresholded(tmp_path):
    values = np.zeros((H, W), np.uint8)
    values[6:18, 8:24] = 255
    values[5, 8:24] = 100  # anti-aliased rows along the edge
    values[18, 8:24] = 200
    gt, _ = datasets.load_ground_truth(mask(tmp_path / "m.png", values), "fish", (H, W, 3))
    assert gt.sum() == 13 * 16  # 200 -> object, 100 -> background


def test_fish_mask_rgb_with_equal_channels(tmp_path):
    path = mask(tmp_path / "m.png", mode="RGB")
    assert Image.open(path).mode == "RGB"
    gt, _ = datasets.load_ground_truth(path, "fish", (H, W))
    assert gt.sum() == 12 * 16


# --------------------------------------------------------------------------- real GrabCut


@pytest.fixture(scope="module")
def grabcut_samples():
    if not GRABCUT.is_dir():
        pytest.skip(
            f"real GrabCut benchmark not present at {GRABCUT} (a fresh clone has no ../shared)"
        )
    return discover({"name": "GrabCut", "layout": "grabcut", "root": str(GRABCUT)})


def test_real_grabcut_loads(grabcut_samples):
    assert len(grabcut_samples) == 50
    assert [s.image_id for s in grabcut_samples] == sorted(s.image_id for s in grabcut_samples)
    with_band = 0
    for s in grabcut_samples:
        assert s.mask is not None and s.mask.suffix == ".bmp"
        image, gt, ignore = datasets.load_sample(s, "grabcut")
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert gt.shape == image.shape[:2] and gt.any()
        with_band += ignore is not None
    assert with_band >= 40  # 42 of the 50 masks carry the 128 band


def test_real_grabcut_matches_ritm(grabcut_samples):
    ritm = pytest.importorskip(
        "ritm_annotation.data.datasets", reason="ritm-annotation not installed"
    )
    ds = ritm.GrabCutDataset(GRABCUT)
    assert len(ds.dataset_samples) == len(grabcut_samples)
    ours = {s.image.name: s for s in grabcut_samples}
    for index, name in enumerate(ds.dataset_samples):
        sample = ds.get_sample(index)
        ref = sample.gt_mask  # 1 object, -1 ignore, 0 background
        image, gt, ignore = datasets.load_sample(ours[name], "grabcut")
        np.testing.assert_array_equal(gt, ref == 1, err_msg=name)
        np.testing.assert_array_equal(
            ignore if ignore is not None else np.zeros_like(gt), ref == -1, err_msg=name
        )
        # cv2 and Pillow may decode JPEG slightly differently; the pixels must agree closely
        assert image.shape == sample.image.shape, name
        diff = np.abs(image.astype(int) - sample.image.astype(int))
        assert diff.mean() < 1.0, name
