"""Travel time over a road network, as a sparse matrix searched by ``scipy.sparse.csgraph``.

A :class:`RoadNetwork` is the network as compiled code searches it: a compressed sparse row (CSR)
matrix of edge travel times, the node ids of its rows and where the nodes are. The run builds one
straight from its road lines (:func:`siting.network.traveltime.network_from_lines`); an osmnx
graph a user brings is read once by :func:`network_from_graph`. Every shortest-path query is then
a single ``csgraph.dijkstra`` call, where networkx would run Dijkstra in pure Python. Times are in
the unit of the edges' weight: seconds for osmnx's ``travel_time`` (set by
:func:`osmnx.routing.add_edge_speeds` then :func:`osmnx.routing.add_edge_travel_times`).

Nodes that cannot be reached get ``inf``. Points off the network are joined to it with
:func:`snap` (the nearest node, found in a k-d tree) and :func:`access_times` (a straight-line leg
to it).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any, TypeAlias

import networkx as nx
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import KDTree

from siting.errors import LayerError

SPEEDS_FIX = "call osmnx.routing.add_edge_speeds and add_edge_travel_times first"


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road network: the time along each edge and where each node is.

    Build one with :meth:`from_edges`, :func:`network_from_graph` or
    :func:`siting.network.traveltime.network_from_lines`, then query it as often as needed.

    Attributes
    ----------
    matrix
        ``matrix[i, j]`` is the time from node ``i`` to node ``j`` along the fastest edge joining
        them; every stored entry is an edge, a stored zero one that costs nothing. Canonical CSR
        (columns ascending within a row), 32-bit indices as csgraph searches with.
    nodes
        The node id of each row, named ``node``.
    x, y
        Node coordinates in ``crs``; NaN for a node without them.
    crs
        The coordinates' CRS (anything :class:`pyproj.CRS` reads), or ``None`` if unknown.
    """

    matrix: sparse.csr_array
    nodes: pd.Index
    x: np.ndarray
    y: np.ndarray
    crs: Any = None

    def __post_init__(self) -> None:
        n = len(self.nodes)
        if self.matrix.shape != (n, n) or self.x.shape != (n,) or self.y.shape != (n,):
            raise ValueError(
                f"{n} nodes need an {n} x {n} matrix and {n} x and y, got a "
                f"{self.matrix.shape} matrix, x {self.x.shape} and y {self.y.shape}"
            )

    @classmethod
    def from_edges(
        cls,
        u: np.ndarray,
        v: np.ndarray,
        cost: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        nodes: pd.Index | None = None,
        crs: Any = None,
    ) -> RoadNetwork:
        """The network of directed edges ``u[k] → v[k]`` taking ``cost[k]``.

        Parameters
        ----------
        u, v
            Row numbers (0 ≤ row < ``len(x)``) of each edge's start and end.
        cost
            Non-negative time along each edge. Of parallel edges (same ``u`` and ``v``) the
            fastest is kept, as a route takes it; self-loops are dropped, as they never shorten
            a route.
        x, y
            Node coordinates.
        nodes
            Node ids; default ``0 .. len(x) - 1``.
        crs
            The coordinates' CRS.

        Raises
        ------
        ValueError
            If the arrays disagree in length, a row number is out of range or a cost is negative
            or NaN (it would silently poison Dijkstra).
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        cost = np.asarray(cost, dtype=float)
        n = len(x)
        if not u.shape == v.shape == cost.shape or u.ndim != 1:
            raise ValueError(f"u, v and cost differ in shape: {u.shape}, {v.shape}, {cost.shape}")
        if len(u) and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n):
            raise ValueError(f"edge ends must be row numbers from 0 to {n - 1}")
        if not (cost >= 0).all():  # NaN fails too
            raise ValueError("edge costs must be non-negative numbers")
        keep = u != v
        if not keep.all():  # most road networks have no self-loop: then nothing is copied
            u, v, cost = u[keep], v[keep], cost[keep]
        # Edges sorted by (row, column), as one int64 key: CSR order, with parallel edges
        # side by side, of which the fastest is kept.
        pair = u * n + v
        order = np.argsort(pair, kind="stable")
        pair, cost = pair[order], cost[order]
        new = np.ones(len(pair), dtype=bool)
        new[1:] = pair[1:] != pair[:-1]
        if not new.all():
            first = np.flatnonzero(new)
            cost = np.minimum.reduceat(cost, first)
            pair = pair[first]
        u, v = np.divmod(pair, n)
        # 32-bit indices, as csgraph searches with (int64 ones are copied at every search).
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
        # Built from CSR parts, not from (row, col) pairs, so that zero-cost edges stay explicit
        # entries: csgraph reads an explicit zero of a sparse matrix as an edge of cost 0.
        matrix = sparse.csr_array((cost, v.astype(np.int32), indptr), shape=(n, n))
        if nodes is None:
            nodes = pd.RangeIndex(n, name="node")
        return cls(matrix, nodes.rename("node"), x, y, crs)

    @cached_property
    def _tree(self) -> KDTree:
        """A k-d tree of the node coordinates, built on the first :func:`snap`."""
        return KDTree(np.column_stack([self.x, self.y]))


def network_from_graph(G: nx.Graph, weight: str = "travel_time") -> RoadNetwork:
    """An osmnx graph (or any networkx graph) as a :class:`RoadNetwork`.

    Parameters
    ----------
    G
        Typically an osmnx ``MultiDiGraph`` with ``travel_time`` on its edges, ``x`` and ``y`` on
        its nodes and its ``crs`` in ``G.graph``; a view of one works too. An undirected graph is
        taken as directed both ways. Without ``x`` and ``y`` nodes cannot be snapped to.
    weight
        Edge attribute holding the (non-negative) cost of traversing the edge.

    Returns
    -------
    RoadNetwork
        Rows in the order of ``G.nodes``; ids as they are in ``G`` (int64 for osmnx's OSM ids).

    Raises
    ------
    LayerError
        If an edge lacks ``weight`` or its value is negative, NaN or not a number.

    Notes
    -----
    Nothing is cached: every call reads the graph again, so edits to ``G`` are always seen. The
    cost is that of iterating over networkx's adjacency in Python, about half a networkx
    Dijkstra search over the whole graph; keep the result to search it many times. Of the
    public ways to read the edges, :meth:`networkx.Graph.adjacency` into one array was the
    fastest on the 720,000-edge graph of ``benchmarks/network.py``: ``G.edges(data=True)``
    took a quarter longer, ``G.edges(data=weight)`` twice as long,
    :func:`networkx.to_scipy_sparse_array` three times (and it sums parallel edges rather than
    taking the fastest), :func:`osmnx.convert.graph_to_gdfs` six times.
    """
    nodes = pd.Index(list(G.nodes), tupleize_cols=False, name="node")  # tuple ids stay scalars
    ends = np.int64 if nodes.dtype == np.int64 else object  # OSM ids are read without boxing
    kind = np.dtype([("u", ends), ("v", ends), ("cost", float)])
    # Each node's neighbours (undirected graphs list every edge from both ends: both ways).
    if G.is_multigraph():
        edges = (
            (u, v, attrs[weight])
            for u, nbrs in G.adjacency()
            for v, keyed in nbrs.items()
            for attrs in keyed.values()
        )
    else:
        edges = ((u, v, attrs[weight]) for u, nbrs in G.adjacency() for v, attrs in nbrs.items())
    try:
        # No count: a multigraph counts its edges by iterating over them, as long as reading.
        found = np.fromiter(edges, dtype=kind)
    except (KeyError, TypeError, ValueError):  # a missing, None or non-numeric weight
        raise _weight_error(G, weight) from None
    if not (found["cost"] >= 0).all():  # NaN fails too
        raise _weight_error(G, weight)
    u, v = nodes.get_indexer(found["u"]), nodes.get_indexer(found["v"])
    x = _coordinate(G, "x")
    y = _coordinate(G, "y")
    return RoadNetwork.from_edges(u, v, found["cost"], x, y, nodes, G.graph.get("crs"))


def _coordinate(G: nx.Graph, name: str) -> np.ndarray:
    """Node attribute ``name`` of every node in ``G.nodes`` order, NaN where missing."""
    values = G.nodes(data=name, default=math.nan)
    return np.fromiter(map(itemgetter(1), values), dtype=float, count=len(G))


def _weight_error(G: nx.Graph, weight: str) -> LayerError:
    """The :class:`LayerError` for the first edge (in adjacency order) whose ``weight`` is
    missing, negative, NaN or not a number. Only called once such an edge is known to exist."""
    for u, v, attrs in G.edges(data=True):
        value = attrs.get(weight)
        edge = f"the road graph's edge ({u!r}, {v!r})"
        if value is None:
            return LayerError(f"{edge} has no {weight!r} attribute", SPEEDS_FIX)
        shown: object
        try:
            shown = number = float(value)  # as numpy.fromiter reads it
        except (TypeError, ValueError):
            shown, number = repr(value), math.nan
        if not number >= 0:  # NaN fails too
            return LayerError(
                f"{edge} has {weight!r} = {shown}, not a non-negative number", SPEEDS_FIX
            )
    raise AssertionError(f"no edge has a bad {weight!r}, yet reading the weights failed")


#: What the queries search: a network, or an osmnx graph read on every call (read it once with
#: :func:`network_from_graph` to search it many times).
Network: TypeAlias = RoadNetwork | nx.Graph


def _network(G: Network, weight: str) -> RoadNetwork:
    return G if isinstance(G, RoadNetwork) else network_from_graph(G, weight)


def _rows(network: RoadNetwork, wanted: Iterable[Hashable], what: str) -> np.ndarray:
    """Row numbers of ``wanted`` node ids, or a :class:`LayerError` naming the first unknown."""
    wanted = list(wanted)
    if not wanted:
        raise LayerError(f"no {what} nodes given", f"pass at least one {what} node id")
    found = network.nodes.get_indexer(pd.Index(wanted, tupleize_cols=False))
    if (found < 0).any():
        missing = wanted[int(np.argmax(found < 0))]
        raise LayerError(
            f"{what} node {missing!r} is not in the road graph",
            "snap points to the graph first (siting.network.graph.snap)",
        )
    return found


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
        A :class:`RoadNetwork`, or an osmnx graph (read with :func:`network_from_graph` on every
        call: read it once when querying the same graph many times, the reading costs more than
        the search).
    sources
        Node ids to start from (e.g. the nodes nearest to mines).
    weight
        Edge attribute to minimise when ``G`` is a graph; times are in its unit (seconds for
        ``travel_time``).
    limit
        Stop searching beyond this time (same unit as the edges'); farther nodes get ``inf``.
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
    network = _network(G, weight)
    src = _rows(network, sources, "source")
    times, _, reached_from = csgraph.dijkstra(
        network.matrix,
        directed=True,
        indices=src,
        min_only=True,
        return_predecessors=True,
        limit=np.inf if limit is None else float(limit),
    )
    # dijkstra names the source by its row number (-9999 when unreached); map to its position.
    n = len(network.nodes)
    position = np.full(n + 1, -1, dtype=np.int64)  # the extra slot absorbs -9999
    position[src[::-1]] = np.arange(len(src))[::-1]  # a repeated source keeps its first position
    nearest = position[np.where(reached_from < 0, n, reached_from)]
    return (
        pd.Series(times, index=network.nodes, name="time"),
        pd.Series(nearest, index=network.nodes, name="source"),
    )


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
        A :class:`RoadNetwork`, or an osmnx graph (see :func:`travel_times`).
    sources, targets
        Node ids.
    weight
        Edge attribute to minimise when ``G`` is a graph.

    Returns
    -------
    pandas.DataFrame
        Rows are ``sources``, columns ``targets``; ``inf`` where the target is unreachable.

    Notes
    -----
    One Dijkstra search per source, each over the whole network: memory is
    ``len(sources) × n_nodes`` floats before the target columns are picked out.
    """
    network = _network(G, weight)
    src = _rows(network, sources, "source")
    dst = _rows(network, targets, "target")
    times = csgraph.dijkstra(network.matrix, directed=True, indices=src)
    return pd.DataFrame(
        times[:, dst],
        index=pd.Index(list(sources), name="source", tupleize_cols=False),
        columns=pd.Index(list(targets), name="target", tupleize_cols=False),
    )


def snap(
    network: RoadNetwork, x: float | Iterable[float], y: float | Iterable[float]
) -> pd.DataFrame:
    """Nearest node of the network to each point.

    Parameters
    ----------
    network
        A network in a *projected* CRS, so that distances are in metres (for an osmnx graph, see
        :func:`osmnx.projection.project_graph` and :func:`network_from_graph`).
    x, y
        Point coordinates in the network's CRS (or one point's).

    Returns
    -------
    pandas.DataFrame
        One row per point: ``node`` (the nearest node's id) and ``node_dist_m`` (the
        straight-line distance to it). Of nodes equally near, any one may be given.

    Raises
    ------
    LayerError
        If the network is not in a projected CRS, or has no node with coordinates.
    """
    crs = network.crs
    if crs is None or not CRS.from_user_input(crs).is_projected:
        raise LayerError(
            f"the road graph is in {crs!r}, not a projected CRS: distances would be in degrees",
            "project it first with osmnx.projection.project_graph(G, to_crs=...)",
        )
    if not len(network.nodes) or np.isnan(network.x).any() or np.isnan(network.y).any():
        raise LayerError(
            "the road graph has nodes without x and y coordinates: points cannot be snapped",
            "give every node its x and y (osmnx graphs have them)",
        )
    points = np.column_stack(
        [np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))]
    )
    dist, row = network._tree.query(points)
    return pd.DataFrame({"node": network.nodes[row], "node_dist_m": dist})


def access_times(times: pd.Series, snapped: pd.DataFrame, *, off_speed_kmh: float) -> np.ndarray:
    """Travel time to points off the network: the network time at the point's nearest node plus
    a straight-line leg from the node to the point at ``off_speed_kmh``.

    The leg goes to the nearest *node*, not the nearest edge, so that the whole trip is a real
    route (walk or drive cross-country to a junction, then along roads). The time is an upper
    bound where a point lies beside the middle of a long edge; densify long edges to tighten it.

    Parameters
    ----------
    times
        Network times in seconds indexed by node id, as returned by :func:`travel_times`.
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
