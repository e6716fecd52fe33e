"""GeoTIFF export: float32, the run's CRS, nodata, band description and units."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio

from siting.grid import Raster

if TYPE_CHECKING:
    from siting.pipeline import Result

NODATA = -9999.0


def write_geotiff(raster: Raster, path: Path) -> Path:
    """Write one raster as a tiled, compressed float32 GeoTIFF (non-finite values → nodata)."""
    data = np.where(np.isfinite(raster.data), raster.data, NODATA).astype(np.float32)
    grid = raster.grid
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "width": grid.width,
        "height": grid.height,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": NODATA,
        "compress": "deflate",
        "predictor": 3,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.set_band_description(1, raster.description or raster.name)
        dst.update_tags(1, units=raster.units, name=raster.name)
        if raster.units:
            dst.set_band_unit(1, raster.units)
    return path


def write_all(result: Result, folder: Path) -> list[Path]:
    """Suitability per profile (``suitability_<profile>.tif``), each raw criterion
    (``criteria/<name>.tif``), the slope (``criteria/slope.tif``, with a DEM) and the friction
    surface (``criteria/friction.tif``)."""
    written = [
        write_geotiff(s.suitability, folder / f"suitability_{name}.tif")
        for name, s in result.surfaces.items()
    ]
    written += [
        write_geotiff(r, folder / "criteria" / f"{name}.tif") for name, r in result.criteria.items()
    ]
    if result.slope is not None:
        written.append(write_geotiff(result.slope, folder / "criteria" / "slope.tif"))
    if result.friction is not None:
        written.append(write_geotiff(result.friction, folder / "criteria" / "friction.tif"))
    return written
