"""Travel time over a road network (an osmnx graph), computed with ``scipy.sparse.csgraph``.

networkx runs Dijkstra in pure Python; here the graph is turned once into a compressed sparse row
(CSR) matrix and every shortest-path query is a single compiled ``csgraph.dijkstra`` call. Times
come out in the unit of the edge ``weight`` attribute: seconds for osmnx's ``travel_time`` (set by
:func:`osmnx.routing.add_edge_speeds` then :func:`osmnx.routing.add_edge_travel_times`).

Nodes that cannot be reached get ``inf``. Points off the network are joined to it with
:func:`snap` and :func:`access_times` (a straight-line leg to the nearest graph node).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter, methodcaller

import networkx as nx
import numpy as np
import pandas as pd
from networkx.classes.coreviews import AdjacencyView, MultiAdjacencyView
from scipy import sparse
from scipy.sparse import csgraph

from siting.errors import LayerError
from siting.network import dictread

SPEEDS_FIX = "call osmnx.routing.add_edge_speeds and add_edge_travel_times first"

#: A graph already converted by :func:`graph_arrays`: reuse it to skip the conversion.
Arrays = tuple[sparse.csr_array, np.ndarray]
Network = nx.Graph | Arrays


#: Nodes converted per step. Each step reads its dicts in a few passes (targets and edges, edge
#: counts, attributes, weights); a step this small still has them in the CPU cache for the later
#: passes, which more than pays for the Python loop over steps.
_STEP_NODES = 1000


def graph_arrays(G: nx.Graph, weight: str = "travel_time") -> Arrays:
    """The directed graph as a sparse matrix of edge weights, and the node order of its rows.

    Parameters
    ----------
    G
        A networkx graph, typically an osmnx ``MultiDiGraph``, or a view of one. An undirected
        graph is taken as directed both ways.
    weight
        Edge attribute holding the (non-negative) cost of traversing the edge.

    Returns
    -------
    matrix, nodes
        ``matrix[i, j]`` is the weight of the edge from ``nodes[i]`` to ``nodes[j]``, the minimum
        one where parallel edges join the same pair (a route takes the fastest of them). Self-loops
        are dropped: they never shorten a path. ``nodes`` is in the order of ``G.nodes``: int64
        when every id is an integer (osmnx's OSM ids), else objects.

    Raises
    ------
    LayerError
        If an edge lacks ``weight`` or its value is negative, NaN or not a number.

    Notes
    -----
    Nothing is cached: every call reads the graph again, so edits to ``G`` are always seen. The
    cost is reading networkx's dicts. On CPython 3.11 a compiled reader
    (:mod:`siting.network.dictread`)
    reads those of a networkx graph with integer ids directly, about 3 times faster than the
    C-level passes over every (u, v) pair and edge that read any other graph or view (see
    :func:`_entries`); both give the same arrays. Keep the result and pass it to
    :func:`travel_times` or :func:`od_matrix` to convert once for many queries.
    """
    read = _read_compiled(G, weight)
    if read is None:
        read = _read_python(G, weight)
    nodes, degree, cols, costs, cols_are_ids = read
    n = len(nodes)
    if cols_are_ids and not np.array_equal(nodes, np.arange(n)):  # 0..n-1: ids are rows
        cols = pd.Index(nodes).get_indexer(cols)  # a hash table, faster than a dict lookup per id
    # 32-bit column indices, as csgraph searches with (int64 ones are copied at every search); no
    # networkx graph that fits in memory comes near 2**31 nodes or edges.
    cols = cols.astype(np.int32)
    if not (costs >= 0).all():  # NaN fails too: it would silently poison Dijkstra
        raise _weight_error(G, weight)
    rows = np.repeat(np.arange(n, dtype=np.int64), degree)
    loops = rows == cols
    if loops.any():  # checked first: most road graphs have none, and then nothing is copied
        keep = ~loops
        rows, cols, costs = rows[keep], cols[keep], costs[keep]
        degree = np.bincount(rows, minlength=n)
    # Built directly from CSR parts (rows come in order) so that zero-cost edges stay explicit
    # entries: csgraph reads an explicit zero in a sparse matrix as an edge of weight 0.
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(degree, out=indptr[1:])
    matrix = sparse.csr_array((costs, cols, indptr), shape=(n, n))
    matrix.sort_indices()  # canonical CSR: columns ascending within each row, as scipy prefers
    return matrix, nodes


#: What both ways of reading a graph give :func:`graph_arrays`: node ids (int64 when every id is
#: an integer, else objects) in the order of ``G.adj``, the number of neighbours of each, the
#: neighbours node by node, the cost of each (node, neighbour) pair (the minimum over parallel
#: edges), and whether the neighbours are given as node ids (else as row numbers).
_Read = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]


def _read_compiled(G: nx.Graph, weight: str) -> _Read | None:
    """The graph read by the compiled kernel of :mod:`siting.network.dictread`, or ``None`` where it
    does
    not apply (views, dict subclasses, non-integer ids, odd weights, other interpreters...).

    It reads the dict behind ``G.adj`` itself, so only when ``G.adj`` is networkx's own view of
    ``G._adj`` (what ``G.adjacency()`` walks): then rows follow ``G.adj`` as in
    :func:`_read_python`.
    """
    multi = G.is_multigraph()
    view = G.adj
    if type(view) is not (MultiAdjacencyView if multi else AdjacencyView):
        return None
    adjacency = view._atlas
    # No nodes: nothing to gain, and the Python reader gives them as objects (no id is an int).
    if adjacency is not getattr(G, "_adj", None) or not adjacency:
        return None
    read = dictread.read_adjacency(adjacency, multi, weight)
    if read is None:
        return None
    return (*read, True)


def _read_python(G: nx.Graph, weight: str) -> _Read:
    """The graph read by C-level passes over networkx's dicts, any graph or view of one.

    Raises
    ------
    LayerError
        If an edge lacks ``weight`` or its value is not a number.
    """
    # Rows follow G.adj, the very dict that G.adjacency() walks below, so node i's neighbours are
    # the i-th adjacency entry without looking nodes up (it is also the order of G.nodes).
    node_list = list(G.adj)
    n = len(node_list)
    nodes = np.empty(n, dtype=object)
    nodes[:] = node_list  # assigned, not np.array(list): tuple node ids must stay scalars
    ids = _integer_ids(nodes)
    if ids is not None:  # typed once here, not again by every search on these arrays
        nodes = ids
    # One (u, v) pair per neighbour: a dict of parallel edges keyed by edge key in a multigraph,
    # the edge's attribute dict otherwise. Undirected graphs list every edge under both ends.
    neighbours = list(map(itemgetter(1), G.adjacency()))
    degree = np.fromiter(map(len, neighbours), np.int64, count=n)
    n_pairs = int(degree.sum())
    # Integer ids are read as they are and found in one go at the end; others by a dict lookup.
    row_of = None
    if nodes.dtype != np.int64:
        row_of = dict(zip(node_list, range(n), strict=True)).__getitem__
    multi = G.is_multigraph()
    cost_of = itemgetter(weight)
    # Pieces per step; the empty first ones make the concatenations valid for a graph of no nodes.
    cols, costs, n_parallel = [np.empty(0, np.int64)], [np.empty(0)], [np.empty(0, np.int64)]
    starts = range(0, n, _STEP_NODES)
    for start, step_pairs in zip(starts, np.add.reduceat(degree, starts).tolist(), strict=True):
        targets, edges = _entries(neighbours[start : start + _STEP_NODES], step_pairs)
        cols.append(np.fromiter(map(row_of, targets) if row_of else targets, np.int64, step_pairs))
        if multi:  # read every parallel edge; the minimum per pair is taken at the end
            counts = np.fromiter(map(len, edges), np.int64, count=step_pairs)
            _, edges = _entries(edges, int(counts.sum()))
            n_parallel.append(counts)
        try:
            costs.append(np.fromiter(map(cost_of, edges), float, count=len(edges)))
        except (KeyError, TypeError, ValueError):  # a missing or non-numeric weight
            raise _weight_error(G, weight) from None
    cols, costs = np.concatenate(cols), np.concatenate(costs)
    if len(costs) > n_pairs:  # parallel edges: keep the fastest of each pair
        first = np.zeros(n_pairs, dtype=np.int64)
        np.cumsum(np.concatenate(n_parallel)[:-1], out=first[1:])
        costs = np.minimum.reduceat(costs, first)  # NaN wins, as it must: it is rejected later
    return nodes, degree, cols, costs, row_of is None


def _entries(mappings: list[Mapping], count: int) -> tuple[list, list]:
    """Keys and values of all ``count`` entries of ``mappings``, in iteration order.

    Exact dicts (a graph's own storage) are read by one ``gc.get_referents`` call: CPython
    traverses a dict as the value then the key of each entry, in order, which lists them without
    a Python-level step per entry, and much faster than chaining iterators (there is no view or
    iterator to make per mapping). It skips keys when every key is a str, and other
    implementations may traverse differently: the length and the first entry are checked, and
    anything else (str keys, views, dict subclasses) is iterated instead.
    """
    if count and set(map(type, mappings)) == {dict}:
        refs = gc.get_referents(*mappings)
        key, value = next(iter(next(filter(None, mappings)).items()))
        if len(refs) == 2 * count and refs[0] is value and refs[1] is key:
            return refs[1::2], refs[0::2]
    keys = list(chain.from_iterable(mappings))
    return keys, list(chain.from_iterable(map(_values, mappings)))


#: ``mapping.values()`` as a function: unlike ``dict.values`` it also reads graph views' mappings.
_values = methodcaller("values")


def _integer_ids(nodes: np.ndarray) -> np.ndarray | None:
    """``nodes`` as int64 when every id is an integer (osmnx's OSM ids), else ``None``."""
    if pd.api.types.infer_dtype(nodes, skipna=False) != "integer":
        return None
    try:
        return nodes.astype(np.int64)
    except OverflowError:  # beyond int64: the generic, hash-based path handles them
        return None


def _weight_error(G: nx.Graph, weight: str) -> LayerError:
    """The :class:`LayerError` for the first edge (in adjacency order) whose ``weight`` is
    missing, negative, NaN or not a number. Only called once such an edge is known to exist."""
    multi = G.is_multigraph()
    for u, nbrs in G.adjacency():
        for v, data in nbrs.items():
            for attrs in data.values() if multi else (data,):
                value = attrs.get(weight)
                edge = f"the road graph's edge ({u!r}, {v!r})"
                if value is None:
                    return LayerError(f"{edge} has no {weight!r} attribute", SPEEDS_FIX)
                try:
                    shown = number = float(value)  # as numpy.fromiter reads it
                except (TypeError, ValueError):
                    shown, number = repr(value), math.nan
                if not number >= 0:  # NaN fails too
                    return LayerError(
                        f"{edge} has {weight!r} = {shown}, not a non-negative number", SPEEDS_FIX
                    )
    raise AssertionError(f"no edge has a bad {weight!r}, yet reading the weights failed")


def _arrays(G: Network, weight: str) -> Arrays:
    return G if isinstance(G, tuple) else graph_arrays(G, weight)


def _node_index(nodes: np.ndarray) -> pd.Index:
    """``nodes`` as a pandas Index named ``node``: int64 for osmnx's integer ids."""
    ids = _integer_ids(nodes)
    if ids is not None:  # a cast, much faster than letting pandas infer the type of each object
        return pd.Index(ids, name="node")
    return pd.Index(nodes, name="node").infer_objects()


def _indices(
    nodes: np.ndarray, index: pd.Index, wanted: Iterable[Hashable], what: str
) -> np.ndarray:
    """Row numbers of ``wanted`` node ids (``index`` is :func:`_node_index` of ``nodes``), or a
    :class:`LayerError` naming the first unknown one."""
    wanted = list(wanted)
    if index.dtype.kind == "i" and wanted and pd.Index(wanted).dtype.kind == "i":
        # Integer ids on both sides: pandas' hash table, rather than a dict of every node.
        found = index.get_indexer(pd.Index(wanted, dtype=np.int64))
        missing = [node for node, i in zip(wanted, found.tolist(), strict=True) if i < 0]
    else:  # any hashable: dict semantics (1 == 1.0), the same as networkx's
        rows = dict(zip(nodes, range(len(nodes)), strict=True))
        missing = [node for node in wanted if node not in rows]
        found = np.array([rows.get(node, -1) for node in wanted], dtype=np.int64)
    if missing:
        raise LayerError(
            f"{what} node {missing[0]!r} is not in the road graph",
            "snap points to the graph first (siting.network.graph.snap)",
        )
    if not wanted:
        raise LayerError(f"no {what} nodes given", f"pass at least one {what} node id")
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
    index = _node_index(nodes)
    src = _indices(nodes, index, sources, "source")
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
    index = _node_index(nodes)
    src = _indices(nodes, index, sources, "source")
    dst = _indices(nodes, index, targets, "target")
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
