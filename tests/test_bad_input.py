"""Every kind of bad dataset input gets a clear error naming the file and the problem,
or, with ``on_bad_input: skip``, a listed skip."""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from clickbench import datasets
from clickbench.datasets import Sample, Skipped, load_ground_truth, load_image, try_load
from clickbench.errors import BadInputError

H, W = 48, 64


def good_rgb(path: Path, size=(H, W)) -> Path:
    arr = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(arr, "RGB").save(path)
    return path


def good_mask(path: Path, size=(H, W)) -> Path:
    values = np.zeros(size, np.uint8)
    values[10:30, 10:40] = 255
    Image.fromarray(values, "L").save(path)
    return path


def raw_png(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return path


def expect(fn, path: Path, *words: str) -> BadInputError:
    """``fn()`` raises a BadInputError whose message names ``path`` and every word."""
    with pytest.raises(BadInputError) as info:
        fn()
    err = info.value
    msg = str(err)
    assert err.path == str(path)
    assert msg.startswith(f"{path}: ")
    for word in words:
        assert word in msg, f"{word!r} not in {msg!r}"
    assert "Traceback" not in msg
    return err


# --------------------------------------------------------------------------- images


def test_missing_image(tmp_path):
    expect(lambda: load_image(tmp_path / "nope.png"), tmp_path / "nope.png", "image file not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    expect(lambda: load_image(path), path, "empty (0 bytes)")


def test_folder_instead_of_image(tmp_path):
    expect(lambda: load_image(tmp_path), tmp_path, "is a folder")


def test_corrupt_bytes(tmp_path):
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    expect(lambda: load_image(path), path, "corrupt", "not an image")


def test_corrupt_png_data(tmp_path):
    path = good_rgb(tmp_path / "flipped.png")
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # inside IDAT: the zlib stream or its CRC breaks
    path.write_bytes(bytes(data))
    expect(lambda: load_image(path), path, "corrupt", "cannot be fully decoded")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_image(tmp_path, ext):
    path = good_rgb(tmp_path / f"cut{ext}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect(lambda: load_image(path), path, "truncated", "cannot be fully decoded")


def test_zero_size_image(tmp_path):
    path = raw_png(tmp_path / "zero.png", 0, 10)
    expect(lambda: load_image(path), path, "zero size", "0 x 10")


def test_decompression_bomb(tmp_path):
    path = raw_png(tmp_path / "bomb.png", 20000, 20000)
    expect(lambda: load_image(path), path, "too large to decode safely")


def test_rgba_with_transparency(tmp_path):
    arr = np.full((H, W, 4), 200, np.uint8)
    arr[..., 3] = 0
    path = tmp_path / "rgba.png"
    Image.fromarray(arr, "RGBA").save(path)
    expect(lambda: load_image(path), path, "transparency", "RGBA", "alpha channel would be dropped")
    expect(lambda: load_image(path), path, "convert('RGB')")


def test_opaque_rgba_is_accepted(tmp_path):
    arr = np.full((H, W, 4), 255, np.uint8)
    arr[..., 0] = 7
    path = tmp_path / "opaque.png"
    Image.fromarray(arr, "RGBA").save(path)
    image = load_image(path)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8 and (image[..., 0] == 7).all()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16_bit_image(tmp_path, channels, ext):
    shape = (H, W) if channels == 1 else (H, W, 3)
    path = tmp_path / f"deep{ext}"
    cv2.imwrite(str(path), np.full(shape, 40000, np.uint16))
    expect(lambda: load_image(path), path, "16-bit image", "expected 8-bit RGB")


@pytest.mark.parametrize("mode, words", [("P", "palette"), ("1", "black")])
def test_palette_and_bilevel_images(tmp_path, mode, words):
    path = tmp_path / f"{mode}.png"
    Image.fromarray(np.zeros((H, W), np.uint8), "L").convert(mode).save(path)
    expect(lambda: load_image(path), path, f"expected 8-bit RGB or grayscale, got mode {mode}")
    expect(lambda: load_image(path), path, words, "convert('RGB')")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_grayscale_photo_is_read_as_cv2_reads_it(tmp_path, ext):
    """A grayscale photograph (scikit-image's camera) is read as RITM reads it: cv2.imread
    replicates the channel into three. The read is listed as a note, never silent."""
    skdata = pytest.importorskip("skimage.data")
    path = tmp_path / f"camera{ext}"
    Image.fromarray(skdata.camera(), "L").save(path)
    notes = []
    image = load_image(path, notes)
    reference = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert image.shape == reference.shape == (*skdata.camera().shape, 3)
    np.testing.assert_array_equal(image, reference)
    assert [n.path for n in notes] == [str(path)] and "grayscale" in notes[0].note
    assert (image[..., 0] == image[..., 2]).all()


def test_grayscale_with_transparency_is_refused(tmp_path):
    arr = np.zeros((H, W, 2), np.uint8)
    arr[..., 1] = 255
    arr[0, 0, 1] = 0
    path = tmp_path / "la.png"
    Image.fromarray(arr, "LA").save(path)
    expect(lambda: load_image(path), path, "transparency (mode LA)")


# --------------------------------------------------------------------------- masks


def test_mask_of_another_size(tmp_path):
    path = good_mask(tmp_path / "m.png", size=(30, 40))
    expect(
        lambda: load_ground_truth(path, "fish", (H, W, 3)),
        path,
        "mask size 40 x 30 (width x height)",
        f"image's size {W} x {H} (width x height)",
    )


def test_missing_mask_file(tmp_path):
    path = tmp_path / "gone.png"
    expect(lambda: load_ground_truth(path, "fish", (H, W)), path, "mask file not found")


def test_sample_without_mask(tmp_path):
    image = good_rgb(tmp_path / "00001.png")
    expected = tmp_path / "GT" / "00001.png"
    sample = Sample("Shrimp", "00001", image, None, expected)
    expect(
        lambda: datasets.load_sample(sample, "fish"),
        image,
        "no ground-truth mask found",
        str(expected),
    )


def test_corrupt_mask(tmp_path):
    path = tmp_path / "m.png"
    path.write_bytes(np.random.default_rng(2).bytes(300))
    expect(lambda: load_ground_truth(path, "fish", (H, W)), path, "mask file is corrupt")
    path.write_bytes(b"\x89PNG\r\n\x1a\n garbage")  # a PNG signature, then nothing usable
    expect(lambda: load_ground_truth(path, "fish", (H, W)), path, "mask file is", "truncated")


@pytest.mark.parametrize("layout", ["fish", "generic", "grabcut", "davis"])
def test_empty_mask(tmp_path, layout):
    path = tmp_path / "m.png"
    Image.fromarray(np.zeros((H, W), np.uint8), "L").save(path)
    expect(
        lambda: load_ground_truth(path, layout, (H, W)),
        path,
        "mask is empty",
        "no object pixels",
        "cannot be evaluated",
    )


@pytest.mark.parametrize("layout, rule", [("generic", ">= 128"), ("grabcut", "> 128")])
def test_instance_ids_under_a_binary_layout_are_named_not_called_empty(tmp_path, layout, rule):
    """A mask with values {0, 1, 2} is not "empty, every pixel background": the message says
    which values it holds, how the layout reads them, and that it is an instance mask."""
    values = np.zeros((H, W), np.uint8)
    values[5:15, 5:15] = 1
    values[20:30, 30:40] = 2
    path = tmp_path / "m.png"
    Image.fromarray(values, "L").save(path)
    err = expect(
        lambda: load_ground_truth(path, layout, (H, W)),
        path,
        "no object pixels",
        rule,
        "its values are 0, 1, 2",
        "instance mask",
        "layout 'instances'",
    )
    assert "every pixel is" not in str(err) and "empty" not in str(err)


def test_grabcut_mask_all_ignore_is_empty(tmp_path):
    path = tmp_path / "m.bmp"
    Image.fromarray(np.full((H, W), 128, np.uint8), "L").save(path)
    expect(lambda: load_ground_truth(path, "grabcut", (H, W)), path, "no object pixels", "ignore")


def test_colour_mask_with_differing_channels(tmp_path):
    arr = np.zeros((H, W, 3), np.uint8)
    arr[10:20, 10:20] = (255, 0, 0)
    path = tmp_path / "m.png"
    Image.fromarray(arr, "RGB").save(path)
    expect(lambda: load_ground_truth(path, "fish", (H, W)), path, "channels differ")
    # RITM's DAVIS reader takes the largest channel: accepted there
    gt, _ = load_ground_truth(path, "davis", (H, W))
    assert gt.sum() == 100


def test_non_binary_fish_mask(tmp_path):
    values = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))  # a ramp: grey everywhere
    path = tmp_path / "m.png"
    Image.fromarray(values, "L").save(path)
    expect(lambda: load_ground_truth(path, "fish", (H, W)), path, "mask is not binary", "grey")


def test_16_bit_mask(tmp_path):
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), np.full((H, W), 65535, np.uint16))
    expect(lambda: load_ground_truth(path, "fish", (H, W)), path, "16-bit mask")


def test_mask_with_transparency(tmp_path):
    arr = np.zeros((H, W, 4), np.uint8)
    arr[..., 3] = 255
    arr[5:10, 5:10, 3] = 0
    path = tmp_path / "m.png"
    Image.fromarray(arr, "RGBA").save(path)
    expect(lambda: load_ground_truth(path, "fish", (H, W)), path, "transparency")


# --------------------------------------------------------------------------- policy


def test_try_load_error_raises_skip_lists(tmp_path, caplog):
    image = good_rgb(tmp_path / "00002.png")
    mask = good_mask(tmp_path / "00002_gt.png", size=(H + 1, W))
    sample = Sample("Gilt-Head Bream", "00002", image, mask)
    with pytest.raises(BadInputError, match="mask size"):
        try_load(sample, "fish", "error")
    with caplog.at_level(logging.WARNING, logger="clickbench.datasets"):
        result, skipped = try_load(sample, "fish", "skip")
    assert result is None
    assert skipped == Skipped("Gilt-Head Bream", "00002", str(mask), skipped.problem)
    assert "mask size" in skipped.problem and str(mask) in str(skipped)
    assert skipped.row() == ("Gilt-Head Bream", "00002", str(mask), skipped.problem)
    assert Skipped.COLUMNS == ("class", "image", "path", "problem")
    assert str(mask) in caplog.text  # a skip is never silent


def test_try_load_good_sample_and_bad_policy(tmp_path):
    sample = Sample("Shrimp", "1", good_rgb(tmp_path / "1.png"), good_mask(tmp_path / "1m.png"))
    (image, gt, ignore), skipped = try_load(sample, "fish", "skip")
    assert skipped is None and image.shape == (H, W, 3) and gt.sum() == 20 * 30
    assert ignore is None
    with pytest.raises(ValueError, match="on_bad_input"):
        try_load(sample, "fish", "ignore")


def test_skip_mode_lists_every_kind(tmp_path):
    """In skip mode each bad sample becomes one listed problem; good ones still load."""
    good = Sample("A", "good", good_rgb(tmp_path / "g.png"), good_mask(tmp_path / "gm.png"))
    palette = tmp_path / "palette.png"
    Image.fromarray(np.zeros((H, W), np.uint8), "L").convert("P").save(palette)
    empty = tmp_path / "empty_m.png"
    Image.fromarray(np.zeros((H, W), np.uint8), "L").save(empty)
    bad = [
        Sample("A", "palette", palette, good_mask(tmp_path / "m1.png")),
        Sample("A", "nomask", good_rgb(tmp_path / "n.png"), None),
        Sample("A", "empty", good_rgb(tmp_path / "e.png"), empty),
        Sample("A", "missing", tmp_path / "missing.png", good_mask(tmp_path / "m2.png")),
    ]
    results = [try_load(s, "fish", "skip") for s in [good, *bad]]
    assert results[0][1] is None
    problems = {r[1].image_id: r[1].problem for r in results[1:]}
    assert set(problems) == {"palette", "nomask", "empty", "missing"}
    assert "got mode P" in problems["palette"]
    assert "no ground-truth mask" in problems["nomask"]
    assert "no object pixels" in problems["empty"]
    assert "not found" in problems["missing"]
