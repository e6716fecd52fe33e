"""OR-Library instances (Beasley): the standard test sets for location solvers.

p-median (``pmed*.txt``, Beasley 1985): a file holds ``n m p`` on its first line, then ``m``
lines ``i j cost`` of an undirected graph with 1-based nodes. Every node is both a client (weight
1) and a candidate site; the cost between two nodes is their shortest-path distance. Some edges
are listed more than once: the last line wins, as in Beasley's own reader.

Capacitated warehouse location (``cap*.txt``, Beasley 1988): ``m n``, then for each warehouse
its capacity and fixed cost, then for each customer its demand and the cost of serving all of it
from each warehouse. See :func:`read_cap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from siting.errors import DataFileError, LayerNotFoundError

#: The word Beasley's large files (cap101–134, capa/capb/capc) hold instead of a capacity: one
#: file stands for several problems that differ only in that value.
CAPACITY_WORD = "capacity"


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


@dataclass(frozen=True, eq=False)
class CapInstance:
    """A capacitated warehouse location instance (read-only arrays).

    Attributes
    ----------
    capacity
        Capacity of each warehouse, shape (m,).
    fixed_cost
        Cost of opening each warehouse, shape (m,).
    demand
        Demand of each customer, shape (n,).
    cost
        Shape (n, m): the cost of serving the *whole* demand of customer ``i`` from warehouse
        ``j``, as in the file.
    """

    capacity: np.ndarray
    fixed_cost: np.ndarray
    demand: np.ndarray
    cost: np.ndarray

    @property
    def unit_cost(self) -> np.ndarray:
        """Cost per unit of demand, shape (n, m): ``cost / demand[:, None]``.

        What :class:`siting.models.CapacitatedFacilityLocation` takes with
        ``fit(unit_cost, sample_weight=demand)``, so that weight × unit cost is the file's cost
        of a customer served by one warehouse. A customer with zero demand gets unit cost 0: it
        weighs nothing in the objective whatever its costs, and dividing would give ``nan``.
        """
        safe = np.where(self.demand > 0, self.demand, 1.0)
        return np.where(self.demand[:, None] > 0, self.cost / safe[:, None], 0.0)


def read_cap(path: str | Path, capacity: float | None = None) -> CapInstance:
    """Read an OR-Library capacitated warehouse location file (``cap*.txt``, ``capa`` …).

    The file is read as a stream of numbers, whatever its line breaks (Beasley wraps each
    customer's costs over several lines): ``m n``; ``m`` pairs ``capacity fixed_cost``; then for
    each of the ``n`` customers its demand followed by ``m`` costs.

    Parameters
    ----------
    path
        The file.
    capacity
        Capacity of every warehouse, for the files whose capacity field is the word
        ``capacity`` (cap101–cap134, capa, capb, capc: one file for several problems, the value
        from Table 1 of Beasley 1988). Must be left out for files that give their capacities.

    Returns
    -------
    CapInstance
        Capacities, fixed costs, demands and the (n, m) cost matrix.

    Raises
    ------
    LayerNotFoundError
        If the file does not exist.
    DataFileError
        If the file is truncated, holds more numbers than its ``m n`` announce, a token that is
        not a number (or the word ``capacity`` where ``capacity`` was not given), or a negative
        or non-finite value; or if ``capacity`` is given for a file that has its own.
    """
    path = Path(path)
    if not path.is_file():
        raise LayerNotFoundError(
            f"OR-Library file {path} does not exist", "check the path to the cap*.txt file"
        )
    tokens = path.read_text(encoding="ascii", errors="replace").split()
    if len(tokens) < 2:
        raise DataFileError(
            f"{path}: empty or truncated, expected 'm n' on the first line",
            "give a complete OR-Library cap*.txt file",
        )
    m, n = (_count(path, tok, what) for tok, what in zip(tokens[:2], ("m", "n"), strict=True))
    expected = 2 + 2 * m + n * (1 + m)
    if len(tokens) != expected:
        fewer = len(tokens) < expected
        raise DataFileError(
            f"{path}: {len(tokens) - 2} numbers after 'm n' = '{m} {n}', expected "
            f"{expected - 2} (2 per warehouse, 1 + m per customer): the file is "
            + ("truncated" if fewer else "longer than its counts say"),
            "download the file again, or correct its first line",
        )
    pairs = tokens[2 : 2 + 2 * m]
    caps = pairs[0::2]
    words = [tok.lower() == CAPACITY_WORD for tok in caps]
    if any(words) and capacity is None:
        raise DataFileError(
            f"{path}: the capacity of a warehouse is the word '{CAPACITY_WORD}': this file "
            "stands for several problems that differ in the capacity",
            "pass capacity=... (the value of the problem, from Table 1 of Beasley 1988)",
        )
    if capacity is not None and not all(words):
        raise DataFileError(
            f"{path}: capacity={capacity!r} was given but the file has its own capacities",
            "leave capacity out for this file",
        )
    if capacity is not None and not (np.isfinite(capacity) and capacity > 0):
        raise DataFileError(
            f"{path}: capacity={capacity!r} must be a positive number", "pass capacity > 0"
        )
    numbers = _numbers(path, [str(capacity) if w else t for w, t in zip(words, caps, strict=True)])
    fixed = _numbers(path, pairs[1::2])
    rows = _numbers(path, tokens[2 + 2 * m :]).reshape(n, 1 + m)
    instance = CapInstance(numbers, fixed, rows[:, 0].copy(), rows[:, 1:].copy())
    for name in ("capacity", "fixed_cost", "demand", "cost"):
        array = getattr(instance, name)
        if (array < 0).any():
            raise DataFileError(
                f"{path}: negative {name.replace('_', ' ')}", "give a valid OR-Library file"
            )
        array.flags.writeable = False
    return instance


def _count(path: Path, token: str, what: str) -> int:
    """A positive integer count (``m`` or ``n``) of the first line."""
    try:
        value = int(token)
    except ValueError:
        value = 0
    if value <= 0:
        raise DataFileError(
            f"{path}: the first line must be 'm n' (positive integers); {what} is {token!r}",
            "give an OR-Library cap*.txt file",
        )
    return value


def _numbers(path: Path, tokens: list[str]) -> np.ndarray:
    """Finite floats from tokens, naming the first bad one."""
    for token in tokens:
        try:
            ok = np.isfinite(float(token))
        except ValueError:
            ok = False
        if not ok:
            raise DataFileError(
                f"{path}: {token!r} is not a finite number", "give a valid OR-Library file"
            )
    return np.array(tokens, dtype=float)
