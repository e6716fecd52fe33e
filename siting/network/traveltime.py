"""Travel time criteria: the run's road lines as an osmnx graph, times rasterised onto the grid.

The scenario's ``[network]`` layer (road lines) becomes a routable osmnx ``MultiDiGraph``
(:func:`graph_from_lines`): lines are split where they cross, ends within ``snap_m`` of another
line are joined to it, and every edge gets ``length``, ``speed_kph`` and osmnx's
``travel_time``. A feature (UgleNaukoGrad, a settlement) enters the network at its nearest
node after a straight leg at the off-road speed; times over the network come from
:mod:`siting.network.graph` (scipy csgraph). The time to a cell is then the network time at a node
plus the off-network leg from the node to the cell over the friction surface's passable cells
at the off-road speed: one :func:`siting.raster.cost.cost_distance` run whose sources are the nodes,
each starting with its network time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely

from siting.config.scenario import Network
from siting.errors import LayerError
from siting.network import graph as network
from siting.raster.cost import CORES, cost_distance
from siting.raster.grid import Raster


def graph_from_lines(
    lines: gpd.GeoDataFrame, speed_kmh: np.ndarray, snap_m: float = 0.0, max_edge_m: float = 0.0
) -> nx.MultiDiGraph:
    """A routable two-way osmnx graph of road lines in a projected CRS.

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
        Longest edge: longer ones are split by extra nodes, so that a place beside the middle
        of a long road joins it there rather than at the road's far ends (0: no splitting).

    Returns
    -------
    networkx.MultiDiGraph
        A node at every vertex and crossing; both directions of every straight piece with
        ``length`` (m), ``speed_kph`` and ``travel_time`` (s, from
        :func:`osmnx.routing.add_edge_travel_times`); the graph's ``crs`` is the lines'.
    """
    parts = lines.geometry.reset_index(drop=True).explode(index_parts=False)
    geoms = parts.to_numpy()
    speeds = np.asarray(speed_kmh, dtype=float)[parts.index.to_numpy()]
    if not len(geoms):
        raise LayerError("the road layer has no lines", "give the [network] layer some roads")
    tree = shapely.STRtree(geoms)
    links, link_speeds = [], []
    if snap_m > 0:
        for k, geom in enumerate(geoms):
            for end in shapely.get_coordinates(geom)[[0, -1]]:
                point = shapely.Point(end)
                near = [i for i in tree.query(point, "dwithin", snap_m) if i != k]
                if near and min(geoms[i].distance(point) for i in near) > 1e-6:
                    other = min(near, key=lambda i: geoms[i].distance(point))
                    links.append(shapely.shortest_line(point, geoms[other]))
                    link_speeds.append(min(speeds[k], speeds[other]))
    every = np.concatenate([geoms, np.array(links, dtype=object)])
    every_speed = np.concatenate([speeds, link_speeds])
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(every)))
    if max_edge_m > 0:
        noded = shapely.segmentize(noded, max_edge_m)
    # Each noded line lies along one input line: the one nearest its midpoint.
    middles = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    owner = shapely.STRtree(every).nearest(middles)
    coords, which = shapely.get_coordinates(noded, return_index=True)
    piece = np.flatnonzero(which[:-1] == which[1:])  # consecutive vertices of one line
    ends = np.round(np.stack([coords[piece], coords[piece + 1]], 1), 3)
    keys, node_of = np.unique(ends.reshape(-1, 2), axis=0, return_inverse=True)
    u, v = node_of.reshape(-1, 2).T
    keep = u != v
    nodes = gpd.GeoDataFrame(
        {"x": keys[:, 0], "y": keys[:, 1]},
        geometry=shapely.points(keys),
        crs=lines.crs,
        index=pd.Index(np.arange(len(keys)), name="osmid"),
    )
    forward = pd.DataFrame({"u": u[keep], "v": v[keep], "piece": np.flatnonzero(keep)})
    both = pd.concat([forward, forward.rename(columns={"u": "v", "v": "u"})], ignore_index=True)
    both["key"] = both.groupby(["u", "v"]).cumcount()
    k = both.pop("piece").to_numpy()
    backward = np.arange(len(both)) >= len(forward)
    start = np.where(backward[:, None], ends[k, 1], ends[k, 0])
    end = np.where(backward[:, None], ends[k, 0], ends[k, 1])
    geometry = shapely.linestrings(np.stack([start, end], 1))
    edges = gpd.GeoDataFrame(
        {"length": shapely.length(geometry), "speed_kph": every_speed[owner[which[piece[k]]]]},
        geometry=geometry,
        crs=lines.crs,
        index=pd.MultiIndex.from_frame(both[["u", "v", "key"]]),
    )
    graph = ox.convert.graph_from_gdfs(nodes, edges)
    return ox.routing.add_edge_travel_times(graph)


def road_graph(spec: Network, roads: gpd.GeoDataFrame, max_edge_m: float) -> nx.MultiDiGraph:
    """The scenario's road graph: ``[network]``'s layer at its class speeds, with a node at
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
    return graph_from_lines(roads, speed, spec.snap_m, max_edge_m)


class TravelTimes:
    """Door-to-door travel times over a road graph and the friction surface's passable cells.

    Parameters
    ----------
    graph
        A projected osmnx graph with ``travel_time`` on its edges.
    friction
        The run's friction surface: its impassable cells (water away from bridges) stay so.
    off_road_kmh
        Speed off the network: the legs from a feature to its nearest node and from a node to a
        cell.
    """

    def __init__(self, graph: nx.MultiDiGraph, friction: Raster, off_road_kmh: float) -> None:
        self.graph = graph
        self.arrays = network.graph_arrays(graph)
        self.grid = friction.grid
        self.off_road = off_road_kmh / 3.6  # m/s
        self.seconds_per_m = np.where(np.isfinite(friction.data), 1.0 / self.off_road, np.inf)
        nodes = self.arrays[1]
        xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in nodes])
        rows, cols = self.grid.index(xy[:, 0], xy[:, 1])
        self.on_grid = self.grid.contains(rows, cols)
        self.node_points = shapely.points(xy[self.on_grid])
        self._surfaces: dict[bytes, list[np.ndarray]] = {}

    def node_times(self, geometries: np.ndarray) -> np.ndarray:
        """Seconds from each feature to every graph node (features × nodes): a straight leg to
        the feature's nearest node at the off-road speed, then the network."""
        points = shapely.point_on_surface(geometries)
        snapped = network.snap(self.graph, shapely.get_x(points), shapely.get_y(points))
        od = network.od_matrix(self.arrays, snapped["node"].tolist(), list(self.arrays[1]))
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
