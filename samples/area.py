"""The demo area: its seed, geometry (metres, EPSG:32632), acquisition dates and the
reflectance of its materials, shared by every kind of sample data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SEED = 20261202
GENERATOR_VERSION = 1
CRS = "EPSG:32632"
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
MANIFEST_NAME = "MANIFEST.json"
NODATA_DEM = -9999.0

# --- geometry of the demo area (metres, EPSG:32632); all footprints are
# --- independent of ``scale``, which only changes the pixel counts.
DEM_X0, DEM_Y0 = 500000.0, 5200000.0  # upper-left corner
DEM_SIZE_M = 4096.0
DEM_PX = 2048
WORLD_MARGIN_M = 1024.0  # the landscape grid extends beyond the DEM
ORTHO_X0, ORTHO_Y0 = DEM_X0 + 256.0, DEM_Y0 - 256.0
ORTHO_TILE_M = 512.0
ORTHO_TILE_PX = 1024
ORTHO_OVERLAP_PX = 64
ORTHO_LOWRES_PX = 512
MS_SIZE_M = 6000.0
MS_PX = 600
MS_X0 = DEM_X0 + DEM_SIZE_M / 2 - MS_SIZE_M / 2
MS_Y0 = DEM_Y0 - DEM_SIZE_M / 2 + MS_SIZE_M / 2
MS_DATETIME = "2024-07-02T10:20:31Z"
MS_CLOUD_COVER = 3.5

NOISE_X0, NOISE_Y0 = 499000.0, 5201000.0  # origin of the noise lattices
LAKE_C = (501300.0, 5199050.0)
LAKE_R = 215.0
LAKE_AXIS = math.radians(-28.0)  # direction of the long axis
SITE_LAT, SITE_LON = 46.94, 9.0  # approx. centre of the area, for the sun

# Ortho tiles: (row, col, acquisition time, variant)
ORTHO_TILES = [
    (0, 0, "2021-05-18T09:47:12Z", None),
    (0, 1, "2022-08-03T11:05:40Z", None),
    (0, 2, "2023-06-14T10:32:00Z", "mask"),  # flight strip ends: internal mask
    (1, 0, "2021-09-21T10:12:27Z", "nodata"),  # nodata=0 collar
    (1, 1, "2024-04-27T09:58:03Z", "lowres"),  # 1.0 m instead of 0.5 m
    (1, 2, "2022-06-30T12:15:55Z", None),
]

# Surface reflectance of materials: blue, green, red, nir, swir1, swir2.
MATERIALS = {
    "water_deep": (0.040, 0.035, 0.020, 0.010, 0.006, 0.004),
    "water_shallow": (0.055, 0.072, 0.052, 0.030, 0.012, 0.008),
    "conifer": (0.022, 0.042, 0.024, 0.250, 0.120, 0.050),
    "deciduous": (0.028, 0.062, 0.034, 0.380, 0.180, 0.080),
    "decid_spring": (0.038, 0.085, 0.052, 0.330, 0.190, 0.090),
    "decid_autumn": (0.040, 0.070, 0.105, 0.280, 0.210, 0.120),
    "decid_bare": (0.050, 0.062, 0.078, 0.200, 0.230, 0.160),
    "meadow": (0.034, 0.074, 0.046, 0.360, 0.210, 0.100),
    "meadow_dry": (0.060, 0.090, 0.105, 0.270, 0.290, 0.190),
    "mown": (0.055, 0.095, 0.085, 0.280, 0.260, 0.170),
    "soil": (0.075, 0.105, 0.145, 0.210, 0.300, 0.250),
    "soil_dark": (0.050, 0.068, 0.092, 0.150, 0.230, 0.190),
    "crop_young": (0.045, 0.082, 0.080, 0.270, 0.250, 0.170),
    "crop_green": (0.030, 0.080, 0.040, 0.440, 0.220, 0.100),
    "crop_dense": (0.025, 0.068, 0.032, 0.480, 0.210, 0.090),
    "crop_ripe": (0.085, 0.135, 0.195, 0.300, 0.340, 0.240),
    "stubble": (0.105, 0.150, 0.200, 0.270, 0.360, 0.280),
    "rape_flower": (0.050, 0.170, 0.195, 0.400, 0.250, 0.120),
    "dry_veg": (0.070, 0.095, 0.120, 0.240, 0.300, 0.220),
    "rock": (0.150, 0.168, 0.188, 0.230, 0.270, 0.230),
    "asphalt": (0.075, 0.080, 0.085, 0.100, 0.120, 0.110),
    "gravel": (0.140, 0.158, 0.182, 0.225, 0.270, 0.240),
    "beach": (0.150, 0.165, 0.180, 0.220, 0.280, 0.240),
    "cloud": (0.450, 0.460, 0.470, 0.520, 0.380, 0.270),
}
MAT = {k: np.asarray(v, dtype=np.float32) for k, v in MATERIALS.items()}
# relative amplitude of tillage / row stripes visible on a field surface
STRIPES = {"soil": 0.12, "soil_dark": 0.12, "stubble": 0.15, "crop_young": 0.12,
           "mown": 0.12, "crop_ripe": 0.05}

# Crop calendars: (day of year, surface material) keyframes, interpolated.
CROPS = [
    ("winter_wheat", [(60, "crop_young"), (110, "crop_green"), (168, "crop_green"),
                      (192, "crop_ripe"), (206, "crop_ripe"), (215, "stubble"),
                      (268, "stubble"), (282, "soil"), (330, "crop_young")]),
    ("maize", [(100, "soil_dark"), (140, "soil"), (165, "crop_young"), (192, "crop_dense"),
               (262, "crop_dense"), (285, "dry_veg"), (300, "stubble")]),
    ("rapeseed", [(60, "crop_young"), (100, "crop_green"), (114, "rape_flower"),
                  (136, "rape_flower"), (152, "crop_green"), (186, "dry_veg"),
                  (200, "stubble"), (238, "soil"), (268, "crop_young")]),
    ("hay_meadow", [(70, "meadow_dry"), (110, "meadow"), (152, "meadow"), (160, "mown"),
                    (182, "meadow"), (222, "mown"), (240, "meadow"), (300, "meadow_dry")]),
    ("sugar_beet", [(100, "soil"), (150, "soil_dark"), (168, "crop_young"),
                    (195, "crop_dense"), (275, "crop_dense"), (290, "soil_dark")]),
    ("fallow", [(60, "dry_veg"), (150, "meadow"), (250, "dry_veg")]),
]
CROP_SHARE = [0.30, 0.20, 0.13, 0.18, 0.11, 0.08]
YEARS = (2021, 2022, 2023, 2024)
FIELD_MAX_SLOPE = 8.0
AGRI_THRESHOLD = 0.4

ORTHO_BANDS = ("red", "green", "blue", "nir")
MS_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
MS_WAVELENGTHS = (490, 560, 665, 842, 1610, 2190)
