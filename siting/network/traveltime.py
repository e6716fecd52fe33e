"""Travel time criteria: the run's road lines as a road network, times rasterised onto the grid.

The scenario's ``[network]`` layer (road lines) becomes a routable
:class:`~siting.network.graph.RoadNetwork` (:func:`network_from_lines`): lines are split where
they cross, ends within ``snap_m`` of another line are joined to it, and every straight piece is
an edge both ways taking its length at its line's speed. A feature (UgleNaukoGrad, a settlement)
enters the network at its nearest node after a straight leg at the off-road speed; times over the
network come from :mod:`siting.network.graph` (scipy csgraph). The time to a cell is then the
network time at a node plus the off-network leg from the node to the cell over the friction
surface's passable cells at the off-road speed: one :func:`siting.raster.cost.cost_distance` run
whose sources are the nodes, each starting with its network time.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numba import njit

from siting.config.scenario import Network
from siting.errors import LayerError
from siting.network import graph as network
from siting.network.crossings import crossings
from siting.network.graph import RoadNetwork
from siting.raster.cost import CORES, cost_distance
from siting.raster.grid import Raster


@dataclass(frozen=True)
class Pieces:
    """Road lines cut into straight pieces that meet only at their ends (see :func:`pieces`).

    Attributes
    ----------
    x, y
        Node coordinates: every piece end, rounded to the millimetre, once; sorted by x then y.
    u, v
        The nodes (rows of ``x`` and ``y``) at the start and end of each piece.
    length_m, speed_kmh
        Each piece's length and its line's speed.
    crs
        The lines' CRS.
    """

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    speed_kmh: np.ndarray
    crs: Any = None

    def seconds(self) -> np.ndarray:
        """Time along each piece, computed as :func:`osmnx.routing.add_edge_travel_times` does
        (the same operations in the same order, so the same bits)."""
        return (self.length_m / 1000) / (self.speed_kmh / (60 * 60))

    def network(self) -> RoadNetwork:
        """The pieces as a network: every piece an edge both ways, taking :meth:`seconds`; node
        ids ``0 .. n - 1`` in the order of :attr:`x`."""
        seconds = self.seconds()
        return RoadNetwork.from_edges(
            np.concatenate([self.u, self.v]),
            np.concatenate([self.v, self.u]),
            np.concatenate([seconds, seconds]),
            self.x,
            self.y,
            crs=self.crs,
        )


def pieces(
    lines: gpd.GeoDataFrame, speed_kmh: np.ndarray, snap_m: float = 0.0, max_edge_m: float = 0.0
) -> Pieces:
    """Road lines in a projected CRS cut into the straight pieces of a routable network.

    Parameters
    ----------
    lines
        LineStrings (or MultiLineStrings) in metres.
    speed_kmh
        Speed on each line.
    snap_m
        A line end within this distance of another line is joined to it by a straight link (at
        the slower of the two speeds): hand-drawn or generalised lines rarely meet exactly.
    max_edge_m
        Longest piece: longer ones are split by extra nodes, so that a place beside the middle
        of a long road joins it there rather than at the road's far ends (0: no splitting).

    Returns
    -------
    Pieces
        A node at every vertex and crossing, a piece between consecutive ones. Pieces whose ends
        round to the same node are kept (they give the network an isolated node at most).

    Raises
    ------
    LayerError
        If there are no lines, they are in degrees, or a coordinate is not finite.

    Notes
    -----
    The pieces are those of the lines (with the links) noded by GEOS (:func:`shapely.node`),
    then cut by :func:`shapely.segmentize`, every noded line at the speed of the line it lies
    along (of overlapping lines, the one :meth:`shapely.STRtree.nearest` gives). GEOS only nodes
    the lines that meet a line other than at a vertex of both, though, and those a hair away
    from them (:func:`siting.network.crossings.crossings`, compiled): a layer already cut at its
    junctions, like OSM ways, has almost none. The vertices are numbered in compiled passes too
    (:func:`_nodes`). The 360,000 lines of ``benchmarks/network.py`` are cut in 0.10 s this way
    (0.45 s with the segments paired by a :class:`shapely.STRtree` and tested with numpy, and
    pandas numbering the vertices), in 2.7 s by noding every line and looking up the speed of
    every noded line. A process's first call also loads the compiled code from numba's cache,
    about 0.3 s more (after an install or a change, numba compiles it once: 10-15 s).
    """
    if lines.crs is not None and lines.crs.is_geographic:
        raise LayerError(
            f"the road lines are in {lines.crs.name}, in degrees: lengths would be wrong",
            "reproject the road layer to a projected CRS in metres",
        )
    geoms = lines.geometry.to_numpy()
    row = np.arange(len(geoms))
    if not (shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING).all():
        geoms, row = shapely.get_parts(geoms, return_index=True)  # MultiLineStrings' parts
    speeds = np.asarray(speed_kmh, dtype=float)[row]
    if not len(geoms):
        raise LayerError("the road layer has no lines", "give the [network] layer some roads")
    links, link_speeds = _links(geoms, speeds, snap_m)
    every = np.concatenate([geoms, links])
    every_speed = np.concatenate([speeds, link_speeds])
    coords, which = shapely.get_coordinates(every, return_index=True)
    x, y, node_of, first = _nodes(coords)
    cross = crossings(coords, which, _exact(coords, node_of, first), len(every))
    line_speed = every_speed
    if cross.crossed.any() or max_edge_m > 0:
        out = _segmentize(every[~cross.crossed], max_edge_m)
        owner = np.flatnonzero(~cross.crossed)
        if cross.crossed.any():
            noded = shapely.get_parts(shapely.node(shapely.multilinestrings(every[cross.crossed])))
            # Noding every line would also cut these where a line left out meets them at a
            # shared vertex: no new piece, but the speed is looked up at a noded line's middle.
            noded = _segmentize(_cut_at(noded, cross.touching), max_edge_m)
            out = np.concatenate([out, noded])
            owner = np.concatenate([owner, _owners(noded, every)])
        coords, which = shapely.get_coordinates(out, return_index=True)
        x, y, node_of, first = _nodes(coords)
        line_speed = every_speed[owner]
    node_x, node_y, u, v, length, line = _edges(x, y, node_of, first, which)
    return Pieces(node_x, node_y, u, v, length, line_speed[line], lines.crs)


@njit(cache=True, nogil=True)
def _edges(
    x: np.ndarray, y: np.ndarray, node_of: np.ndarray, first: np.ndarray, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The nodes' coordinates, and for each piece (consecutive vertices of one line, rounded to
    ``x`` and ``y``, of the nodes ``node_of``) its nodes, its length between its rounded ends
    (as GEOS measures a segment) and its line."""
    n = 0
    for i in range(len(which) - 1):
        n += which[i] == which[i + 1]
    u, v = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    length, line = np.empty(n), np.empty(n, dtype=np.int64)
    k = 0
    for i in range(len(which) - 1):
        if which[i] == which[i + 1]:
            u[k], v[k], line[k] = node_of[i], node_of[i + 1], which[i]
            dx, dy = x[i + 1] - x[i], y[i + 1] - y[i]
            length[k] = math.sqrt(dx * dx + dy * dy)
            k += 1
    node_x, node_y = np.empty(len(first)), np.empty(len(first))
    for j in range(len(first)):
        node_x[j], node_y[j] = x[first[j]], y[first[j]]
    return node_x, node_y, u, v, length, line


def _nodes(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vertices' coordinates rounded to the millimetre, and one node per distinct rounded
    point, numbered by x then y: the node of each vertex, and a vertex of each node."""
    if not len(coords):
        return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # One int64 key per point, the millimetres from the lower left corner, numbered in order
    # (:func:`_numbered`): no sort of rows as records (numpy.unique(axis=0)).
    x, y, key, keyed = _millimetres(coords)
    if keyed == _NOT_FINITE:
        raise LayerError(
            "some road lines have coordinates that are not finite numbers (NaN or infinite)",
            "repair or drop those lines",
        )
    if keyed == _KEYED:
        node_of, first = _numbered(key)
        return x, y, node_of, first
    # Too far apart for one int64 key (thousands of kilometres): hashed by pandas, the distinct
    # points sorted.
    codes, points = pd.factorize(x + 1j * y)
    order = np.lexsort((points.imag, points.real))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    node_of = rank[codes]
    first = np.empty(len(order), dtype=np.int64)
    first[node_of] = np.arange(len(x))  # any vertex of the node: they round alike
    return x, y, node_of, first


_KEYED, _TOO_FAR, _NOT_FINITE = 0, 1, 2


@njit(cache=True, nogil=True)
def _millimetres(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The coordinates rounded to the millimetre, as :func:`numpy.round` rounds them (times
    1000, to the nearest even, over 1000), and a key per point, the millimetres from the lower
    left corner, x then y: ``_KEYED``, or ``_TOO_FAR`` where they do not fit an int64 and
    ``_NOT_FINITE`` where a coordinate is not finite (the keys are then not computed)."""
    n = len(coords)
    x, y = np.empty(n), np.empty(n)
    low_x, low_y, high_x, high_y = np.inf, np.inf, -np.inf, -np.inf
    finite = True
    for i in range(n):
        # Not short-circuiting: one test per point (c - c is 0 for finite c, else NaN).
        finite &= (coords[i, 0] - coords[i, 0] == 0.0) & (coords[i, 1] - coords[i, 1] == 0.0)
        x[i] = np.rint(coords[i, 0] * 1000.0) / 1000.0
        y[i] = np.rint(coords[i, 1] * 1000.0) / 1000.0
        mx, my = np.rint(x[i] * 1000.0), np.rint(y[i] * 1000.0)  # exact: whole millimetres
        low_x, high_x = min(low_x, mx), max(high_x, mx)
        low_y, high_y = min(low_y, my), max(high_y, my)
    span_y = high_y - low_y + 1
    key = np.empty(n, dtype=np.int64)
    if not finite:
        return x, y, key, _NOT_FINITE
    if not (high_x - low_x + 1) * span_y < 2.0**62:
        return x, y, key, _TOO_FAR
    for i in range(n):
        mx, my = np.rint(x[i] * 1000.0), np.rint(y[i] * 1000.0)
        key[i] = np.int64(mx - low_x) * np.int64(span_y) + np.int64(my - low_y)
    return x, y, key, _KEYED


@njit(cache=True, nogil=True)
def _numbered(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rank of each of the (non-negative) ``key`` values among the distinct ones, and the
    last place of each distinct value.

    The keys are counted into a bucket per two or so by their leading bits (a bucket holds keys
    below the next one's); each bucket is sorted and its distinct keys put after the previous
    bucket's, in their rank's place; each key is then looked up in its bucket. Passes over the
    keys in their order but for the small sorts: pandas' hashing then numpy's sort of the
    distinct keys take about twice as long.
    """
    n, top = len(key), key.max()
    shift = 0
    while (top >> shift) >= max(n // 2, 1):
        shift += 1
    start = np.zeros((top >> shift) + 2, dtype=np.int64)
    for i in range(n):
        start[(key[i] >> shift) + 1] += 1
    for b in range(1, len(start)):
        start[b] += start[b - 1]
    fill = start[:-1].copy()
    distinct = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = key[i] >> shift
        distinct[fill[b]] = key[i]
        fill[b] += 1
    # Bucket by bucket, its distinct keys, sorted, moved down to follow the previous bucket's;
    # the bucket's start becomes that of its distinct keys.
    nodes = 0
    for b in range(len(start) - 1):
        lo, hi = start[b], start[b + 1]
        if hi - lo > 16:  # many points on one line of x
            distinct[lo:hi] = np.sort(distinct[lo:hi])
        else:  # insertion sort
            for j in range(lo + 1, hi):
                value = distinct[j]
                k = j
                while k > lo and distinct[k - 1] > value:
                    distinct[k] = distinct[k - 1]
                    k -= 1
                distinct[k] = value
        start[b] = nodes
        for j in range(lo, hi):
            if j == lo or distinct[j] != distinct[nodes - 1]:
                distinct[nodes] = distinct[j]
                nodes += 1
    start[-1] = nodes
    node_of = np.empty(n, dtype=np.int64)
    last = np.empty(nodes, dtype=np.int64)
    for i in range(n):
        b = key[i] >> shift
        lo, hi = start[b], start[b + 1]
        if hi - lo > 16:
            j = lo + np.searchsorted(distinct[lo:hi], key[i])
        else:
            j = lo
            while distinct[j] != key[i]:
                j += 1
        node_of[i] = j
        last[j] = i
    return node_of, last


@njit(cache=True, nogil=True)
def _exact(coords: np.ndarray, node_of: np.ndarray, first: np.ndarray) -> np.ndarray:
    """An id for each vertex, the same only for vertices at exactly the same point: its node's
    where it lies exactly on the node's first vertex, else one of its own."""
    out = np.empty(len(coords), dtype=np.int64)
    for i in range(len(coords)):
        rep = first[node_of[i]]
        same = coords[i, 0] == coords[rep, 0] and coords[i, 1] == coords[rep, 1]
        out[i] = node_of[i] if same else len(first) + i
    return out


def _segmentize(lines: np.ndarray, max_edge_m: float) -> np.ndarray:
    """:func:`shapely.segmentize` of ``lines`` (as they are if ``max_edge_m`` is 0), but for
    those of no length, which GEOS refuses: kept as they are (a node, no piece)."""
    if not max_edge_m > 0:
        return lines
    out = lines.copy()
    some = shapely.length(lines) > 0
    out[some] = shapely.segmentize(lines[some], max_edge_m)
    return out


def _cut_at(noded: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The ``noded`` lines cut at those of their inner vertices that are exactly one of the
    ``points``."""
    if not len(points):
        return noded
    coords, which = shapely.get_coordinates(noded, return_index=True)
    inner = np.zeros(len(coords), dtype=bool)
    inner[1:-1] = (which[1:-1] == which[:-2]) & (which[1:-1] == which[2:])
    # A point as one complex number, looked up by value in a hash table.
    keys = pd.Index(coords[:, 0] + 1j * coords[:, 1])
    cut = inner & keys.isin(points[:, 0] + 1j * points[:, 1])
    if not cut.any():
        return noded
    # A cut vertex ends one line and its copy starts the next.
    repeat = np.where(cut, 2, 1)
    last = np.cumsum(repeat) - 1  # where each vertex (its last copy) goes
    starts = np.zeros(last[-1] + 1, dtype=bool)
    starts[last[cut]] = True
    starts[(last - repeat + 1)[1:][which[1:] != which[:-1]]] = True
    return shapely.linestrings(np.repeat(coords, repeat, axis=0), indices=np.cumsum(starts))


def _owners(noded: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The line of ``lines`` that each of the ``noded`` lines lies along: the one nearest its
    midpoint.

    The lines within a micrometre of the midpoint are found first, a quick query: where there is
    exactly one, it is the nearest. Only the others (overlapping lines) ask the tree for the
    nearest, a search many times slower per line, which picks among equally near lines.
    """
    tree = shapely.STRtree(lines)
    middles = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    at, near = tree.query(middles, "dwithin", 1e-6)
    count = np.bincount(at, minlength=len(noded))
    owner = np.empty(len(noded), dtype=np.int64)
    alone = count[at] == 1
    owner[at[alone]] = near[alone]
    others = np.flatnonzero(count != 1)
    if len(others):
        owner[others] = tree.nearest(middles[others])
    return owner


def _links(geoms: np.ndarray, speeds: np.ndarray, snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Straight links from each line end that no other line touches to the nearest other line
    within ``snap_m``, and their speeds (the slower of the two lines')."""
    if not snap_m > 0:
        return np.empty(0, dtype=object), np.empty(0)
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    last = np.flatnonzero(np.r_[which[1:] != which[:-1], True])
    first = np.r_[0, last[:-1] + 1]
    # Both ends of line 0, then of line 1, ...: the order the links are made in.
    line = np.repeat(np.arange(len(geoms)), 2)
    points = shapely.points(coords[np.stack([first, last], 1).ravel()])
    at, near = shapely.STRtree(geoms).query(points, "dwithin", snap_m)
    other = near != line[at]
    at, near = at[other], near[other]
    dist = shapely.distance(geoms[near], points[at])
    # The nearest line to each end; lexsort is stable, so of lines equally near the first the
    # tree lists is taken.
    order = np.lexsort((dist, at))
    at, near, dist = at[order], near[order], dist[order]
    nearest = np.ones(len(at), dtype=bool)
    nearest[1:] = at[1:] != at[:-1]
    at, near, dist = at[nearest], near[nearest], dist[nearest]
    apart = dist > 1e-6  # an end already on another line needs no link
    at, near = at[apart], near[apart]
    links = shapely.shortest_line(points[at], geoms[near])
    return links, np.minimum(speeds[line[at]], speeds[near])


def network_from_lines(
    lines: gpd.GeoDataFrame, speed_kmh: np.ndarray, snap_m: float = 0.0, max_edge_m: float = 0.0
) -> RoadNetwork:
    """A routable two-way network of road lines in a projected CRS.

    Parameters are those of :func:`pieces`. Every piece is an edge both ways taking its length
    at its line's speed, in seconds (osmnx's ``travel_time``); node ids are ``0 .. n - 1`` in
    the order of :attr:`Pieces.x`; the network's CRS is the lines'.
    """
    return pieces(lines, speed_kmh, snap_m, max_edge_m).network()


def class_speeds(spec: Network, roads: gpd.GeoDataFrame) -> np.ndarray:
    """Each road's speed (km/h): its class's in ``[network] speeds`` (classes compared as text),
    else ``default_kmh``. The run calls it as soon as the layer is read, before any long step.

    Raises
    ------
    LayerError
        If ``class_field`` is not a field of the layer, or a key of ``speeds`` matches no class
        of it (a misspelt class would otherwise silently take the default speed); the message
        lists the classes found.
    """
    if spec.class_field is None:
        return np.full(len(roads), spec.default_kmh)
    if spec.class_field not in roads.columns:
        raise LayerError(
            f"network.class_field = {spec.class_field!r}: layer {spec.layer!r} has no such "
            f"field (fields: {', '.join(map(str, roads.columns.drop('geometry')))})",
            "name one of its fields, or drop class_field and speeds",
        )
    values = roads[spec.class_field]
    classes = values.where(values.isna(), values.astype(str))
    found = sorted(set(classes.dropna()))
    unknown = [name for name, _ in spec.speeds if name not in found]
    if unknown:
        listed = ", ".join(map(repr, found[:30])) + (", …" if len(found) > 30 else "")
        raise LayerError(
            f"network.speeds: {', '.join(map(repr, unknown))} match(es) no value of field "
            f"{spec.class_field!r} in layer {spec.layer!r} (classes found around the study "
            f"area: {listed or 'none'})",
            "key the speeds by the classes found, or drop the keys that match none",
        )
    by_class = dict(spec.speeds)
    return classes.map(by_class).fillna(spec.default_kmh).to_numpy(float)


def road_network(spec: Network, roads: gpd.GeoDataFrame, max_edge_m: float) -> RoadNetwork:
    """The scenario's road network: ``[network]``'s layer at its class speeds
    (:func:`class_speeds`), with a node at least every ``max_edge_m`` (the friction grid's cell
    size)."""
    return network_from_lines(roads, class_speeds(spec, roads), spec.snap_m, max_edge_m)


class TravelTimes:
    """Door-to-door travel times over a road network and the friction surface's passable cells.

    Parameters
    ----------
    roads
        The road network in the friction surface's CRS, with times in seconds.
    friction
        The run's friction surface: its impassable cells (water away from bridges) stay so.
    off_road_kmh
        Speed off the network: the legs from a feature to its nearest node and from a node to a
        cell.
    """

    def __init__(self, roads: RoadNetwork, friction: Raster, off_road_kmh: float) -> None:
        self.roads = roads
        self.grid = friction.grid
        self.off_road = off_road_kmh / 3.6  # m/s
        self.seconds_per_m = np.where(np.isfinite(friction.data), 1.0 / self.off_road, np.inf)
        rows, cols = self.grid.index(roads.x, roads.y)
        self.on_grid = self.grid.contains(rows, cols)
        self.node_points = shapely.points(roads.x[self.on_grid], roads.y[self.on_grid])
        self._surfaces: dict[bytes, list[np.ndarray]] = {}

    def node_times(self, geometries: np.ndarray) -> np.ndarray:
        """Seconds from each feature to every node (features × nodes): a straight leg to the
        feature's nearest node at the off-road speed, then the network."""
        points = shapely.point_on_surface(geometries)
        snapped = network.snap(self.roads, shapely.get_x(points), shapely.get_y(points))
        od = network.od_matrix(self.roads, snapped["node"], self.roads.nodes)
        leg = snapped["node_dist_m"].to_numpy(float) / self.off_road
        return od.to_numpy() + leg[:, None]

    def surface(
        self, times: np.ndarray, geometries: np.ndarray, max_seconds: float = np.inf
    ) -> np.ndarray:
        """Seconds to every cell of the friction grid from the nodes (starting at ``times``)
        and from the features themselves (starting at 0); ``inf`` beyond ``max_seconds``."""
        on_grid = times[self.on_grid]
        reached = np.isfinite(on_grid) & (on_grid <= max_seconds)
        points = shapely.point_on_surface(np.asarray(geometries))
        rows, cols = self.grid.index(shapely.get_x(points), shapely.get_y(points))
        inside = self.grid.contains(rows, cols)
        starts = np.concatenate([on_grid[reached], np.zeros(inside.sum())])
        sources = np.concatenate([self.node_points[reached], np.asarray(geometries)[inside]])
        passable = np.isfinite(self.seconds_per_m)
        anchors = np.concatenate([self.node_points[reached], points[inside]])
        start_rows, start_cols = self.grid.index(shapely.get_x(anchors), shapely.get_y(anchors))
        if not len(sources) or not passable[start_rows, start_cols].any():
            return np.full(self.grid.shape, np.inf)  # nothing to start from within the limit
        field = cost_distance(
            self.seconds_per_m,
            sources,
            transform=self.grid.transform,
            start_costs=starts,
            max_cost=max_seconds,
        )
        return field.cost

    def to_nearest(self, geometries: np.ndarray) -> np.ndarray:
        """Minutes from the nearest of the features to every cell of the friction grid."""
        times = self.node_times(geometries).min(axis=0)
        return self.surface(times, geometries) / 60.0

    def within(self, geometries: np.ndarray, weights: np.ndarray, minutes: float) -> np.ndarray:
        """Sum of ``weights`` of the features within ``minutes`` of every cell (a labour pool:
        the people who can reach a site within that time)."""
        total = np.zeros(self.grid.shape)
        for weight, seconds in zip(weights, self.per_feature(geometries), strict=True):
            total[seconds <= minutes * 60.0] += weight
        return total

    def matrix(self, geometries: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Minutes from each feature to each point (features × points), read at the points'
        cells of the friction grid; ``inf`` where unreachable or off the grid."""
        rows, cols = self.grid.index(np.asarray(x), np.asarray(y))
        inside = self.grid.contains(rows, cols)
        out = np.full((len(geometries), len(rows)), np.inf)
        for k, seconds in enumerate(self.per_feature(geometries)):
            out[k, inside] = seconds[rows[inside], cols[inside]] / 60.0
        return out

    def per_feature(self, geometries: np.ndarray) -> list[np.ndarray]:
        """Seconds from each feature to every cell, computed once per set of features: the
        labour pools at different limits and the covering all read the settlements' surfaces."""
        key = b"".join(shapely.to_wkb(np.asarray(geometries)))
        if key not in self._surfaces:
            times = self.node_times(geometries)
            # One search per core: the kernel releases the GIL.
            with ThreadPoolExecutor(max_workers=CORES) as pool:
                self._surfaces[key] = list(
                    pool.map(
                        lambda k: self.surface(times[k], np.array([geometries[k]])),
                        range(len(geometries)),
                    )
                )
        return self._surfaces[key]
