"""The run's raster template: one grid (extent, resolution, CRS) shared by every surface."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import rasterio.features
import shapely
from affine import Affine


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    Attributes
    ----------
    transform
        Affine transform of the top-left corner (rasterio convention).
    width, height
        Number of columns and rows.
    crs
        The working CRS (a projected CRS in metres).
    """

    transform: Affine
    width: int
    height: int
    crs: str

    @classmethod
    def from_bounds(
        cls, bounds: tuple[float, float, float, float], resolution: float, crs: str
    ) -> Grid:
        """Smallest grid of square ``resolution`` cells covering ``bounds``, snapped to multiples
        of the resolution (so grids of one CRS at one resolution align)."""
        minx, miny, maxx, maxy = bounds
        x0 = math.floor(minx / resolution) * resolution
        y1 = math.ceil(maxy / resolution) * resolution
        width = max(1, math.ceil((maxx - x0) / resolution))
        height = max(1, math.ceil((y1 - miny) / resolution))
        return cls(Affine(resolution, 0, x0, 0, -resolution, y1), width, height, crs)

    @property
    def res(self) -> float:
        """Cell size in metres."""
        return self.transform.a

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.height, self.width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy)."""
        x0, y1 = self.transform.c, self.transform.f
        return x0, y1 - self.height * self.res, x0 + self.width * self.res, y1

    @property
    def cell_area(self) -> float:
        """Area of one cell in m²."""
        return self.res * self.res

    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y of cell centres as 1-D arrays (columns, rows)."""
        x0, y1 = self.transform.c, self.transform.f
        xs = x0 + (np.arange(self.width) + 0.5) * self.res
        ys = y1 - (np.arange(self.height) + 0.5) * self.res
        return xs, ys

    def xy(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of the centres of cells (rows, cols)."""
        x0, y1 = self.transform.c, self.transform.f
        return x0 + (np.asarray(cols) + 0.5) * self.res, y1 - (np.asarray(rows) + 0.5) * self.res

    def index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells containing points (may fall outside the grid)."""
        x0, y1 = self.transform.c, self.transform.f
        cols = np.floor((np.asarray(x) - x0) / self.res).astype(int)
        rows = np.floor((y1 - np.asarray(y)) / self.res).astype(int)
        return rows, cols

    def contains(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Whether cells (rows, cols) lie inside the grid."""
        return (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)

    def coarsen(self, resolution: float) -> Grid:
        """A grid with the same origin and (at least) the same extent at a coarser resolution."""
        factor = max(1, round(resolution / self.res))
        res = self.res * factor
        return Grid(
            Affine(res, 0, self.transform.c, 0, -res, self.transform.f),
            math.ceil(self.width / factor),
            math.ceil(self.height / factor),
            self.crs,
        )

    def rasterize(
        self,
        geometries: Iterable[shapely.Geometry],
        value: float = 1.0,
        fill: float = 0.0,
        all_touched: bool = False,
        dtype: str = "uint8",
    ) -> np.ndarray:
        """Burn geometries into an array of this grid's shape."""
        shapes = [(g, value) for g in geometries if g is not None and not g.is_empty]
        if not shapes:
            return np.full(self.shape, fill, dtype=dtype)
        return rasterio.features.rasterize(
            shapes,
            out_shape=self.shape,
            transform=self.transform,
            fill=fill,
            all_touched=all_touched,
            dtype=dtype,
        )

    def mask(self, geometries: Iterable[shapely.Geometry], all_touched: bool = False) -> np.ndarray:
        """Boolean array: cells covered by the geometries."""
        return self.rasterize(geometries, all_touched=all_touched).astype(bool)

    def cell_polygons(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Square polygons of cells (rows, cols)."""
        x, y = self.xy(rows, cols)
        h = self.res / 2
        return shapely.box(x - h, y - h, x + h, y + h)


@dataclass(frozen=True)
class Raster:
    """A 2-D array on a :class:`Grid`, with what it measures (NaN = no data)."""

    data: np.ndarray
    grid: Grid
    name: str
    units: str = ""
    description: str = ""

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top), as matplotlib's ``imshow(extent=...)`` wants it."""
        minx, miny, maxx, maxy = self.grid.bounds
        return minx, maxx, miny, maxy

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Values at points (NaN outside the grid)."""
        rows, cols = self.grid.index(x, y)
        inside = self.grid.contains(rows, cols)
        out = np.full(len(rows), np.nan)
        out[inside] = self.data[rows[inside], cols[inside]]
        return out


class ArrayLike2D(Protocol):
    """A 2-D array that slices: numpy's, or a chunked one (dask) read window by window."""

    def __getitem__(self, key: Any) -> Any: ...


def nearest_cell(mask: ArrayLike2D, grid: Grid, x: float, y: float) -> tuple[float, float]:
    """Centre of the ``mask`` cell nearest to ``(x, y)`` (e.g. snap a Weber point to eligible
    land). Searches growing windows and reads only those (``mask`` may be any 2-D array that
    slices, a chunked dask array too), so it touches only the cells near the point.

    Raises
    ------
    ValueError
        If no cell of ``mask`` is set.
    """
    row, col = (int(v[0]) for v in grid.index(np.array([x]), np.array([y])))
    row = min(max(row, 0), grid.height - 1)
    col = min(max(col, 0), grid.width - 1)
    half = 8
    while True:
        r0, c0 = max(row - half, 0), max(col - half, 0)
        rows, cols = np.nonzero(np.asarray(mask[r0 : row + half + 1, c0 : col + half + 1]))
        whole = half > max(grid.shape)  # the window holds the whole grid
        if len(rows):
            cx, cy = grid.xy(rows + r0, cols + c0)
            k = int(np.argmin(np.hypot(cx - x, cy - y)))
            # Any cell outside the window is more than `half` cells away.
            if np.hypot(cx[k] - x, cy[k] - y) <= half * grid.res or whole:
                return float(cx[k]), float(cy[k])
        elif whole:
            raise ValueError("the mask has no cell set")
        half *= 2


def make_grid(area: shapely.Geometry, pad: float, resolution: float, crs: str) -> Grid:
    """The run's grid: the study area's bounding box, padded so that features beyond the boundary
    (up to ``pad`` metres) take part in distances and neighbourhood sums."""
    minx, miny, maxx, maxy = area.bounds
    return Grid.from_bounds((minx - pad, miny - pad, maxx + pad, maxy + pad), resolution, crs)
