"""Names derived from file and folder names: valid in every protocol, deterministic, unique."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import morecantile
import pyproj
import pytest

from ogcserver.core.config import NAME_PATTERN
from ogcserver.settings import ConfigError, layer_name_for, load_settings, settings_from_paths

NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")  # the ASCII part of XML's NCName (WCS CoverageId)


@pytest.mark.parametrize(
    "file, name",
    [
        ("RGB.byte.tif", "RGB_byte"),
        ("world.rgb.tif", "world_rgb"),
        ("N10W110.hgt.zip", "N10W110_hgt"),
        ("2021_30m_cdls_-106095_1807575_15000.tif", "l_2021_30m_cdls_-106095_1807575_15000"),
        ("Zürich Orthofoto 2020.tif", "Zurich_Orthofoto_2020"),
        ("crème brûlée.tif", "creme_brulee"),
        ("地图.tif", "layer"),
        ("urn:a:b.tif", "urn_a_b"),
        ("-minus.tif", "l_-minus"),
        ("a  ..  b.tif", "a_b"),
        ("x" * 90 + ".tif", "x" * 64),
    ],
)
def test_file_names_become_names(file, name):
    assert layer_name_for(Path("/nowhere") / file) == name


@pytest.mark.parametrize("file", ["RGB.byte.tif", "2021 ä.tif", "地图.tif", "-.tif", "1.2.3.tif", "a:b;c/d.tif"])
def test_derived_names_are_valid_in_every_protocol(file):
    name = layer_name_for(Path("/nowhere") / Path(file).name)
    assert re.fullmatch(NAME_PATTERN, name)
    assert NCNAME.fullmatch(name)  # WCS CoverageId, XML identifiers
    assert quote(name, safe="") == name  # URL path segment as is
    # the layer's own tile matrix set is named after it: morecantile must accept the id
    morecantile.TileMatrixSet.custom([0, 0, 1, 1], pyproj.CRS.from_epsg(3857), id=f"{name}_native")


def test_colliding_names_get_a_number(tmp_path):
    for file in ("a.b.tif", "a_b.tif", "A B.tif", "data.tif"):
        (tmp_path / file).write_bytes(b"")
    (tmp_path / "a b").mkdir()
    paths = [tmp_path / f for f in ("a.b.tif", "a_b.tif", "A B.tif", "a b", "data.tif")]
    names = [layer.name for layer in settings_from_paths(paths).services[0].layers]
    assert names == ["a_b", "a_b_2", "A_B_3", "a_b_4", "data_2"]  # "data" is the service's name
    assert names == [layer.name for layer in settings_from_paths(paths).services[0].layers]  # deterministic


def test_long_colliding_names_stay_within_the_limit(tmp_path):
    for i in range(2):
        (tmp_path / f"{'y' * 70}.{i}.tif").write_bytes(b"")
    names = [layer.name for layer in settings_from_paths(sorted(tmp_path.iterdir())).services[0].layers]
    assert names == ["y" * 64, "y" * 62 + "_2"]


@pytest.mark.parametrize("bad", ["RGB.byte", "2021", "a:b", "a b", "été", "x" * 65, "ok\n"])
def test_configured_names_invalid_in_some_protocol_are_config_errors(tmp_path, bad):
    path = tmp_path / "c.yaml"
    path.write_text(f"services:\n- name: s\n  layers:\n  - {{name: {bad!r}, source: .}}\n".replace("'", '"'))
    with pytest.raises(ConfigError, match=r"(?s)services\.0\.layers\.0\.name: .*not a valid name"):
        load_settings(path)
