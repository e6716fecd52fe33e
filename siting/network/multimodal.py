"""Mine → plant haul on road and rail: least-cost routes on one multimodal graph, priced per tonne.

The graph (``[haul] mode = "network"``, :class:`~siting.config.haul.Haul`):

- **Road** and **rail** lines, each cut into a routable network by
  :func:`siting.network.traveltime.pieces` (lines split where they cross, ends within
  ``snap_m`` joined, a node at least every :data:`NODE_SPACING_M`). Every piece is an edge both
  ways priced at its length × the mode's tariff (``truck_rub_tkm``, ``rail_rub_tkm``). The graph
  is lines, so a road or rail line that crosses a river crosses it on a bridge by construction:
  no bridge is listed by hand and the rivers play no part in the graph.
- **Stations** (loading points): each joins the rail node and the road node nearest to it
  within ``station_km`` by a transfer edge both ways, priced ``transfer_rub_t`` plus the
  access road between the two nodes (road km at the truck tariff).
- **Demand features** (mines) and **candidate plants**, one node each: a mine leaves by its
  *road leg* to the nearest road node over the friction surface's passable cells (round open
  water; :func:`_road_legs`), priced ``offroad_rub_tkm`` and counted as ``km_offroad``; a mine
  within ``siding_km`` of a rail line also leaves by a
  *siding*, a straight spur to the nearest rail node, priced and counted as rail. A plant
  candidate is joined the same two ways. Mines have only outgoing edges and plants only
  incoming ones, so no route passes through either.

One :func:`scipy.sparse.csgraph.dijkstra` call from all mines gives the cost to every plant and
the predecessors, from which each route is traced back: its kilometres by mode, its transfers
and its geometry through the nodes (:class:`HaulMatrix`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csgraph
from scipy.spatial import KDTree

from siting.config.scenario import Haul
from siting.errors import LayerError
from siting.network.graph import RoadNetwork
from siting.network.traveltime import Pieces, pieces
from siting.raster.cost import cost_distance, start_cells
from siting.raster.grid import Raster

log = logging.getLogger("siting")

#: Longest piece of a road or rail line (metres): a siding or a road leg ends at the nearest node,
#: so it is at most half this longer than the straight line to the nearest point of the line.
NODE_SPACING_M = 1000.0

#: Edge modes. A transfer edge's length is its access road (counted as road km).
ROAD, RAIL, OFFROAD, TRANSFER = 0, 1, 2, 3


@dataclass(frozen=True)
class HaulMatrix:
    """The least-cost haul from each source (a demand feature) to each target (a candidate).

    Attributes
    ----------
    cost
        RUB per tonne, sources × targets (``inf`` where no route joins them).
    km_road, km_rail, km_offroad
        Kilometres of the route by mode (a siding counts as rail, a station's access road as
        road, a mine's or plant's road leg as off-road); NaN where unreachable.
    transfers
        Truck ↔ rail transfers along the route.
    routes
        The route as a LineString from the source through the network's nodes to the target
        (None where unreachable).
    truck_rub_tkm
        The truck tariff: :attr:`km` is :attr:`cost` in truck-km equivalents.
    """

    cost: np.ndarray
    km_road: np.ndarray
    km_rail: np.ndarray
    km_offroad: np.ndarray
    transfers: np.ndarray
    routes: np.ndarray
    truck_rub_tkm: float

    @property
    def km(self) -> np.ndarray:
        """The cost in truck-km equivalents (RUB/t ÷ the truck tariff): the unit the
        allocation's objective and opening cost are in."""
        return self.cost / self.truck_rub_tkm

    def cost_at(
        self,
        truck_rub_tkm: float,
        rail_rub_tkm: float,
        offroad_rub_tkm: float,
        transfer_rub_t: float,
    ) -> np.ndarray:
        """RUB per tonne of the same routes at other tariffs (``inf`` where unreachable).

        The routes stay the least-cost ones of the tariffs they were found with: at other
        tariffs another route may be cheaper, so this is an upper bound of the least cost.
        """
        with np.errstate(invalid="ignore"):
            cost = (
                truck_rub_tkm * self.km_road
                + rail_rub_tkm * self.km_rail
                + offroad_rub_tkm * self.km_offroad
                + transfer_rub_t * self.transfers
            )
        return np.where(np.isfinite(self.cost), cost, np.inf)


@dataclass(frozen=True)
class _Edges:
    """Directed edges of the graph, one per (u, v), cheapest kept; sorted by ``u * n + v``."""

    u: np.ndarray
    v: np.ndarray
    cost: np.ndarray
    length_m: np.ndarray
    mode: np.ndarray
    n: int

    @classmethod
    def of(
        cls,
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        n: int,
    ) -> _Edges:
        u, v, cost, length, mode = (np.concatenate(col) for col in zip(*parts, strict=True))
        u, v = u.astype(np.int64), v.astype(np.int64)
        keep = u != v
        u, v, cost, length, mode = u[keep], v[keep], cost[keep], length[keep], mode[keep]
        pair = u * n + v
        order = np.lexsort((cost, pair))  # by pair, the cheapest first
        pair = pair[order]
        first = np.ones(len(pair), dtype=bool)
        first[1:] = pair[1:] != pair[:-1]
        pick = order[first]
        return cls(u[pick], v[pick], cost[pick], length[pick], mode[pick], n)

    def find(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Positions of the edges ``a[k] → b[k]`` (all present)."""
        keys = self.u * self.n + self.v
        return np.searchsorted(keys, a.astype(np.int64) * self.n + b.astype(np.int64))


def check_layers(spec: Haul, layers: dict[str, gpd.GeoDataFrame]) -> None:
    """Refuse, before the long computation, road or rail layers of a network haul that are
    empty or not lines.

    Raises
    ------
    LayerError
        Naming the ``[haul]`` key and the layer.
    """
    if spec.mode == "network":
        for what in ("roads", "rail"):
            _lines_of(layers[getattr(spec, what)], what, spec)


def _lines_of(lines: gpd.GeoDataFrame, what: str, spec: Haul) -> None:
    if lines.empty:
        raise LayerError(
            f"haul.{what} = {getattr(spec, what)!r}: the layer has no lines around the study area",
            f'give the {what} layer some lines, or set [haul] mode = "friction"',
        )
    kinds = set(lines.geom_type.dropna())
    if not kinds <= {"LineString", "MultiLineString"}:
        raise LayerError(
            f"haul.{what} = {getattr(spec, what)!r}: the layer holds {', '.join(sorted(kinds))} "
            "features, not lines",
            f"name a layer of {what} lines in [haul] {what}",
        )


def _line_pieces(lines: gpd.GeoDataFrame, what: str, spec: Haul) -> Pieces:
    _lines_of(lines, what, spec)
    return pieces(lines, np.ones(len(lines)), spec.snap_m, NODE_SPACING_M)


def _both_ways(
    p: Pieces, offset: int, tariff: float, mode: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    u, v = p.u + offset, p.v + offset
    cost = p.length_m / 1000.0 * tariff
    return (
        np.concatenate([u, v]),
        np.concatenate([v, u]),
        np.concatenate([cost, cost]),
        np.concatenate([p.length_m, p.length_m]),
        np.full(2 * len(u), mode),
    )


def _road_legs(
    xy: np.ndarray, tree: KDTree, node_xy: np.ndarray, passable: Raster | None
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """For each point, its road leg: the road node it reaches, the leg's length in metres and
    its vertices from the point to the node.

    Over the friction surface (``passable``), the leg is the shortest path through passable
    cells from the nearest road node (one multi-source :func:`~siting.raster.cost.cost_distance`
    with every cell costing its length): it goes round open water, as a truck must; a point whose
    cell the coarse grid's water took starts from the bank
    (:func:`~siting.raster.cost.start_cells`). Without a surface, or from a point no node
    reaches, it is the straight line to the nearest node.
    """
    _, nearest = tree.query(xy)
    straight = [np.array([p, node_xy[k]]) for p, k in zip(xy, nearest, strict=True)]
    if passable is None:
        return nearest, np.hypot(*(xy - node_xy[nearest]).T), straight
    grid = passable.grid
    uniform = np.where(np.isfinite(passable.data), 1.0, np.inf)
    rows, cols = grid.index(node_xy[:, 0], node_xy[:, 1])
    inside = grid.contains(rows, cols)
    if not inside.any():
        return nearest, np.hypot(*(xy - node_xy[nearest]).T), straight
    field = cost_distance(
        uniform, np.column_stack([rows[inside], cols[inside]]), transform=grid.transform
    )
    nodes, legs, lost = nearest.copy(), list(straight), 0
    for k, point in enumerate(xy):
        # From the point's cell, or the bank if the coarse grid's water took it.
        (row, col), *_ = start_cells(passable, shapely.Point(point))
        bank = grid.xy(row, col)
        path = field.path(float(bank[0]), float(bank[1]))
        if path is None:
            lost += 1
            continue
        cells = shapely.get_coordinates(path)  # from the source's cell to the point's
        _, nodes[k] = tree.query(cells[0])  # the node in the source's cell
        legs[k] = np.vstack([point, cells[::-1][1:-1], node_xy[nodes[k]]])
    if lost:
        log.warning(
            "      haul: from %d point(s) no road is reached over passable land (an island of "
            "the friction grid): their road leg is the straight line to the nearest road node",
            lost,
        )
    length = np.array([shapely.length(shapely.LineString(leg)) for leg in legs])
    return nodes, length, legs


def haul_matrix(
    spec: Haul,
    roads: gpd.GeoDataFrame,
    rail: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame | None,
    sources: np.ndarray,
    targets: np.ndarray,
    passable: Raster | None = None,
) -> HaulMatrix:
    """The least-cost haul from every source to every target on road and rail (see the module
    text for the graph).

    Parameters
    ----------
    spec
        The ``[haul]`` tariffs and rules.
    roads, rail
        Road and rail lines in a projected CRS (metres).
    stations
        Loading points where truck and rail meet (or None: no transfer).
    sources, targets
        Points (n × 2 arrays of x, y): the demand features and the candidate plants.
    passable
        The friction surface: a road leg crosses none of its impassable (infinite) cells.

    Returns
    -------
    HaulMatrix
        Cost, kilometres by mode, transfers and routes, sources × targets.

    Raises
    ------
    LayerError
        If the road or rail layer has no lines.
    """
    sources = np.asarray(sources, dtype=float).reshape(-1, 2)
    targets = np.asarray(targets, dtype=float).reshape(-1, 2)
    road = _line_pieces(roads, "roads", spec)
    track = _line_pieces(rail, "rail", spec)
    n_road, n_rail = len(road.x), len(track.x)
    base = n_road + n_rail
    n_src, n_dst = len(sources), len(targets)
    n = base + n_src + n_dst
    x = np.concatenate([road.x, track.x, sources[:, 0], targets[:, 0]])
    y = np.concatenate([road.y, track.y, sources[:, 1], targets[:, 1]])
    road_xy = np.column_stack([road.x, road.y])
    rail_xy = np.column_stack([track.x, track.y])
    road_tree, rail_tree = KDTree(road_xy), KDTree(rail_xy)
    parts = [
        _both_ways(road, 0, spec.truck_rub_tkm, ROAD),
        _both_ways(track, n_road, spec.rail_rub_tkm, RAIL),
    ]
    if stations is not None and len(stations):
        parts.append(_transfers(spec, stations, road_tree, rail_tree, road_xy, rail_xy, n_road))
    src = base + np.arange(n_src)
    dst = base + n_src + np.arange(n_dst)
    legs = []
    for ends, outgoing in ((sources, True), (targets, False)):
        nodes = src if outgoing else dst
        leg_node, leg_m, leg_xy = _road_legs(ends, road_tree, road_xy, passable)
        legs.append(leg_xy)
        parts.append(_legs(nodes, leg_node, leg_m, spec.offroad_rub_tkm, OFFROAD, outgoing))
        if spec.siding_km > 0:
            d, near = rail_tree.query(ends)
            has = d <= spec.siding_km * 1000.0
            parts.append(
                _legs(nodes[has], near[has] + n_road, d[has], spec.rail_rub_tkm, RAIL, outgoing)
            )
    edges = _Edges.of(parts, n)
    network = RoadNetwork.from_edges(edges.u, edges.v, edges.cost, x, y, crs=roads.crs)
    dist, pred = csgraph.dijkstra(
        network.matrix, directed=True, indices=src, return_predecessors=True
    )
    return _traced(spec, edges, dist[:, dst], pred, (src, dst), (x, y), legs)


def _legs(
    ends: np.ndarray, nodes: np.ndarray, length_m: np.ndarray, tariff: float, mode: int, out: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges from ``ends`` to ``nodes`` (``out``) or back, one way."""
    a, b = (ends, nodes) if out else (nodes, ends)
    return a, b, length_m / 1000.0 * tariff, np.asarray(length_m, float), np.full(len(a), mode)


def _transfers(
    spec: Haul,
    stations: gpd.GeoDataFrame,
    road_tree: KDTree,
    rail_tree: KDTree,
    road_xy: np.ndarray,
    rail_xy: np.ndarray,
    n_road: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Transfer edges both ways between each station's nearest rail and road nodes."""
    points = stations.geometry.representative_point()
    xy = np.column_stack([points.x, points.y])
    d_road, near_road = road_tree.query(xy)
    d_rail, near_rail = rail_tree.query(xy)
    ok = (d_road <= spec.station_km * 1000.0) & (d_rail <= spec.station_km * 1000.0)
    if not ok.all():
        names = (
            stations["name"].astype(str).to_numpy()
            if "name" in stations.columns
            else np.arange(len(stations)).astype(str)
        )
        log.warning(
            "      haul: %d station(s) lie farther than station_km = %g km from a road or rail "
            "line and are no transfer point: %s",
            int((~ok).sum()),
            spec.station_km,
            ", ".join(names[~ok]),
        )
    a, b = near_road[ok], near_rail[ok] + n_road
    access = np.hypot(*(road_xy[near_road[ok]] - rail_xy[near_rail[ok]]).T)
    cost = spec.transfer_rub_t + access / 1000.0 * spec.truck_rub_tkm
    return (
        np.concatenate([a, b]),
        np.concatenate([b, a]),
        np.concatenate([cost, cost]),
        np.concatenate([access, access]),
        np.full(2 * len(a), TRANSFER),
    )


def _traced(
    spec: Haul,
    edges: _Edges,
    cost: np.ndarray,
    pred: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray],
    xy: tuple[np.ndarray, np.ndarray],
    legs: list[list[np.ndarray]],
) -> HaulMatrix:
    """Every route traced back through the predecessors: km by mode, transfers, geometry (the
    road legs through their own vertices, ``legs`` of the sources and of the targets)."""
    src, dst = ends
    x, y = xy
    shape = cost.shape
    km = {mode: np.full(shape, np.nan) for mode in (ROAD, RAIL, OFFROAD)}
    transfers = np.zeros(shape, dtype=np.int64)
    routes = np.full(shape, None, dtype=object)
    for i in range(shape[0]):
        back = pred[i]
        for j in range(shape[1]):
            if not np.isfinite(cost[i, j]):
                continue
            path = [int(dst[j])]
            while path[-1] != src[i]:
                path.append(int(back[path[-1]]))
            nodes = np.array(path[::-1])
            at = edges.find(nodes[:-1], nodes[1:])
            length, mode = edges.length_m[at], edges.mode[at]
            for m in (ROAD, RAIL, OFFROAD):
                # A station's access road is road.
                on = (mode == m) | ((mode == TRANSFER) if m == ROAD else False)
                km[m][i, j] = length[on].sum() / 1000.0
            transfers[i, j] = int((mode == TRANSFER).sum())
            coords = np.column_stack([x[nodes], y[nodes]])
            head = legs[0][i] if mode[0] == OFFROAD else coords[:2]
            tail = legs[1][j][::-1] if mode[-1] == OFFROAD else coords[-2:]
            # The nodes between the first leg's end and the last leg's start.
            routes[i, j] = shapely.LineString(np.vstack([head, coords[2:-2], tail]))
    return HaulMatrix(cost, km[ROAD], km[RAIL], km[OFFROAD], transfers, routes, spec.truck_rub_tkm)
