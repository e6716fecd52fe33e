"""Terrain: a DEM resampled onto the run's grid, and slope in degrees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, reproject

from siting.errors import LayerError, LayerNotFoundError
from siting.raster.grid import Grid, Raster


def read_dem(path: Path, grid: Grid) -> Raster:
    """Read a DEM (any GDAL raster with a CRS, elevations in metres) onto ``grid`` (bilinear).

    Raises
    ------
    LayerNotFoundError
        If the file does not exist.
    LayerError
        If the file is unreadable, has no CRS, or does not overlap the grid.
    """
    if not path.is_file():
        raise LayerNotFoundError(
            f"terrain: DEM not found: {path}",
            "fix terrain.dem (relative paths start at the scenario file)",
        )
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise LayerError(
                    f"terrain: DEM {path} has no CRS",
                    "assign one, e.g. gdal_translate -a_srs EPSG:32645 in.tif out.tif",
                )
            out = np.full(grid.shape, np.nan, dtype=np.float32)
            reproject(
                rasterio.band(src, 1),
                out,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
    except RasterioIOError as exc:
        raise LayerError(
            f"terrain: cannot read DEM {path}: {exc}",
            "give a GeoTIFF (or another GDAL raster) of elevations",
        ) from None
    if not np.isfinite(out).any():
        raise LayerError(
            f"terrain: DEM {path} does not overlap the study area", "check the DEM's extent and CRS"
        )
    return Raster(out, grid, "elevation", "m", f"elevation from {path.name}")


def slope(dem: Raster) -> Raster:
    """Slope in degrees from central differences (one-sided at the edges); NaN where the DEM has
    no data."""
    dz_dy, dz_dx = np.gradient(dem.data.astype(np.float64), dem.grid.res)
    degrees = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    return Raster(
        degrees.astype(np.float32),
        dem.grid,
        "slope",
        "degrees",
        "terrain slope in degrees, from the DEM",
    )
