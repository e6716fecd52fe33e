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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from siting.config.scenario import Network
from siting.errors import LayerError
from siting.network import graph as network
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
        If there are no lines, or they are in degrees.

    Notes
    -----
    The result is that of noding all the lines with GEOS (:func:`shapely.node`), then
    :func:`shapely.segmentize`, a piece between consecutive vertices, and each noded line taking
    the speed of the line it lies along (of overlapping lines, the one
    :meth:`shapely.STRtree.nearest` gives). Only the lines that meet another line (or
    themselves) other than end to end at a shared vertex are given to GEOS, though: a layer
    already cut at its junctions, like OSM ways, has almost none, and noding every line costs
    ten times more than finding those (:func:`_crossed`).
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
    cross = _crossed(every, coords, which)
    line_speed = every_speed
    if cross.crossed.any() or max_edge_m > 0:
        out, kept = _segmentize(every[~cross.crossed], max_edge_m)
        owner = np.flatnonzero(~cross.crossed)[kept]
        if cross.crossed.any():
            noded = shapely.get_parts(shapely.node(shapely.multilinestrings(every[cross.crossed])))
            # Full noding would also cut them where a line left out meets them at a shared
            # vertex: not a new piece, but the speed of a noded line is looked up at its middle.
            noded, _ = _segmentize(_cut_at(noded, cross.touching), max_edge_m)
            out = np.concatenate([out, noded])
            owner = np.concatenate([owner, _owners(noded, every, cross.tree)])
        coords, which = shapely.get_coordinates(out, return_index=True)
        line_speed = every_speed[owner]
    ends = np.round(coords, 3)
    node_of, first = _distinct(ends)
    piece = np.flatnonzero(which[:-1] == which[1:])  # consecutive vertices of one line
    u, v = node_of[piece], node_of[piece + 1]
    # The length of each piece between its rounded ends, as GEOS measures a segment.
    dx, dy = (ends[piece + 1] - ends[piece]).T
    length = np.sqrt(dx * dx + dy * dy)
    return Pieces(ends[first, 0], ends[first, 1], u, v, length, line_speed[which[piece]], lines.crs)


def _segmentize(lines: np.ndarray, max_edge_m: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shapely.segmentize` of ``lines`` (as they are if ``max_edge_m`` is 0) and the
    positions of those kept: all but those of no length, which GEOS refuses to segmentize (and
    which join nothing)."""
    if not max_edge_m > 0:
        return lines, np.arange(len(lines))
    kept = np.flatnonzero(shapely.length(lines) > 0)
    return shapely.segmentize(lines[kept], max_edge_m), kept


#: Relative error bound of a 2 x 2 determinant of coordinate differences in floating point:
#: Shewchuk's ``ccwerrboundA`` (3.3e-16), with room to spare. Beyond it the sign is certain.
_ERR = 1e-15


@dataclass(frozen=True)
class _Crossings:
    """Which lines GEOS must node (see :func:`_crossed`)."""

    crossed: np.ndarray  # per line: it meets a line (or itself) other than end to end
    touching: np.ndarray  # (k, 2) vertices of the other lines next to the crossed ones
    tree: shapely.STRtree | None  # of the lines, when built on the way


def _crossed(every: np.ndarray, coords: np.ndarray, which: np.ndarray) -> _Crossings:
    """The lines with a segment that meets another segment (of any line) other than at a vertex
    of both: where they cross, where an end lies on the other's segment, where they overlap.

    The segments are paired by their bounding boxes in an :class:`shapely.STRtree`; a pair is
    passed over only where the orientation of their ends shows it apart for certain (the sign of
    each determinant beyond its rounding error), so that any doubt goes to GEOS.
    """
    seg = np.flatnonzero(which[:-1] == which[1:])
    line = which[seg]
    crossed = np.zeros(len(every), dtype=bool)
    if not len(seg):
        return _Crossings(crossed, np.empty((0, 2)), None)
    single = len(seg) == len(every) == len(coords) // 2  # every line one segment: its own box
    boxes = every if single else shapely.linestrings(np.stack([coords[seg], coords[seg + 1]], 1))
    tree = shapely.STRtree(boxes)
    a, b = tree.query(boxes)
    keep = a < b
    a, b = a[keep], b[keep]
    px, py = coords[seg].T
    qx, qy = coords[seg + 1].T
    apx, apy, aqx, aqy = px[a], py[a], qx[a], qy[a]
    bpx, bpy, bqx, bqy = px[b], py[b], qx[b], qy[b]
    pp = (apx == bpx) & (apy == bpy)
    pq = (apx == bqx) & (apy == bqy)
    qp = (aqx == bpx) & (aqy == bpy)
    qq = (aqx == bqx) & (aqy == bqy)
    shared = pp.astype(np.int8) + pq + qp + qq
    doubt = shared > 1  # the same segment twice, or one of no length
    # One shared end: apart unless they leave it in the same direction.
    one = np.flatnonzero(shared == 1)
    at_p = (pp | pq)[one]  # the shared end is a's first
    ox = np.where(at_p, apx[one], aqx[one])
    oy = np.where(at_p, apy[one], aqy[one])
    ax = np.where(at_p, aqx[one], apx[one])
    ay = np.where(at_p, aqy[one], apy[one])
    b_p = (pp | qp)[one]  # the shared end is b's first
    bx = np.where(b_p, bqx[one], bpx[one])
    by = np.where(b_p, bqy[one], bpy[one])
    turn = _sign(ox, oy, ax, ay, bx, by)
    ux, uy, vx, vy = ax - ox, ay - oy, bx - ox, by - oy
    left, right = ux * vx, uy * vy
    back = left + right < -_ERR * (np.abs(left) + np.abs(right))
    doubt[one[(turn == 0) & ~back]] = True
    # No shared end: apart if one lies wholly on one side of the other's line.
    none = np.flatnonzero(shared == 0)
    a0 = (apx[none], apy[none])
    a1 = (aqx[none], aqy[none])
    b0 = (bpx[none], bpy[none])
    b1 = (bqx[none], bqy[none])
    s1, s2 = _sign(*a0, *a1, *b0), _sign(*a0, *a1, *b1)
    s3, s4 = _sign(*b0, *b1, *a0), _sign(*b0, *b1, *a1)
    apart = ((s1 == s2) & (s1 != 0)) | ((s3 == s4) & (s3 != 0))
    doubt[none[~apart]] = True
    crossed[line[a[doubt]]] = True
    crossed[line[b[doubt]]] = True
    # Their neighbours too: the segments GEOS cuts are no longer quite straight along the
    # originals, and may meet a segment that was apart from the original by a hair (a snapping
    # link's end, say), as they do when everything is noded.
    mixed = crossed[line[a]] != crossed[line[b]]
    crossed[line[a[mixed]]] = True
    crossed[line[b[mixed]]] = True
    # The vertices of the lines left out next to those: full noding also cuts a line where
    # another meets it at a shared vertex.
    mixed = crossed[line[a]] != crossed[line[b]]
    other = np.where(crossed[line[a[mixed]]], b[mixed], a[mixed])
    touching = np.concatenate([coords[seg[other]], coords[seg[other] + 1]])
    return _Crossings(crossed, touching, tree if single else None)


def _sign(
    ox: np.ndarray, oy: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Sign of the turn o → a → b (1 left, -1 right), 0 where rounding leaves it in doubt."""
    left = (ax - ox) * (by - oy)
    right = (ay - oy) * (bx - ox)
    det = left - right
    bound = _ERR * (np.abs(left) + np.abs(right))
    return (det > bound).astype(np.int8) - (det < -bound)


def _cut_at(noded: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The ``noded`` lines cut at those of their inner vertices that are one of ``points``."""
    if not len(points):
        return noded
    coords, which = shapely.get_coordinates(noded, return_index=True)
    inner = np.zeros(len(coords), dtype=bool)
    inner[1:-1] = (which[1:-1] == which[:-2]) & (which[1:-1] == which[2:])
    # Exact coordinates as one complex number each: numpy.isin compares them by value.
    keys = coords[:, 0] + 1j * coords[:, 1]
    cut = inner & np.isin(keys, points[:, 0] + 1j * points[:, 1])
    if not cut.any():
        return noded
    # A cut vertex ends one line and its copy starts the next.
    repeat = np.where(cut, 2, 1)
    last = np.cumsum(repeat) - 1  # where each vertex (its last copy) goes
    starts = np.zeros(last[-1] + 1, dtype=bool)
    starts[last[cut]] = True
    starts[(last - repeat + 1)[1:][which[1:] != which[:-1]]] = True
    return shapely.linestrings(np.repeat(coords, repeat, axis=0), indices=np.cumsum(starts))


def _distinct(ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One node per distinct row of ``ends`` (coordinates rounded to the millimetre), numbered by
    x then y: the node of each row, and a row of each node.

    ``numpy.unique(ends, axis=0)``, but as one sort of one integer key (the millimetres of x and
    y): numpy sorts rows as records far more slowly.
    """
    if not len(ends):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    mm = np.rint(ends * 1000)  # exact: ends are whole millimetres, to within far less than 0.5
    low = mm.min(axis=0)
    span = mm.max(axis=0) - low + 1
    if float(span[0]) * float(span[1]) < 2.0**62:
        steps = (mm - low).astype(np.int64)
        order = np.argsort(steps[:, 0] * int(span[1]) + steps[:, 1])
    else:  # too far apart for one int64 key
        order = np.lexsort((ends[:, 1], ends[:, 0]))
    sorted_ends = ends[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (sorted_ends[1:] != sorted_ends[:-1]).any(axis=1)
    node_of = np.empty(len(order), dtype=np.int64)
    node_of[order] = np.cumsum(new) - 1
    return node_of, order[new]


def _owners(
    noded: np.ndarray, lines: np.ndarray, tree: shapely.STRtree | None = None
) -> np.ndarray:
    """The line of ``lines`` that each of the ``noded`` lines lies along: the one nearest its
    midpoint.

    The lines within a micrometre of the midpoint are found first, a quick query: where there is
    exactly one, it is the nearest. Only the others (overlapping lines) ask the tree for the
    nearest, a search many times slower per line, which picks among equally near lines.
    """
    if tree is None:
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


def road_network(spec: Network, roads: gpd.GeoDataFrame, max_edge_m: float) -> RoadNetwork:
    """The scenario's road network: ``[network]``'s layer at its class speeds, with a node at
    least every ``max_edge_m`` (the friction grid's cell size)."""
    speed = np.full(len(roads), spec.default_kmh)
    if spec.class_field is not None:
        if spec.class_field not in roads.columns:
            raise LayerError(
                f"network.class_field = {spec.class_field!r}: layer {spec.layer!r} has no such "
                f"field (fields: {', '.join(map(str, roads.columns.drop('geometry')))})",
                "name one of its fields, or drop class_field and speeds",
            )
        by_class = dict(spec.speeds)
        speed = roads[spec.class_field].map(by_class).fillna(spec.default_kmh).to_numpy(float)
    return network_from_lines(roads, speed, spec.snap_m, max_edge_m)


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
