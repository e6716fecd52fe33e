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
import pandas as pd
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
    The pieces are those of the lines (with the links) noded by GEOS (:func:`shapely.node`),
    then cut by :func:`shapely.segmentize`, every noded line at the speed of the line it lies
    along (of overlapping lines, the one :meth:`shapely.STRtree.nearest` gives). GEOS only nodes
    the lines that meet a line other than at a vertex of both, though, and those a hair away
    from them (:func:`_crossed`): a layer already cut at its junctions, like OSM ways, has
    almost none. The 360,000 lines of ``benchmarks/network.py`` are cut in 0.45 s this way, in
    2.7 s by noding every line and looking up the speed of every noded line.
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
    cross = _crossed(every, coords, which, _exact(coords, node_of, first))
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
            owner = np.concatenate([owner, _owners(noded, every, cross.tree)])
        coords, which = shapely.get_coordinates(out, return_index=True)
        x, y, node_of, first = _nodes(coords)
        line_speed = every_speed[owner]
    piece = np.flatnonzero(which[:-1] == which[1:])  # consecutive vertices of one line
    # The length of each piece between its rounded ends, as GEOS measures a segment.
    dx, dy = x[piece + 1] - x[piece], y[piece + 1] - y[piece]
    length = np.sqrt(dx * dx + dy * dy)
    return Pieces(
        x[first],
        y[first],
        node_of[piece],
        node_of[piece + 1],
        length,
        line_speed[which[piece]],
        lines.crs,
    )


def _nodes(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vertices' coordinates rounded to the millimetre, and one node per distinct rounded
    point, numbered by x then y: the node of each vertex, and a vertex of each node."""
    x, y = np.round(coords[:, 0], 3), np.round(coords[:, 1], 3)
    if not len(x):
        return x, y, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # One int64 key per point, the millimetres from the lower left corner, hashed by pandas: a
    # sort of the distinct keys only, and no sort of rows as records (numpy.unique(axis=0)).
    mx, my = np.rint(x * 1000), np.rint(y * 1000)  # exact: x and y are whole millimetres
    low_x, low_y = mx.min(), my.min()
    span_y = my.max() - low_y + 1
    if (mx.max() - low_x + 1) * span_y < 2.0**62:
        key = (mx - low_x).astype(np.int64) * int(span_y) + (my - low_y).astype(np.int64)
        codes, keys = pd.factorize(key)
        order = np.argsort(keys)
    else:  # too far apart for one int64 key (thousands of kilometres)
        codes, points = pd.factorize(x + 1j * y)
        order = np.lexsort((points.imag, points.real))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    node_of = rank[codes]
    first = np.empty(len(order), dtype=np.int64)
    first[node_of] = np.arange(len(x))  # any vertex of the node: they round alike
    return x, y, node_of, first


def _exact(coords: np.ndarray, node_of: np.ndarray, first: np.ndarray) -> np.ndarray:
    """An id for each vertex, the same only for vertices at exactly the same point: its node's
    where it lies exactly on the node's first vertex, else one of its own."""
    rep = first[node_of]
    same = (coords[:, 0] == coords[rep, 0]) & (coords[:, 1] == coords[rep, 1])
    return np.where(same, node_of, len(first) + np.arange(len(coords)))


def _segmentize(lines: np.ndarray, max_edge_m: float) -> np.ndarray:
    """:func:`shapely.segmentize` of ``lines`` (as they are if ``max_edge_m`` is 0), but for
    those of no length, which GEOS refuses: kept as they are (a node, no piece)."""
    if not max_edge_m > 0:
        return lines
    out = lines.copy()
    some = shapely.length(lines) > 0
    out[some] = shapely.segmentize(lines[some], max_edge_m)
    return out


#: Relative error bound of a 2 x 2 determinant of coordinate differences in floating point:
#: Shewchuk's ``ccwerrboundA`` (3.3e-16), with room to spare. Beyond it the sign is certain.
_ERR = 1e-15
#: Segments apart by less than this times the largest coordinate (a million times the rounding
#: of a coordinate) are a hair apart: where GEOS cuts one, the other may touch the cut pieces.
_HAIR = 1e-9


@dataclass(frozen=True)
class _Crossings:
    """The lines GEOS must node (see :func:`_crossed`)."""

    crossed: np.ndarray  # per line: to be noded
    touching: np.ndarray  # (k, 2): vertices of the lines not to be noded next to those
    tree: shapely.STRtree | None  # of the lines, when it was built on the way


def _crossed(
    every: np.ndarray, coords: np.ndarray, which: np.ndarray, vertex: np.ndarray
) -> _Crossings:
    """The lines with a segment that meets another segment (of any line) other than at a vertex
    of both (they cross, an end lies on the other, they overlap), and the lines a hair away.

    ``coords`` and ``which`` are the lines' vertices and the line of each; ``vertex`` an id per
    vertex, the same for vertices at exactly the same point (:func:`_exact`). The segments are
    paired by their bounding boxes in an :class:`shapely.STRtree`. A pair sharing an end is set
    aside unless both leave it in about the same direction; one without, only where the
    orientation of their ends shows them apart for certain (the sign of each determinant beyond
    its rounding error). Any doubt goes to GEOS.
    """
    seg = np.flatnonzero(which[:-1] == which[1:])
    line = which[seg]
    crossed = np.zeros(len(every), dtype=bool)
    if not len(seg):
        return _Crossings(crossed, np.empty((0, 2)), None)
    px, py, qx, qy = coords[seg, 0], coords[seg, 1], coords[seg + 1, 0], coords[seg + 1, 1]
    length = np.hypot(qx - px, qy - py)
    scale = max(1.0, float(np.abs(coords).max()))
    tree, a, b = _pairs(every, which, seg, px, py, qx, qy, length, scale)
    start, end = vertex[seg], vertex[seg + 1]
    sa, ea, sb, eb = start[a], end[a], start[b], end[b]
    sa_shared = (sa == sb) | (sa == eb)
    ea_shared = (ea == sb) | (ea == eb)
    doubt = sa_shared & ea_shared  # the same segment twice, or one of no length
    # One shared end: each segment leaves it at its angle, or the opposite one. The angles are
    # good to about 1e-15 radians (each coordinate difference is rounded once, arctan2 to an
    # ulp or two): pairs leaving within 1e-9 radians of each other go to GEOS.
    angle = np.arctan2(qy - py, qx - px)
    sb_shared = (sb == sa) | (sb == ea)
    turn = angle[a] - angle[b] + np.pi * (sb_shared.astype(np.int8) - sa_shared)
    turn = np.abs(np.remainder(turn + np.pi, 2 * np.pi) - np.pi)
    doubt |= (sa_shared ^ ea_shared) & (turn < 1e-9)
    # No shared end: apart if one lies wholly on one side of the other's line, and then at least
    # as far from it as the nearer of its ends.
    none = np.flatnonzero(~(sa_shared | ea_shared))
    a0, b0 = a[none], b[none]
    p, q = (px[a0], py[a0]), (qx[a0], qy[a0])
    r, t = (px[b0], py[b0]), (qx[b0], qy[b0])
    (s1, d1), (s2, d2) = _turn(*p, *q, *r), _turn(*p, *q, *t)
    (s3, d3), (s4, d4) = _turn(*r, *t, *p), _turn(*r, *t, *q)
    b_aside = (s1 == s2) & (s1 != 0)  # b on one side of a's line
    a_aside = (s3 == s4) & (s3 != 0)
    doubt[none[~(a_aside | b_aside)]] = True
    with np.errstate(divide="ignore", invalid="ignore"):  # no length: not aside, not used
        gap = np.maximum(
            np.where(b_aside, np.minimum(np.abs(d1), np.abs(d2)) / length[a0], 0.0),
            np.where(a_aside, np.minimum(np.abs(d3), np.abs(d4)) / length[b0], 0.0),
        )
    hair = (a_aside | b_aside) & (gap <= _HAIR * scale)
    near_a, near_b = line[a0[hair]], line[b0[hair]]
    crossed[line[a[doubt]]] = True
    crossed[line[b[doubt]]] = True
    if not crossed.any():
        return _Crossings(crossed, np.empty((0, 2)), tree)
    # And the lines a hair away from those, and from those in turn: a segment GEOS cuts is no
    # longer quite along the original (its new ends are rounded) and may meet one that was apart
    # from the original by a hair (the end of a snapping link, say), as it does when every line
    # is noded.
    while (grow := crossed[near_a] != crossed[near_b]).any():
        crossed[near_a[grow]] = True
        crossed[near_b[grow]] = True
    # The vertices that the lines left out share with those: noding every line also cuts a line
    # where another meets it at a shared vertex.
    mixed = (sa_shared | ea_shared) & (crossed[line[a]] != crossed[line[b]])
    other = seg[np.where(crossed[line[a[mixed]]], b[mixed], a[mixed])]
    touching = np.concatenate([coords[other], coords[other + 1]])
    return _Crossings(crossed, touching, tree)


def _pairs(
    every: np.ndarray,
    which: np.ndarray,
    seg: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    length: np.ndarray,
    scale: float,
) -> tuple[shapely.STRtree | None, np.ndarray, np.ndarray]:
    """The pairs ``a < b`` of segments (from ``p`` to ``q``, starting at the vertices ``seg``
    of the lines ``every``, of which ``which`` is each vertex's) whose bounding boxes meet,
    found in an :class:`shapely.STRtree`, and the tree when it holds the lines as they are.

    A segment longer than four times the median is boxed in pieces of about that length: the box
    of a long diagonal would meet those of thousands of segments nowhere near it. The boxes of
    the pieces are widened by far more than the rounding of their ends, so that together they
    hold the whole segment.
    """
    piece_m = 4 * float(np.median(length))
    parts = np.ones(len(seg), dtype=np.int64)
    if piece_m > 0:
        parts = np.maximum(1, np.ceil(length / piece_m)).astype(np.int64)
    whole = parts == 1
    one_each = len(seg) == len(every) and np.array_equal(which[seg], np.arange(len(every)))
    if one_each:  # every line one segment: the lines are their own boxes
        boxes = every[whole]
    else:
        boxes = shapely.linestrings(np.stack([px, py, qx, qy], 1)[whole].reshape(-1, 2, 2))
    owner = np.flatnonzero(whole)
    if not whole.all():
        n = parts[~whole]
        long = np.repeat(np.flatnonzero(~whole), n)
        i = np.arange(len(long)) - np.repeat(np.cumsum(n) - n, n)  # the piece of its segment
        f0, f1 = i / parts[long], (i + 1) / parts[long]
        x0, x1 = px[long] + (qx - px)[long] * f0, px[long] + (qx - px)[long] * f1
        y0, y1 = py[long] + (qy - py)[long] * f0, py[long] + (qy - py)[long] * f1
        pad = 1e-9 * scale
        pieces_boxes = shapely.box(
            np.minimum(x0, x1) - pad,
            np.minimum(y0, y1) - pad,
            np.maximum(x0, x1) + pad,
            np.maximum(y0, y1) + pad,
        )
        boxes = np.concatenate([boxes, pieces_boxes])
        owner = np.concatenate([owner, long])
    tree = shapely.STRtree(boxes)
    i, j = tree.query(boxes)
    a, b = owner[i], owner[j]
    keep = a < b
    if whole.all():
        return (tree if one_each else None), a[keep], b[keep]
    # A pair found through several pieces of a long segment, once.
    by_pieces = keep & ((i >= whole.sum()) | (j >= whole.sum()))
    pair = np.unique(a[by_pieces] * len(seg) + b[by_pieces])
    keep &= ~by_pieces
    return (
        None,
        np.concatenate([a[keep], pair // len(seg)]),
        np.concatenate([b[keep], pair % len(seg)]),
    )


def _turn(
    ox: np.ndarray, oy: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sign of the turn o → a → b (1 left, -1 right; 0 where rounding leaves it in doubt), and
    its determinant: twice the area of the triangle, the length of o–a times b's distance from
    its line."""
    left = (ax - ox) * (by - oy)
    right = (ay - oy) * (bx - ox)
    det = left - right
    bound = _ERR * (np.abs(left) + np.abs(right))
    return (det > bound).astype(np.int8) - (det < -bound), det


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
