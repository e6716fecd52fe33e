"""Raster overlays of the web map: a raster warped to lon/lat and coloured as a PNG data URI,
as a declared cached step (an unchanged raster is not warped again)."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib
import matplotlib.image
import numpy as np
from affine import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from siting.exports.theme import SUITABILITY_CMAP
from siting.pipeline.cache import Step, memo
from siting.raster.grid import Raster

WGS84 = "EPSG:4326"
MAX_PIXELS = 1000


def raster_overlay(
    raster: Raster,
    cmap: str = SUITABILITY_CMAP,
    vmin: float | None = None,
    vmax: float | None = None,
) -> tuple[str, list[list[float]]]:
    """A raster warped to lon/lat as a PNG data URI, with its bounds for ``ImageOverlay``.

    Values are scaled from ``vmin``–``vmax`` (default: the raster's finite range) to the colour
    map; no-data is transparent.
    """
    grid = raster.grid
    # Thin the source to about the overlay's size first: GDAL's bilinear kernel widens with the
    # downsampling factor, which made warping a full-resolution grid the map's slowest step.
    step = max(1, max(grid.width, grid.height) // MAX_PIXELS)
    data = raster.data[step // 2 :: step, step // 2 :: step]
    src = np.where(np.isfinite(data), data, np.nan).astype(np.float32)
    src_transform = grid.transform @ Affine.scale(step)
    transform, width, height = calculate_default_transform(
        grid.crs, WGS84, grid.width, grid.height, *grid.bounds
    )
    scale = max(1.0, max(width, height) / MAX_PIXELS)
    width, height = int(width / scale), int(height / scale)
    transform = transform @ transform.scale(scale, scale)
    dst = np.full((height, width), np.nan, dtype=np.float32)
    reproject(
        src,
        dst,
        src_transform=src_transform,
        src_crs=grid.crs,
        dst_transform=transform,
        dst_crs=WGS84,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    finite = np.isfinite(dst)
    lo = float(np.nanmin(dst)) if vmin is None and finite.any() else (vmin or 0.0)
    hi = float(np.nanmax(dst)) if vmax is None and finite.any() else (vmax or 1.0)
    scaled = (np.nan_to_num(dst, nan=lo) - lo) / ((hi - lo) or 1.0)
    rgba = matplotlib.colormaps[cmap](np.clip(scaled, 0, 1))
    rgba[..., 3] = np.where(finite, 0.75, 0.0)
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, rgba, format="png")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    west, north = transform @ (0, 0)
    east, south = transform @ (width, height)
    return uri, [[south, west], [north, east]]


#: A raster warped to lon/lat and coloured as a PNG: an unchanged raster is not warped again.
OVERLAY = Step("overlay", raster_overlay)


def cached_overlay(raster: Raster, **style: Any) -> tuple[str, list[list[float]]]:
    """:func:`raster_overlay` as the declared step :data:`OVERLAY`: an unchanged raster is not
    warped again."""
    return memo(OVERLAY, f"overlay {raster.name}", raster=raster, **style)
