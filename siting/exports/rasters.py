"""GeoTIFF export: Cloud-Optimized GeoTIFFs (tiled, overviews, DEFLATE), float32, the run's CRS,
nodata, band description and units."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile

from siting.pipeline.cache import Step, memo_file
from siting.raster.grid import Grid, Raster

if TYPE_CHECKING:
    from siting.pipeline.result import Result

NODATA = -9999.0


#: GDAL's COG driver options of every GeoTIFF written (``rasterio.shutil.copy``).
COG_OPTIONS: dict[str, str] = {
    "driver": "COG",
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "YES",
    "BLOCKSIZE": "512",
    "OVERVIEWS": "AUTO",
    "RESAMPLING": "AVERAGE",
    "NUM_THREADS": "ALL_CPUS",  # DEFLATE of the tiles is the slow part; use both cores
}


def gtiff_profile(grid: Grid) -> dict[str, Any]:
    """rasterio's profile of a single-band float32 GeoTIFF on ``grid``, with :data:`NODATA`."""
    return {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "width": grid.width,
        "height": grid.height,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": NODATA,
    }


def write_geotiff(raster: Raster, path: Path) -> Path:
    """Write one raster as a Cloud-Optimized GeoTIFF (non-finite values → nodata).

    GDAL's COG driver only copies from an existing dataset, so the raster is first written to an
    in-memory GeoTIFF.
    """
    data = np.where(np.isfinite(raster.data), raster.data, NODATA).astype(np.float32)
    grid = raster.grid
    profile = gtiff_profile(grid)
    path.parent.mkdir(parents=True, exist_ok=True)
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data, 1)
            label_band(dst, raster.name, raster.units, raster.description)
        with memory.open() as src:
            rasterio.shutil.copy(src, path, **COG_OPTIONS)
    return path


def label_band(dst: Any, name: str, units: str, description: str) -> None:
    """Band 1's description, unit and tags, as every GeoTIFF of a run carries them (an open
    rasterio dataset in write mode)."""
    dst.set_band_description(1, description or name)
    dst.update_tags(1, units=units, name=name)
    if units:
        dst.set_band_unit(1, units)


def rasters_of(result: Result) -> dict[str, Raster]:
    """The rasters a run writes, by path relative to the output folder: suitability per profile,
    each raw criterion, the slope (with a DEM) and the friction surface."""
    out = {f"suitability_{name}.tif": s.suitability for name, s in result.surfaces.items()}
    out |= {f"criteria/{name}.tif": r for name, r in result.criteria.items()}
    if result.slope is not None:
        out["criteria/slope.tif"] = result.slope
    if result.friction is not None:
        out["criteria/friction.tif"] = result.friction
    return out


def _geotiff(path: Path, raster: Raster) -> None:
    write_geotiff(raster, path)


#: A raster as a Cloud-Optimized GeoTIFF: one whose values and metadata equal those of one
#: written before is copied from the cache instead of being compressed again, once the stored
#: copy's checksum is checked (a damaged one is written afresh, with a warning).
GEOTIFF = Step("geotiff", _geotiff)


def write_all(result: Result, folder: Path) -> list[Path]:
    """Write every raster of :func:`rasters_of` (their QGIS styles come with the project)."""
    paths = []
    for name, raster in rasters_of(result).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        paths.append(memo_file(GEOTIFF, name, path, raster=raster))
    return paths
