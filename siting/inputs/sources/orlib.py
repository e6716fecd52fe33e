"""OR-Library p-median instances (Beasley 1985): the standard test set for p-median solvers.

A file holds ``n m p`` on its first line, then ``m`` lines ``i j cost`` of an undirected graph
with 1-based nodes. Every node is both a client (weight 1) and a candidate site; the cost between
two nodes is their shortest-path distance. Some edges are listed more than once: the last line
wins, as in Beasley's own reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path


def read_pmed(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an OR-Library ``pmed*.txt`` file.

    Returns
    -------
    cost, p
        The ``n × n`` all-pairs shortest-path matrix and the number of medians.
    """
    lines = Path(path).read_text().split("\n")
    n, m, p = map(int, lines[0].split())
    edges: dict[tuple[int, int], float] = {}
    for line in lines[1 : m + 1]:
        i, j, c = map(int, line.split())
        edges[(min(i, j) - 1, max(i, j) - 1)] = float(c)
    ij = np.array(list(edges))
    graph = coo_matrix((list(edges.values()), (ij[:, 0], ij[:, 1])), shape=(n, n))
    return shortest_path(graph, directed=False), p
