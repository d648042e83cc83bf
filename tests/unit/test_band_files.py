"""Which file names form one multiband item (a scene delivered as a file per band), in which band
order, how such an item is named as one source, and which of its bands are natural colour."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ogcserver.model.band_files import (
    BandStack,
    band_files_argument,
    band_sort_key,
    band_stacks,
    natural_colour,
    parse_stack_path,
    stack_key,
)

LANDSAT = "/data/scene/LC08_L2SP_008059_20191201_20200825_02_T1_SR_{}.TIF"


def test_landsat_band_files_are_one_stack_in_band_order():
    paths = [LANDSAT.format(b) for b in ("B5", "B3", "B10", "B2", "B4")] + ["/data/scene/LC08_MTL.txt"]
    stacks, alone = band_stacks(paths)
    assert [(s.name, s.tokens) for s in stacks] == [("LC08_L2SP_008059_20191201_20200825_02_T1_SR",
                                                     ("B2", "B3", "B4", "B5", "B10"))]
    assert stacks[0].files == tuple(LANDSAT.format(b) for b in ("B2", "B3", "B4", "B5", "B10"))
    assert alone == ["/data/scene/LC08_MTL.txt"]


def test_sentinel2_resolutions_are_separate_stacks_and_b8a_follows_b8():
    names = ["B02_10m", "B03_10m", "B04_10m", "B08_10m", "B05_20m", "B8A_20m", "B11_20m"]
    stacks, alone = band_stacks([f"/s2/T32TQM_20230601T100559_{n}.jp2" for n in names])
    assert {s.name: s.tokens for s in stacks} == {
        "T32TQM_20230601T100559_10m": ("B02", "B03", "B04", "B08"),
        "T32TQM_20230601T100559_20m": ("B05", "B8A", "B11"),
    }
    assert not alone
    assert band_sort_key("B8") < band_sort_key("B8A") < band_sort_key("B9")


def test_files_that_do_not_fit_stay_alone():
    paths = ["/a/scene_B2.tif", "/b/scene_B3.tif",  # another folder
             "/a/other_B4.tif",  # no partner
             "/a/ortho.tif", "/a/tile_B13.tif", "/a/tile_B14.tif",  # no band token
             "/a/LAB1.tif", "/a/LAB2.tif",  # a token inside a word
             "/a{1}/x_B1.tif", "/a{1}/x_B2.tif", "/a/y{_B1.tif", "/a/y{_B2.tif"]  # braces: a stack path cannot name them
    stacks, alone = band_stacks(paths)
    assert not stacks
    assert sorted(alone) == sorted(paths)


def test_several_scenes_are_several_stacks():
    paths = [f"/d/{scene}_B{n}.tif" for scene in ("LC08_A", "LC08_B") for n in (2, 3, 4)]
    stacks, _ = band_stacks(paths)
    assert sorted(s.name for s in stacks) == ["LC08_A", "LC08_B"]


def test_the_publishers_tokens_choose_the_bands_and_their_order():
    paths = [f"/d/scene_{t}.tif" for t in ("red", "green", "blue", "nir")] + ["/d/scene_B4.tif"]
    stacks, alone = band_stacks(paths, ("nir", "red", "green"))
    assert [(s.name, s.tokens) for s in stacks] == [("scene", ("nir", "red", "green"))]
    assert sorted(alone) == ["/d/scene_B4.tif", "/d/scene_blue.tif"]
    stacks, alone = band_stacks(paths[:2], ("nir", "red", "green"))  # a scene without every band
    assert not stacks and sorted(alone) == sorted(paths[:2])


@pytest.mark.parametrize(("head", "tokens", "expected"), [
    ("LC08_L2SP_008059_SR_", ("B2", "B3", "B4", "B5"), (3, 2, 1)),
    ("LC09_L2SP_008059_SR_", ("B1", "B2", "B3", "B4"), (4, 3, 2)),
    ("LE07_L2SP_008059_SR_", ("B1", "B2", "B3", "B4"), (3, 2, 1)),
    ("LT05_L1TP_008059_", ("B1", "B2", "B3"), (3, 2, 1)),
    ("T32TQM_20230601T100559_", ("B02", "B03", "B04", "B08"), (3, 2, 1)),
    ("LC08_L2SP_008059_SR_", ("B5", "B6"), None),  # no red, green and blue
    ("scene_", ("B1", "B2", "B3"), None),  # an unknown sensor: the layer's first three bands
])
def test_natural_colour_where_the_sensor_is_known(head, tokens, expected):
    assert natural_colour(BandStack("/d", head, ".tif", tokens)) == expected


def test_stack_keys_follow_the_folder():
    stack = BandStack("/data/2019/p8r59", "LC08_SR_", ".TIF", ("B2", "B3"))
    assert stack_key(stack, "/data") == "2019/p8r59/LC08_SR"
    assert stack_key(stack, "/data/2019/p8r59") == "LC08_SR"


@pytest.mark.parametrize("path", [
    "/d/scene_B2.tif", "bands:/d/scene_B2.tif", "bands:/d/scene_{B2,B2}.tif", "bands:/d/{B2,../x}.tif",
    "bands:/d/scene_{}.tif", "bands:/d/scene_{B2,B3}/x.tif", "bands:/d/{B2}{B3}.tif",
])
def test_only_well_formed_stack_paths_name_stacks(path):
    assert parse_stack_path(path) is None


TOKEN = st.sampled_from(["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12",
                         "B01", "B02", "B03"])
WORD = st.text(alphabet="ACDEFGHJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12)


@given(head=WORD, tail=st.sampled_from(["", "_10m", "_20m", "-x"]), ext=st.sampled_from([".tif", ".TIF", ".jp2"]),
       tokens=st.sets(TOKEN, min_size=2, max_size=8))
def test_any_scene_is_one_stack_whose_path_names_its_files(head, tail, ext, tokens):
    paths = [os.path.join("/data", f"{head}_{t}{tail}{ext}") for t in tokens]
    stacks, alone = band_stacks(paths)
    assert len(stacks) == 1 and not alone
    stack = stacks[0]
    assert sorted(stack.files) == sorted(paths)
    assert [band_sort_key(t) for t in stack.tokens] == sorted(band_sort_key(t) for t in stack.tokens)
    assert parse_stack_path(stack.path) == stack


def test_the_command_lines_band_files():
    assert band_files_argument("auto") == "auto" and band_files_argument("off") == "off"
    assert band_files_argument("B5,B4, B3") == ("B5", "B4", "B3")
    for bad in ("B5,B5", "B5,../x", "", "B5,,B4"):
        with pytest.raises(ValueError, match="band files"):
            band_files_argument(bad)
