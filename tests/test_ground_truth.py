"""Binary masks as real files store them: anti-aliased edges are read silently, a
JPEG-compressed mask is thresholded and listed, a soft matte is refused. The thresholds of
clickbench.loading (JPEG_*) come from these measurements on the real GrabCut masks."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from conftest import GRABCUT, requires_grabcut
from PIL import Image

from clickbench import datasets
from clickbench.errors import BadInputError


def jpeg(values: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L"))


def variants(binary: np.ndarray) -> dict[str, tuple[np.ndarray, str]]:
    """Ways a real binary mask is stored, and what reading each must do: ``plain`` (no note),
    ``jpeg`` (thresholded, listed) or ``error`` (not a binary mask)."""
    h, w = binary.shape
    f = binary.astype(np.float32)
    out = {
        "binary": (binary, "plain"),
        "area 0.5": (cv2.resize(binary, (w // 2, h // 2), interpolation=cv2.INTER_AREA), "plain"),
        "bilinear 0.73": (
            cv2.resize(binary, (int(w * 0.73), int(h * 0.73)), interpolation=cv2.INTER_LINEAR),
            "plain",
        ),
        "lanczos 0.6": (
            np.clip(
                cv2.resize(f, (int(w * 0.6), int(h * 0.6)), interpolation=cv2.INTER_LANCZOS4),
                0,
                255,
            )
            .round()
            .astype(np.uint8),
            "plain",
        ),
        "bicubic 1.3": (
            np.clip(
                cv2.resize(f, (int(w * 1.3), int(h * 1.3)), interpolation=cv2.INTER_CUBIC), 0, 255
            )
            .round()
            .astype(np.uint8),
            "plain",
        ),
        "blur 5x5": (cv2.GaussianBlur(binary, (5, 5), 0), "plain"),
        "matte sigma 4": (cv2.GaussianBlur(binary, (0, 0), 4), "error"),
    }
    for q in (30, 75, 95):  # measured at 30, 50, 75, 90, 95, 98, 100
        out[f"jpeg {q}"] = (jpeg(binary, q), "jpeg")
    small = cv2.resize(binary, (int(w * 0.73), int(h * 0.73)), interpolation=cv2.INTER_LINEAR)
    out["bilinear 0.73 + jpeg 90"] = (jpeg(small, 90), "jpeg")
    return out


def check(binary: np.ndarray, tmp_path, name: str) -> None:
    for label, (values, expected) in variants(binary).items():
        path = tmp_path / f"{name} {label}.png"
        Image.fromarray(values).save(path, compress_level=0)
        notes = []
        if expected == "error":
            with pytest.raises(BadInputError, match="mask is not binary"):
                datasets.load_ground_truth(path, "fish", values.shape, notes=notes)
            continue
        gt, ignore = datasets.load_ground_truth(path, "generic", values.shape, notes=notes)
        assert ignore is None
        if expected == "plain":
            assert notes == [], f"{name} {label}: {notes}"
        else:
            assert [n.path for n in notes] == [str(path)], f"{name} {label}: not listed"
            assert "looks JPEG-compressed" in notes[0].note
            if values.shape == binary.shape:  # thresholding still recovers the object
                truth = binary >= 128
                inter = (gt & truth).sum() / (gt | truth).sum()
                assert inter > 0.98, f"{name} {label}: IoU {inter:.3f}"


@requires_grabcut()
def test_real_grabcut_masks_stored_every_way(tmp_path):
    """All 50 GrabCut masks (0/255 with the 128 band set to object), in every storage."""
    masks = sorted((GRABCUT / "boundary_GT").glob("*.bmp"))
    assert len(masks) == 50
    for path in masks:
        values = np.asarray(Image.open(path).convert("L"))
        check(np.where(values >= 128, 255, 0).astype(np.uint8), tmp_path, path.stem)


def test_scikit_image_silhouette_stored_every_way(tmp_path):
    """scikit-image's horse silhouette, a real binary mask that needs no download."""
    skdata = pytest.importorskip("skimage.data")
    horse = np.where(skdata.horse(), 0, 255).astype(np.uint8)  # the horse is False there
    check(horse, tmp_path, "horse")


def test_jpeg_mask_in_a_dataset_is_read_and_listed(tmp_path):
    """A JPEG-compressed mask of a fish sample loads under both policies (it is not bad
    input) and its note comes back for the warnings table."""
    skdata = pytest.importorskip("skimage.data")
    horse = np.where(skdata.horse(), 0, 255).astype(np.uint8)
    image = tmp_path / "00001.png"
    Image.fromarray(np.stack([horse] * 3, axis=2)).save(image)
    mask = tmp_path / "00001_mask.jpg"
    Image.fromarray(horse).save(mask, quality=75)
    sample = datasets.Sample("Horse", "00001", image, mask)
    for policy in ("error", "skip"):
        notes = []
        loaded, skipped = datasets.try_load(sample, "fish", policy, notes)
        assert skipped is None and loaded[1].shape == horse.shape
        assert [n.path for n in notes] == [str(mask)]


def test_dedup_table_lists_the_loaders_warnings(tmp_path):
    """What was read unusually reaches the dataset tables: the class table's ``warning``
    column, the warnings table and the per-class count of the summary."""
    from clickbench import dedup

    skdata = pytest.importorskip("skimage.data")
    horse = np.where(skdata.horse(), 0, 255).astype(np.uint8)
    h, w = horse.shape
    gray = tmp_path / "00001.png"
    Image.fromarray(cv2.resize(skdata.camera(), (w, h))).save(gray)
    rgb = tmp_path / "00002.png"
    Image.fromarray(cv2.resize(skdata.astronaut(), (w, h))).save(rgb)
    plain, jpg = tmp_path / "m1.png", tmp_path / "m2.jpg"
    Image.fromarray(horse).save(plain)
    Image.fromarray(horse).save(jpg, quality=90)
    samples = [
        datasets.Sample("Horse", "00001", gray, plain),
        datasets.Sample("Horse", "00002", rgb, jpg),
    ]
    table = dedup.dedup_class(samples, {"method": "none"}, layout="fish")
    assert list(table["status"]) == ["ok", "ok"] and table["selected"].sum() == 2
    assert table["warning"].str.startswith(("grayscale image", "mask looks JPEG")).all()
    listed = dedup.warnings_table({"Horse": table})
    assert list(listed.columns) == ["class", "image", "image_path", "mask_path", "warning"]
    assert list(listed["image"]) == ["00001", "00002"]
    assert list(listed["mask_path"]) == [str(plain), str(jpg)]
    summary = dedup.summarise({"Horse": table}).set_index("class")
    assert summary.loc["Horse", "warnings"] == 2
