"""Travel time over a road network (an osmnx graph), computed with ``scipy.sparse.csgraph``.

networkx runs Dijkstra in pure Python; here the graph is turned once into a compressed sparse row
(CSR) matrix and every shortest-path query is a single compiled ``csgraph.dijkstra`` call. Times
come out in the unit of the edge ``weight`` attribute: seconds for osmnx's ``travel_time`` (set by
:func:`osmnx.routing.add_edge_speeds` then :func:`osmnx.routing.add_edge_travel_times`).

Nodes that cannot be reached get ``inf``. Points off the network are joined to it with
:func:`snap` and :func:`access_times` (a straight-line leg to the nearest graph node).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from siting.errors import LayerError

SPEEDS_FIX = "call osmnx.routing.add_edge_speeds and add_edge_travel_times first"

#: A graph already converted by :func:`graph_arrays`: reuse it to skip the conversion.
Arrays = tuple[sparse.csr_array, np.ndarray]
Network = nx.Graph | Arrays


def graph_arrays(G: nx.Graph, weight: str = "travel_time") -> Arrays:
    """The directed graph as a sparse matrix of edge weights, and the node order of its rows.

    Parameters
    ----------
    G
        A networkx graph, typically an osmnx ``MultiDiGraph``. An undirected graph is taken as
        directed both ways.
    weight
        Edge attribute holding the (non-negative) cost of traversing the edge.

    Returns
    -------
    matrix, nodes
        ``matrix[i, j]`` is the weight of the edge from ``nodes[i]`` to ``nodes[j]``, the minimum
        one where parallel edges join the same pair (a route takes the fastest of them). Self-loops
        are dropped: they never shorten a path.

    Raises
    ------
    LayerError
        If an edge lacks ``weight`` or its value is negative or NaN.
    """
    nodes = np.empty(len(G), dtype=object)
    nodes[:] = list(G.nodes)  # assigned, not np.array(list): tuple node ids must stay scalars
    index = {node: i for i, node in enumerate(nodes)}
    multi = G.is_multigraph()
    row_ids: list[int] = []
    counts: list[int] = []
    cols_list: list[int] = []
    costs_list: list = []
    # G.adjacency() walks networkx's own adjacency dicts, every edge once per direction it can be
    # travelled (so twice in an undirected graph): about 3x faster than G.edges(data=weight),
    # which builds a tuple per edge. This loop dominates the conversion.
    for u, nbrs in G.adjacency():
        before = len(cols_list)
        for v, data in nbrs.items():
            j = index[v]
            for attrs in data.values() if multi else (data,):
                cols_list.append(j)
                costs_list.append(attrs.get(weight))
        row_ids.append(index[u])
        counts.append(len(cols_list) - before)
    rows = np.repeat(np.array(row_ids, dtype=np.int64), np.array(counts, dtype=np.int64))
    cols = np.array(cols_list, dtype=np.int64)
    costs = np.array(costs_list, dtype=float)  # a missing weight (None) becomes NaN
    if not (costs >= 0).all():  # NaN fails too: it would silently poison Dijkstra
        bad = int(np.flatnonzero(~(costs >= 0))[0])
        edge = f"the road graph's edge ({nodes[rows[bad]]!r}, {nodes[cols[bad]]!r})"
        if costs_list[bad] is None:
            raise LayerError(f"{edge} has no {weight!r} attribute", SPEEDS_FIX)
        raise LayerError(
            f"{edge} has {weight!r} = {costs[bad]}, not a non-negative number", SPEEDS_FIX
        )
    keep = rows != cols
    rows, cols, costs = rows[keep], cols[keep], costs[keep]
    # Sparse constructors *sum* duplicate entries; parallel edges must give their minimum instead,
    # so sort by (row, col, cost) and keep the first entry of each (row, col) pair.
    order = np.lexsort((costs, cols, rows))
    rows, cols, costs = rows[order], cols[order], costs[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, costs = rows[first], cols[first], costs[first]
    # Built directly from CSR parts (rows are sorted) so that zero-cost edges stay explicit
    # entries: csgraph reads an explicit zero in a sparse matrix as an edge of weight 0.
    indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(nodes)), out=indptr[1:])
    matrix = sparse.csr_array((costs, cols, indptr), shape=(len(nodes), len(nodes)))
    return matrix, nodes


def _arrays(G: Network, weight: str) -> Arrays:
    return G if isinstance(G, tuple) else graph_arrays(G, weight)


def _indices(nodes: np.ndarray, wanted: Iterable[Hashable], what: str) -> np.ndarray:
    """Row numbers of ``wanted`` node ids, or a :class:`LayerError` naming the first unknown."""
    index = {node: i for i, node in enumerate(nodes)}
    wanted = list(wanted)
    missing = [node for node in wanted if node not in index]
    if missing:
        raise LayerError(
            f"{what} node {missing[0]!r} is not in the road graph",
            "snap points to the graph first (siting.network.snap)",
        )
    if not wanted:
        raise LayerError(f"no {what} nodes given", f"pass at least one {what} node id")
    return np.array([index[node] for node in wanted], dtype=np.int64)


def travel_times(
    G: Network,
    sources: Sequence[Hashable],
    weight: str = "travel_time",
    limit: float | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Shortest travel time from the nearest of ``sources`` to every node, in one Dijkstra run.

    Parameters
    ----------
    G
        An osmnx graph, or the ``(matrix, nodes)`` pair from :func:`graph_arrays` (reuse it when
        querying the same graph many times: the conversion costs more than the search).
    sources
        Node ids to start from (e.g. the nodes nearest to mines).
    weight
        Edge attribute to minimise; times are in its unit (seconds for ``travel_time``).
    limit
        Stop searching beyond this time (same unit as ``weight``); farther nodes get ``inf``.
        Cuts the work when only nearby nodes matter.

    Returns
    -------
    times, nearest
        Both indexed by node id. ``times`` is the time from the nearest source (``inf`` where no
        source reaches the node within ``limit``). ``nearest`` is the position in ``sources`` of
        that source, ``-1`` where none reaches it; on ties any of the tied sources may be given.

    Raises
    ------
    LayerError
        If a source is not a node of ``G`` or edges lack ``weight``.
    """
    matrix, nodes = _arrays(G, weight)
    src = _indices(nodes, sources, "source")
    times, _, reached_from = csgraph.dijkstra(
        matrix,
        directed=True,
        indices=src,
        min_only=True,
        return_predecessors=True,
        limit=np.inf if limit is None else float(limit),
    )
    # dijkstra names the source by its row number (-9999 when unreached); map to its position.
    position = np.full(len(nodes) + 1, -1, dtype=np.int64)  # the extra slot absorbs -9999
    position[src[::-1]] = np.arange(len(src))[::-1]  # a repeated source keeps its first position
    nearest = position[np.where(reached_from < 0, len(nodes), reached_from)]
    index = pd.Index(nodes, name="node").infer_objects()  # int64 for osmnx's integer ids
    times = pd.Series(times, index=index, name="time")
    return times, pd.Series(nearest, index=index, name="source")


def od_matrix(
    G: Network,
    sources: Sequence[Hashable],
    targets: Sequence[Hashable],
    weight: str = "travel_time",
) -> pd.DataFrame:
    """Origin-destination matrix of shortest travel times from each source to each target.

    Parameters
    ----------
    G
        An osmnx graph, or the ``(matrix, nodes)`` pair from :func:`graph_arrays`.
    sources, targets
        Node ids.
    weight
        Edge attribute to minimise; times are in its unit (seconds for ``travel_time``).

    Returns
    -------
    pandas.DataFrame
        Rows are ``sources``, columns ``targets``; ``inf`` where the target is unreachable.

    Notes
    -----
    One Dijkstra search per source, each over the whole graph: memory is
    ``len(sources) × n_nodes`` floats before the target columns are picked out.
    """
    matrix, nodes = _arrays(G, weight)
    src = _indices(nodes, sources, "source")
    dst = _indices(nodes, targets, "target")
    times = csgraph.dijkstra(matrix, directed=True, indices=src)
    return pd.DataFrame(
        times[:, dst],
        index=pd.Index(list(sources), name="source"),
        columns=pd.Index(list(targets), name="target"),
    )


def snap(G: nx.MultiDiGraph, x: Iterable[float], y: Iterable[float]) -> pd.DataFrame:
    """Nearest graph node and nearest edge to each point.

    Parameters
    ----------
    G
        A *projected* osmnx graph (see :func:`osmnx.projection.project_graph`), so that distances
        are in metres and straight lines are meaningful.
    x, y
        Point coordinates in the graph's CRS.

    Returns
    -------
    pandas.DataFrame
        One row per point: ``node`` and ``node_dist_m`` (nearest node and the straight-line
        distance to it), ``u``, ``v``, ``key`` and ``edge_dist_m`` (nearest edge and the distance
        to its geometry).

    Raises
    ------
    LayerError
        If the graph is not projected.
    """
    import osmnx as ox  # imported here: the rest of the module runs on any networkx graph

    crs = G.graph.get("crs")
    if crs is None or not ox.projection.is_projected(crs):
        raise LayerError(
            f"the road graph is in {crs!r}, not a projected CRS: distances would be in degrees",
            "project it first with osmnx.projection.project_graph(G, to_crs=...)",
        )
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    node, node_dist = ox.distance.nearest_nodes(G, x, y, return_dist=True)
    edge, edge_dist = ox.distance.nearest_edges(G, x, y, return_dist=True)
    u, v, key = zip(*edge, strict=True)  # osmnx gives an object array of (u, v, key) tuples
    return pd.DataFrame(
        {
            "node": node,
            "node_dist_m": node_dist,
            "u": list(u),
            "v": list(v),
            "key": list(key),
            "edge_dist_m": edge_dist,
        }
    )


def access_times(times: pd.Series, snapped: pd.DataFrame, *, off_speed_kmh: float) -> np.ndarray:
    """Travel time to points off the network: the network time at the point's nearest node plus
    a straight-line leg from the node to the point at ``off_speed_kmh``.

    The leg goes to the nearest *node*, not the nearest edge, so that the whole trip is a real
    route (walk or drive cross-country to a junction, then along roads). The time is an upper
    bound where a point lies beside the middle of a long edge; densify long edges to tighten it.

    Parameters
    ----------
    times
        Network times in seconds (osmnx ``travel_time``) indexed by node id, as returned by
        :func:`travel_times`.
    snapped
        :func:`snap` of the points (its ``node`` and ``node_dist_m`` columns are used).
    off_speed_kmh
        Speed off the network, km/h (e.g. 5 on foot, 15–30 for a truck on tracks).

    Returns
    -------
    numpy.ndarray
        Time to each point in seconds; ``inf`` where its node is unreached.
    """
    if not off_speed_kmh > 0:
        raise LayerError(
            f"off_speed_kmh is {off_speed_kmh}, it must be positive", "give a speed in km/h"
        )
    leg = snapped["node_dist_m"].to_numpy(dtype=float) / (off_speed_kmh / 3.6)  # m / (m/s)
    return times.reindex(snapped["node"]).to_numpy(dtype=float) + leg
