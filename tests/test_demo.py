"""The embedded demo generator: layout, determinism, planned files, transforms and looks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clickbench import demo, demo_render
from clickbench.dedup import has_rotation_fill

SMALL = {"seed": 3, "species": ["Gilt-Head Bream", "Shrimp"], "originals": 2, "copies": 6}


def _files(base: Path) -> dict[str, bytes]:
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    manifest = demo.generate_from_config(base / "Fish_Dataset", SMALL)
    return base, manifest


def test_same_seed_same_bytes_other_seed_other_images(small, tmp_path):
    base, _ = small
    demo.generate_from_config(tmp_path / "a" / "Fish_Dataset", SMALL)
    assert _files(tmp_path / "a") == _files(base)
    demo.generate_from_config(tmp_path / "b" / "Fish_Dataset", {**SMALL, "seed": 4})
    other = _files(tmp_path / "b")
    first = "Fish_Dataset/Shrimp/Shrimp/00001.png"
    assert other[first] != _files(base)[first]


def test_planned_files_are_exactly_the_written_files(small):
    base, _ = small
    planned = demo.planned_files(base / "Fish_Dataset", SMALL)
    written = sorted(str(p) for p in base.rglob("*") if p.is_file() and p.name != "manifest.tsv")
    assert sorted(planned) == written
    assert (base / "manifest.tsv").is_file()
    # relative roots stay relative (the workflow declares them as outputs)
    rel = demo.planned_files("resources/demo/Fish_Dataset", SMALL)
    assert all(not Path(p).is_absolute() for p in rel)
    assert "resources/demo/NA_Fish_Dataset/Gilt Head Bream/00002.png" in rel
    assert "resources/demo/NA_Fish_Dataset/Shrimp/1.JPG" in rel


def test_kaggle_layout_sizes_and_masks(small):
    base, manifest = small
    root = base / "Fish_Dataset"
    assert sorted(p.name for p in root.iterdir()) == ["Gilt-Head Bream", "Shrimp"]
    for species in SMALL["species"]:
        images = sorted((root / species / species).iterdir())
        masks = sorted((root / species / f"{species} GT").iterdir())
        n = SMALL["originals"] * (SMALL["copies"] + 1)
        assert [p.name for p in images] == [f"{i:05d}.png" for i in range(1, n + 1)]
        assert [p.name for p in masks] == [p.name for p in images]
        for img_path, mask_path in zip(images[:3], masks[:3], strict=True):
            with Image.open(img_path) as im:
                assert (im.mode, im.size) == ("RGB", (590, 445))
            with Image.open(mask_path) as m:
                assert (m.mode, m.size) == ("L", (590, 445))
                values = set(np.unique(np.asarray(m)).tolist())
            assert values == {0, 255}
    assert set(manifest.columns) >= set(demo.MANIFEST_COLUMNS)


def test_native_folder_spelling_formats_and_gaps(small):
    base, manifest = small
    na = base / "NA_Fish_Dataset"
    assert sorted(p.name for p in na.iterdir()) == ["Gilt Head Bream", "Shrimp"]
    # species 0 writes 00001.png names, species 1 1.JPG; species 1 lacks one original's file
    assert sorted(p.name for p in (na / "Gilt Head Bream").iterdir()) == ["00001.png", "00002.png"]
    assert sorted(p.name for p in (na / "Shrimp").iterdir()) == ["1.JPG"]
    with Image.open(na / "Shrimp" / "1.JPG") as im:
        assert im.format == "JPEG" and im.size != (590, 445)
    originals = manifest[manifest["is_original"] == 1]
    shrimp = originals[originals["species"] == "Shrimp"]
    assert (shrimp["native"] != "").sum() == 1 and (shrimp["native"] == "").sum() == 1
    # every copy names its original's NA file
    for _, block in manifest[manifest["file"] != ""].groupby(["species", "original"]):
        assert block["native"].nunique() == 1


def test_three_species_set_has_an_na_only_photo(tmp_path):
    cfg = {"seed": 0, "species": ["Trout", "Red Mullet", "Sea Bass"], "originals": 1, "copies": 0}
    manifest = demo.generate_from_config(tmp_path / "Fish_Dataset", cfg)
    extra = manifest[manifest["transform"] == "native_only"]
    assert list(extra["species"]) == ["Sea Bass"]
    assert (tmp_path / extra["native"].iloc[0]).is_file()
    assert extra["file"].iloc[0] == "" and extra["is_original"].iloc[0] == 0


def test_blocks_are_consecutive_with_the_original_shuffled_in(small):
    _, manifest = small
    block = SMALL["copies"] + 1
    positions = []
    for _, m in manifest[manifest["file"] != ""].groupby("species"):
        numbers = m["image"].astype(int).to_numpy()
        originals = m["original"].to_numpy()
        assert list(originals) == sorted(originals)  # consecutive blocks
        assert all(np.sum(originals == o) == block for o in np.unique(originals))
        first = m[m["is_original"] == 1]
        assert len(first) == m["original"].nunique()
        positions += [(n - 1) % block for n in first["image"].astype(int)]
        assert sorted(m["transform"].unique()) == sorted(
            ["original", "rotate", "hflip", "rot90", "vflip", "rot180", "rot270"]
        )
        assert numbers.min() == 1
    assert len(set(positions)) > 1  # the original is not always the block's first file


def test_default_demo_index_rule_picks_rotated_copies():
    """The point of the demo: files 1, 1 + (copies + 1), ... are often not the originals."""
    cfg = {"seed": 0, "species": list(demo.DEFAULT_SPECIES), "originals": 3, "copies": 5}
    picked = []
    for species in cfg["species"]:
        items = list(demo.species_images(0, species, 3, 5))
        picked += [it.kind for it in items if (it.number - 1) % 6 == 0]
    assert any(k in ("rotate", "rot90", "rot270") for k in picked)


def test_copies_are_the_originals_transformed(small):
    """Each copy's mask is its original's mask under the manifest's transform, and rotated copies
    (and only they) show black fill."""
    base, manifest = small
    rows = manifest[manifest["file"] != ""]
    for (_species, _o), block in rows.groupby(["species", "original"]):
        orig = block[block["is_original"] == 1].iloc[0]
        omask = np.asarray(Image.open(base / orig["mask"])) > 127
        for _, r in block.iterrows():
            img = np.asarray(Image.open(base / r["file"]))
            mask = np.asarray(Image.open(base / r["mask"])) > 127
            _, expect = demo.transform(img, omask, r["transform"], float(r["angle"]))
            assert (expect == mask).mean() > 0.999, (r["file"], r["transform"])
            assert mask.shape == (445, 590)
            rotated = r["transform"] in ("rotate", "rot90", "rot270")
            assert has_rotation_fill(img) == rotated, (r["file"], r["transform"])


def test_rotation_fill_is_black_only_outside_the_photo():
    rng = np.random.default_rng(1)
    image, mask = demo_render.render_original(rng, "Trout")
    out, out_mask = demo.transform(image, mask, "rotate", 30.0)
    assert out[:5, :5].max() == 0 and out[-5:, -5:].max() == 0
    assert out[200:245, 270:320].min() > 0  # centre is photo
    bars, _ = demo.transform(image, mask, "rot90", 90.0)
    assert bars[:, :60].max() == 0 and bars[:, -60:].max() == 0
    assert bars[:, 200:390].mean() > 20
    assert abs(out_mask.sum() / mask.sum() - 1) < 0.2  # rotated object mostly stays in frame


@pytest.mark.parametrize(
    "species",
    [
        "Hourse Mackerel",
        "Gilt-Head Bream",
        "Shrimp",
        "Black Sea Sprat",
        "Red Mullet",
        "Sea Bass",
        "Striped Red Mullet",
        "Trout",
        "Red Sea Bream",
        "Made-up Fish",
    ],
)
def test_renders_look_like_a_photo_not_a_flat_shape(species):
    rng = np.random.default_rng(7)
    image, mask = demo_render.render_original(rng, species)
    assert image.shape == (445, 590, 3) and image.dtype == np.uint8
    assert mask.shape == (445, 590) and mask.dtype == bool
    frac = mask.mean()
    assert 0.02 < frac < 0.5, frac
    gray = image.astype(float).mean(axis=2)
    # textured object (scales, fins, eye, shading) and a speckled tray, not flat fills
    assert gray[mask].std() > 12
    background = image[~mask].astype(float)
    assert background[:, 2].mean() > background[:, 0].mean() + 40  # a blue tray
    assert gray[~mask].std() > 6
    # the object touches the tray colour nowhere near the border as a flat ring: it has an edge
    assert abs(gray[mask].mean() - gray[~mask].mean()) > 10 or image[mask][:, 0].mean() > 120


def test_originals_of_one_species_differ():
    items = [it for it in demo.species_images(5, "Sea Bass", 4, 0)]
    masks = [it.mask for it in items]
    for a in range(4):
        for b in range(a + 1, 4):
            inter = (masks[a] & masks[b]).sum()
            union = (masks[a] | masks[b]).sum()
            assert inter / union < 0.9  # poses, sizes or positions vary


def test_manifest_file_round_trip(small):
    base, manifest = small
    read = pd.read_csv(base / "manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(read.columns) == list(demo.MANIFEST_COLUMNS)
    assert len(read) == len(manifest)
    assert (read["image"] == manifest["image"]).all()
