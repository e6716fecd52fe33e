"""Cost surfaces: the friction raster and accumulated cost-distance over it.

Friction is a cost per metre: cheap along roads and rail, dear off-road, impassable (``inf``) on
open water except where a road or rail line crosses it (a bridge). Accumulated cost is computed
with scikit-image's ``MCP_Geometric`` (8-connected, diagonal steps √2 longer, the cost of a step
the mean of its two cells' frictions times its length).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy import ndimage
from skimage.graph import MCP_Geometric

from siting.exclusions import grow
from siting.grid import Grid, Raster
from siting.scenario import Friction


def friction_surface(friction: Friction, layers: dict[str, gpd.GeoDataFrame], grid: Grid) -> Raster:
    """Cost per metre on ``grid``: ``off_road`` everywhere, ``inf`` on impassable features, and
    each route's cost along it (routes are burnt last, so they bridge water they cross)."""
    surface = np.full(grid.shape, friction.off_road, dtype=float)
    for rule in friction.impassable:
        water = grid.mask(grow(layers[rule.layer], rule), all_touched=False)
        surface[water] = np.inf
    for layer, cost in friction.routes:
        on_route = grid.mask(layers[layer].geometry.values, all_touched=True)
        surface[on_route] = np.minimum(surface[on_route], cost)
    return Raster(surface, grid, "friction", "cost/m", "travel cost per metre")


def accumulated_cost(friction: np.ndarray, res: float, sources: np.ndarray) -> np.ndarray:
    """Least accumulated cost from any of ``sources`` to every cell.

    Parameters
    ----------
    friction
        Cost per metre; ``inf`` (or NaN) cells are impassable.
    res
        Cell size in metres.
    sources
        Boolean array of source cells (cost 0).

    Returns
    -------
    numpy.ndarray
        Accumulated cost; ``inf`` where no source can be reached.
    """
    costs = np.where(np.isfinite(friction), friction, np.inf)
    starts = np.argwhere(sources)
    cumulative, _ = MCP_Geometric(costs, sampling=(res, res)).find_costs(starts)
    return cumulative


@dataclass
class CostField:
    """Accumulated cost from each feature of a layer, on the (coarse) friction grid.

    ``stack[i]`` is the cost surface from feature ``i``. Kept per feature so that a criterion can
    weight features (Weber's transport cost) and the models can read feature → site costs.
    """

    stack: np.ndarray
    grid: Grid

    @classmethod
    def from_features(cls, friction: Raster, geometries: np.ndarray) -> CostField:
        """Compute one surface per geometry (a point starts in its cell; a line or polygon in every
        cell it touches)."""
        grid = friction.grid
        stack = np.empty((len(geometries), *grid.shape), dtype=np.float32)
        for i, geom in enumerate(geometries):
            sources = grid.mask([geom], all_touched=True)
            if not sources.any():
                rows, cols = grid.index(*_xy(geom))
                sources[np.clip(rows, 0, grid.height - 1), np.clip(cols, 0, grid.width - 1)] = True
            stack[i] = accumulated_cost(friction.data, grid.res, sources)
        return cls(stack, grid)

    def weighted_mean(self, weights: np.ndarray) -> np.ndarray:
        """Σ wᵢ·costᵢ / Σ wᵢ per cell: mean cost of bringing every feature's weight to the cell."""
        w = np.asarray(weights, dtype=np.float64)
        total = np.tensordot(w, self.stack.astype(np.float64), axes=1)
        return total / w.sum()

    def minimum(self) -> np.ndarray:
        """Cost from the cheapest feature to each cell."""
        return self.stack.min(axis=0).astype(np.float64)

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cost matrix (features × points), read at the cells holding the points."""
        rows, cols = self.grid.index(x, y)
        rows = np.clip(rows, 0, self.grid.height - 1)
        cols = np.clip(cols, 0, self.grid.width - 1)
        return self.stack[:, rows, cols].astype(np.float64)


def _xy(geom: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    point = geom.representative_point()
    return np.array([point.x]), np.array([point.y])


def resample(data: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """Bilinear resampling of a coarse surface onto a finer aligned grid.

    Cells whose nearest coarse cell is not finite stay ``inf``; elsewhere non-finite neighbours are
    replaced by the nearest finite value so that they do not bleed into the interpolation.
    """
    finite = np.isfinite(data)
    if not finite.all():
        _, (ri, ci) = ndimage.distance_transform_edt(~finite, return_indices=True)
        filled = data[ri, ci]
    else:
        filled = data
    xs, ys = target.centers()
    # Fractional coarse indices of target cell centres (coarse centres sit at index + 0.5).
    col = (xs - source.transform.c) / source.res - 0.5
    row = (source.transform.f - ys) / source.res - 0.5
    rr, cc = np.meshgrid(row, col, indexing="ij")
    out = ndimage.map_coordinates(filled, [rr, cc], order=1, mode="nearest")
    near_r = np.clip(np.round(rr).astype(int), 0, source.height - 1)
    near_c = np.clip(np.round(cc).astype(int), 0, source.width - 1)
    out[~finite[near_r, near_c]] = np.inf
    return out


def cost_field(
    cache: dict[str, CostField],
    friction: Raster,
    layer: str,
    where: str | None,
    geometries: np.ndarray,
) -> CostField:
    """The per-feature cost field of a layer (after its filter), computed once per run: the
    criteria and the models share it. Cached under ``"<layer>|<where>"``."""
    key = f"{layer}|{where or ''}"
    if key not in cache:
        cache[key] = CostField.from_features(friction, geometries)
    return cache[key]
