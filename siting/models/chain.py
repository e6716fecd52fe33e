"""The coal value chain as one model: mines → preparation plants → coke / coal-chemical plants →
markets, a multi-echelon capacitated facility location with flow conservation, solved exactly by
HiGHS."""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array

from siting.errors import InfeasibleError
from siting.models import milp
from siting.models.validation import check_int, check_number

MODEL = "value chain"
#: The arcs of the chain, in the order of ``flows_["stage"]``.
STAGES = ("mine_prep", "prep_coke", "coke_market")

#: One term of a constraint matrix: row indices, variable indices, coefficients (broadcast).
Term = tuple[object, np.ndarray, object]


class ValueChainLocation(BaseEstimator):
    """Open preparation plants and coke / coal-chemical plants and route the coal through them at
    least total cost: Σ opening cost + Σ expansion cost + Σ tonnes × transport cost per tonne on
    every arc (+ Σ unshipped tonnes × ``unshipped_cost``). Solved exactly with HiGHS.

    Mines supply coal by type (e.g. coking and thermal). Every tonne goes to a preparation plant;
    a plant turns a tonne of type *k* into ``prep_yield[j, k]`` tonnes of concentrate. The
    concentrate of the types in ``coke_feed`` goes on, all of it, to coke plants; that of the
    other types leaves the chain at the preparation plant (sold, e.g. to power stations). A coke
    plant turns a tonne of concentrate of type *k* into ``coke_yield[l, k]`` tonnes of coke (or
    chemicals), which goes to the markets (technoparks, consumers) when their costs are given, and
    otherwise leaves the chain at the plant. So at every plant, output = yield × input.

    Plants with an existing capacity are open at no opening cost; with ``*_expansion_cost`` they
    may grow, up to ``*_capacity``, at that cost per unit of capacity added: expand-or-build.

    A scikit-learn estimator: ``__init__`` only stores the parameters (so ``get_params``,
    ``set_params``, ``clone`` and the repr work), :meth:`fit` checks them and learns the
    attributes ending in ``_``.

    Parameters
    ----------
    prep_capacity
        Input capacity of each preparation plant (t/yr of coal), or one for all; for an existing
        plant, its capacity after the largest allowed expansion.
    prep_opening_cost
        Cost of opening each new preparation plant, or one for all (in the units of tonnes ×
        transport cost, e.g. annualised roubles or t·km/yr); existing plants cost nothing.
    prep_yield
        Tonnes of concentrate per tonne of coal: anything that broadcasts to (plants, coal
        types), e.g. a number, one per coal type (shape (types,)) or one per plant and type.
        In [0, 1].
    coke_capacity, coke_opening_cost
        The same for the coke / coal-chemical plants; the capacity is on their input
        (concentrate, t/yr).
    coke_yield
        Tonnes of coke (or product) per tonne of concentrate: broadcasts to (plants, coal types),
        e.g. a number, one per plant (shape (plants, 1)) or one per coal type. In [0, 1].
    prep_existing, coke_existing
        Existing capacity of each plant (t/yr of input), or one for all; 0 (the default) marks a
        new candidate, > 0 an existing plant: always open, no opening cost.
    prep_expansion_cost, coke_expansion_cost
        Cost per unit of capacity added to an existing plant above its existing capacity (up to
        its ``*_capacity``), or one for all; ``inf`` or None (the default): no expansion.
    coke_feed
        Per coal type, whether its concentrate feeds the coke plants (e.g. ``[True, False]`` for
        coking and thermal coal); None: every type does.
    market_demand, market_capacity
        Least and most product each market takes (t/yr), or one for all; used only with
        ``cost_coke_market``. Defaults 0 and ``inf``.
    min_prep, max_prep, min_coke, max_coke
        Least and most plants open at each echelon, existing ones included (None: no upper
        limit).
    unshipped_cost
        Cost per tonne of supply a mine does not ship, so that supply above what pays to process
        may stay unshipped; None (the default): all supply must be shipped.
    time_limit
        Seconds for the solver.
    tol
        Relative optimality tolerance (HiGHS's ``mip_rel_gap``).

    Attributes
    ----------
    open_
        ``{"prep": indices, "coke": indices}``: the open plants of each echelon (existing ones
        included), sorted.
    flows_
        One row per arc that carries product: ``stage`` (``"mine_prep"``, ``"prep_coke"`` or
        ``"coke_market"``), ``from`` and ``to`` (indices within their echelon), ``coal_type``
        (index; missing for coke, a blend), ``tonnes`` (t/yr), ``cost`` (tonnes × cost per
        tonne). Flows below 1e-9 of the total supply are solver noise and left out.
    plants_
        One row per candidate plant: ``echelon`` (``"prep"``, ``"coke"``), ``plant``,
        ``existing``, ``open``, ``capacity`` (after expansion; 0 if closed), ``expansion``,
        ``input``, ``output`` (yield × input), ``onward`` (output shipped to the next echelon)
        and ``leaves`` (output that leaves the chain at the plant).
    unshipped_
        Supply each mine does not ship, shape (mines, coal types) (zero without
        ``unshipped_cost``).
    costs_
        The objective by part: ``opening``, ``expansion``, one per stage, ``unshipped``.
    objective_
        Σ of ``costs_``, the objective of the solution.
    lower_bound_
        HiGHS's proven lower bound on the optimum.
    gap_
        HiGHS's relative optimality gap (0 = proven optimal).
    seconds_
        Solver wall time.
    """

    def __init__(
        self,
        prep_capacity: float | np.ndarray,
        prep_opening_cost: float | np.ndarray,
        prep_yield: float | np.ndarray,
        coke_capacity: float | np.ndarray,
        coke_opening_cost: float | np.ndarray,
        coke_yield: float | np.ndarray,
        prep_existing: float | np.ndarray = 0.0,
        coke_existing: float | np.ndarray = 0.0,
        prep_expansion_cost: float | np.ndarray | None = None,
        coke_expansion_cost: float | np.ndarray | None = None,
        coke_feed: np.ndarray | list[bool] | None = None,
        market_demand: float | np.ndarray = 0.0,
        market_capacity: float | np.ndarray = np.inf,
        min_prep: int = 0,
        max_prep: int | None = None,
        min_coke: int = 0,
        max_coke: int | None = None,
        unshipped_cost: float | None = None,
        time_limit: float = 60.0,
        tol: float = 1e-6,
    ) -> None:
        self.prep_capacity = prep_capacity
        self.prep_opening_cost = prep_opening_cost
        self.prep_yield = prep_yield
        self.coke_capacity = coke_capacity
        self.coke_opening_cost = coke_opening_cost
        self.coke_yield = coke_yield
        self.prep_existing = prep_existing
        self.coke_existing = coke_existing
        self.prep_expansion_cost = prep_expansion_cost
        self.coke_expansion_cost = coke_expansion_cost
        self.coke_feed = coke_feed
        self.market_demand = market_demand
        self.market_capacity = market_capacity
        self.min_prep = min_prep
        self.max_prep = max_prep
        self.min_coke = min_coke
        self.max_coke = max_coke
        self.unshipped_cost = unshipped_cost
        self.time_limit = time_limit
        self.tol = tol

    def fit(
        self,
        supply: np.ndarray,
        cost_mine_prep: np.ndarray,
        cost_prep_coke: np.ndarray,
        cost_coke_market: np.ndarray | None = None,
    ) -> ValueChainLocation:
        """Open plants and route the supply through the chain.

        Parameters
        ----------
        supply
            Supply of each mine (t/yr), shape (mines, coal types), or (mines,) for one type.
        cost_mine_prep
            Cost of carrying a tonne from each mine to each preparation plant, shape (mines,
            prep plants), e.g. km × tariff per t·km; ``inf`` where impossible.
        cost_prep_coke
            The same from each preparation plant to each coke plant, shape (prep plants, coke
            plants).
        cost_coke_market
            The same from each coke plant to each market, shape (coke plants, markets); None:
            no markets, the product leaves the chain at the coke plants.

        Returns
        -------
        ValueChainLocation
            The fitted estimator.

        Raises
        ------
        ValueError, TypeError
            If a parameter or an array is invalid: a wrong shape, a negative or NaN value, a
            yield outside [0, 1] (a programmer error).
        InfeasibleError
            If no plan ships the supply through the chain within the capacities, the limits on
            the number of plants and the market bounds (e.g. a mine that reaches no preparation
            plant, or more coal than the plants can take), or if HiGHS finds none within
            ``time_limit`` (a plan found but not proven optimal is returned, with ``gap_`` > 0).
        """
        check_number(self.time_limit, "time_limit", MODEL)
        check_number(self.tol, "tol", MODEL)
        s = _supply(supply)
        n, k = s.shape
        c1 = _costs(cost_mine_prep, "cost_mine_prep", n, "mine")
        c2 = _costs(cost_prep_coke, "cost_prep_coke", c1.shape[1], "preparation plant")
        c3 = (
            np.zeros((c2.shape[1], 0))
            if cost_coke_market is None
            else _costs(cost_coke_market, "cost_coke_market", c2.shape[1], "coke plant")
        )
        prep = _Echelon.check(self, "prep", c1.shape[1], k)
        coke = _Echelon.check(self, "coke", c2.shape[1], k)
        feed = _feed(self.coke_feed, k)
        demand, room = _markets(self, c3.shape[1], cost_coke_market is not None)
        penalty = None if self.unshipped_cost is None else _unshipped_cost(self.unshipped_cost)
        if penalty is None:
            _check_capacity(s, c1, prep, coke, feed)

        start = time.perf_counter()
        chain = _Chain(s, c1, c2, c3, prep, coke, feed, penalty)
        constraints = chain.constraints(demand, room)
        try:
            res = milp.solve(
                chain.objective,
                constraints,
                chain.integrality,
                self.time_limit,
                MODEL,
                self.tol,
                bounds=Bounds(chain.lower, chain.upper),
            )
        except InfeasibleError as err:
            if "time limit" in err.message.lower():
                raise InfeasibleError(
                    f"{err.message}: no plan found within time_limit = {self.time_limit:g} s",
                    "raise time_limit, or narrow the candidates",
                ) from err
            raise InfeasibleError(
                f"{err.message}: no plan ships the supply through the chain within the "
                "capacities, plant counts and market bounds",
                "raise capacities or the plant limits (max_prep, max_coke), lower market_demand, "
                "check that every echelon reaches the next (inf costs), or set unshipped_cost",
            ) from err
        self.seconds_ = time.perf_counter() - start
        chain.learn(self, res.x)
        self.objective_ = float(res.fun)
        self.gap_ = milp.mip_gap(res)
        bound = getattr(res, "mip_dual_bound", None)
        self.lower_bound_ = float(res.fun if bound is None else bound)
        return self


@dataclass(frozen=True)
class _Echelon:
    """The checked candidates of one echelon of plants."""

    capacity: np.ndarray  # (m,) after the largest expansion
    opening: np.ndarray  # (m,) 0 for existing plants
    yields: np.ndarray  # (m, coal types)
    existing: np.ndarray  # (m,) bool
    base: np.ndarray  # (m,) capacity when open without expansion
    expansion_cost: np.ndarray  # (m,) 0 where no expansion
    expansion_room: np.ndarray  # (m,) most capacity that may be added
    fewest: int
    most: int

    @property
    def size(self) -> int:
        return len(self.capacity)

    @classmethod
    def check(cls, est: ValueChainLocation, name: str, m: int, k: int) -> _Echelon:
        """Check the parameters ``{name}_*`` of ``est`` for ``m`` plants and ``k`` coal types."""
        per_plant = f"a number or one per {name} plant ({m})"
        p = est.get_params()
        capacity = _values(p[f"{name}_capacity"], f"{name}_capacity", (m,), per_plant)
        opening = _values(p[f"{name}_opening_cost"], f"{name}_opening_cost", (m,), per_plant)
        yields = _values(
            p[f"{name}_yield"],
            f"{name}_yield",
            (m, k),
            f"a number, one per coal type ({k},), per plant ({m}, 1) or per plant and type",
            high=1.0,
        )
        held = _values(p[f"{name}_existing"], f"{name}_existing", (m,), per_plant)
        over = np.flatnonzero(held > capacity)
        if over.size:
            raise ValueError(
                f"{MODEL}: {name}_existing exceeds {name}_capacity at plants {over.tolist()}; "
                f"{name}_capacity is a plant's capacity after any expansion"
            )
        raw = p[f"{name}_expansion_cost"]
        unit = _values(
            np.inf if raw is None else raw, f"{name}_expansion_cost", (m,), per_plant, inf=True
        )
        existing = held > 0
        grows = existing & np.isfinite(unit)
        fewest = check_int(p[f"min_{name}"], f"min_{name}", MODEL, 0)
        if fewest > m:
            raise InfeasibleError(
                f"{MODEL}: min_{name} = {fewest} but only {m} {name} plant candidates",
                f"lower min_{name} or add {name} plant candidates",
            )
        limit = p[f"max_{name}"]
        most = m if limit is None else check_int(limit, f"max_{name}", MODEL, 0)
        if fewest > most:
            raise ValueError(f"{MODEL}: min_{name} = {fewest} exceeds max_{name} = {most}")
        if most < existing.sum():
            raise InfeasibleError(
                f"{MODEL}: max_{name} = {most} but {int(existing.sum())} {name} plants exist "
                "(existing plants are always open)",
                f"raise max_{name} to at least the number of existing plants",
            )
        return cls(
            capacity=capacity,
            opening=np.where(existing, 0.0, opening),
            yields=yields,
            existing=existing,
            base=np.where(existing, held, capacity),
            expansion_cost=np.where(grows, unit, 0.0),
            expansion_room=np.where(grows, capacity - held, 0.0),
            fewest=fewest,
            most=min(most, m),
        )


def _values(
    value: object,
    name: str,
    shape: tuple[int, ...],
    expected: str,
    high: float = np.inf,
    inf: bool = False,
) -> np.ndarray:
    """``value`` broadcast to ``shape``, each entry in [0, high] (and finite unless ``inf``)."""
    if isinstance(value, bool):
        raise TypeError(f"{MODEL}: {name} must be numeric, not {value!r}")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{MODEL}: {name} must be numeric: {err}") from err
    try:
        out = np.broadcast_to(array, shape)
    except ValueError:
        raise ValueError(
            f"{MODEL}: {name} has shape {array.shape}; give {expected}, broadcastable to {shape}"
        ) from None
    bad = np.isnan(out) | (out < 0) | (out > high)
    if not inf:
        bad |= np.isinf(out)
    if bad.any():
        kind = "in [0, 1]" if high == 1.0 else ">= 0" if inf else "finite and >= 0"
        raise ValueError(f"{MODEL}: {name} must be {kind}; got {out[bad].flat[0]!r}")
    return out


def _supply(supply: object) -> np.ndarray:
    """The supply as a (mines, coal types) array of finite tonnes >= 0."""
    array = check_array(
        supply, dtype=float, ensure_2d=False, allow_nd=True, input_name="supply"
    ).copy()
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(
            f"{MODEL}: supply must be (mines,) or (mines, coal types); got shape {array.shape}"
        )
    if (array < 0).any():
        raise ValueError(f"{MODEL}: supply must be >= 0")
    return array


def _costs(value: object, name: str, rows: int, of: str) -> np.ndarray:
    """A cost matrix with ``rows`` rows (one per ``of``), costs >= 0, ``inf`` = impossible."""
    array = check_array(
        value, dtype=float, ensure_all_finite=False, ensure_2d=False, allow_nd=True, input_name=name
    )
    if array.ndim != 2 or array.shape[0] != rows:
        raise ValueError(
            f"{MODEL}: {name} has shape {array.shape}; it needs one row per {of} ({rows}) "
            "and one column per plant of the next echelon"
        )
    if np.isnan(array).any() or (array < 0).any():
        raise ValueError(f"{MODEL}: {name} must be >= 0 (NaN is not a cost; inf = impossible)")
    return array


def _feed(value: object, k: int) -> np.ndarray:
    """Indices of the coal types whose concentrate feeds the coke plants."""
    if value is None:
        return np.arange(k)
    array = np.asarray(value)
    if array.shape != (k,) or array.dtype != bool:
        raise ValueError(
            f"{MODEL}: coke_feed must be {k} bools, one per coal type (column of supply); "
            f"got {value!r}"
        )
    return np.flatnonzero(array)


def _markets(est: ValueChainLocation, t: int, given: bool) -> tuple[np.ndarray, np.ndarray]:
    """The least and most product each of the ``t`` markets takes."""
    if not given:
        if np.any(np.asarray(est.market_demand) != 0) or np.any(
            np.isfinite(np.asarray(est.market_capacity, dtype=float))
        ):
            raise ValueError(
                f"{MODEL}: market_demand and market_capacity need cost_coke_market (the markets)"
            )
        return np.zeros(0), np.zeros(0)
    expected = f"a number or one per market ({t})"
    demand = _values(est.market_demand, "market_demand", (t,), expected)
    room = _values(est.market_capacity, "market_capacity", (t,), expected, inf=True)
    short = np.flatnonzero(demand > room)
    if short.size:
        raise ValueError(f"{MODEL}: market_demand exceeds market_capacity at {short.tolist()}")
    return demand, room


def _unshipped_cost(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{MODEL}: unshipped_cost must be a number or None, not {value!r}")
    number = float(value)
    if not (np.isfinite(number) and number >= 0):
        raise ValueError(f"{MODEL}: unshipped_cost = {value!r} must be finite and >= 0")
    return number


def _check_capacity(
    s: np.ndarray, c1: np.ndarray, prep: _Echelon, coke: _Echelon, feed: np.ndarray
) -> None:
    """Refuse, before solving and with a precise message, supply that cannot all be shipped."""
    stranded = np.flatnonzero((s.sum(axis=1) > 0) & ~np.isfinite(c1).any(axis=1))
    if stranded.size:
        raise InfeasibleError(
            f"{MODEL}: mines {stranded.tolist()} reach no preparation plant (every cost is inf)",
            "check the routes from these mines, or set unshipped_cost to let supply stay",
        )
    total, room = s.sum(), (prep.base + prep.expansion_room).sum()
    if total > room * (1 + 1e-9):
        raise InfeasibleError(
            f"{MODEL}: supply {total:g} t/yr exceeds the capacity of all preparation plants "
            f"({room:g})",
            "raise prep_capacity, add candidates, or set unshipped_cost",
        )
    # Even at the lowest yields the feed concentrate must fit into the coke plants.
    least = (s[:, feed].sum(axis=0) * prep.yields[:, feed].min(axis=0)).sum()
    room = (coke.base + coke.expansion_room).sum()
    if least > room * (1 + 1e-9):
        raise InfeasibleError(
            f"{MODEL}: at least {least:g} t/yr of concentrate goes to coke plants, more than "
            f"their capacity ({room:g})",
            "raise coke_capacity, add candidates, narrow coke_feed, or set unshipped_cost",
        )


class _Chain:
    """The MILP of one instance: its variables, objective, bounds, constraints, and the
    solution read back into the estimator's attributes."""

    def __init__(
        self,
        s: np.ndarray,
        c1: np.ndarray,
        c2: np.ndarray,
        c3: np.ndarray,
        prep: _Echelon,
        coke: _Echelon,
        feed: np.ndarray,
        penalty: float | None,
    ) -> None:
        self.s, self.c1, self.c2, self.c3 = s, c1, c2, c3
        self.prep, self.coke, self.feed, self.penalty = prep, coke, feed, penalty
        n, k = s.shape
        m1, m2, t, f = prep.size, coke.size, c3.shape[1], len(feed)
        self.size = 0
        # Variables: opening y and expansion e per plant, flows x (mine, prep, type),
        # z (prep, coke, feed type), w (coke, market), unshipped u (mine, type).
        self.y1, self.y2 = self._add(m1), self._add(m2)
        self.e1, self.e2 = self._add(m1), self._add(m2)
        self.x, self.z, self.w = self._add(n, m1, k), self._add(m1, m2, f), self._add(m2, t)
        self.u = self._add(n, k) if penalty is not None else self._add(0, k)
        self.objective = np.zeros(self.size)
        self.lower = np.zeros(self.size)
        self.upper = np.full(self.size, np.inf)
        self.integrality = np.zeros(self.size)
        for y, e, echelon in ((self.y1, self.e1, prep), (self.y2, self.e2, coke)):
            self.objective[y] = echelon.opening
            self.objective[e] = echelon.expansion_cost
            self.upper[y] = 1.0
            self.lower[y[echelon.existing]] = 1.0
            self.upper[e] = echelon.expansion_room
            self.integrality[y] = 1
        for flow, cost in ((self.x, c1[:, :, None]), (self.z, c2[:, :, None]), (self.w, c3)):
            cost = np.broadcast_to(cost, flow.shape)
            reachable = np.isfinite(cost)
            self.objective[flow] = np.where(reachable, cost, 0.0)
            self.upper[flow] = np.where(reachable, np.inf, 0.0)
        self.upper[self.x] = np.minimum(self.upper[self.x], s[:, None, :])
        self.objective[self.u] = penalty or 0.0

    def _add(self, *shape: int) -> np.ndarray:
        """Indices of a new block of variables of ``shape``."""
        block = np.arange(self.size, self.size + int(np.prod(shape))).reshape(shape)
        self.size += block.size
        return block

    def _rows(self, n_rows: int, *terms: Term) -> sp.csr_matrix:
        """A constraint matrix from (row, variable, coefficient) terms, broadcast together;
        repeated (row, variable) pairs add up."""
        rows, cols, vals = [], [], []
        for row, col, val in terms:
            r, c, v = np.broadcast_arrays(np.asarray(row), col, np.asarray(val, dtype=float))
            rows.append(r.ravel())
            cols.append(c.ravel())
            vals.append(v.ravel())
        data = (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
        return sp.csr_matrix(data, shape=(n_rows, self.size))

    def constraints(self, demand: np.ndarray, room: np.ndarray) -> list[LinearConstraint]:
        """Supply, capacities, flow conservation with yields, market bounds, plant counts."""
        s, prep, coke, feed = self.s, self.prep, self.coke, self.feed
        (n, m1, k), (_, m2, f), t = self.x.shape, self.z.shape, self.w.shape[1]
        j1, j2 = np.arange(m1), np.arange(m2)
        out = []
        # Each mine ships its supply of each type (or leaves it unshipped, at a cost).
        rows = np.arange(n * k).reshape(n, 1, k)
        terms: list[Term] = [(rows, self.x, 1.0)]
        if self.penalty is not None:
            terms.append((rows[:, 0], self.u, 1.0))
        out.append(LinearConstraint(self._rows(n * k, *terms), s.ravel(), s.ravel()))
        # Input within the capacity of an open plant: base × open + expansion. (The
        # disaggregated links x_ijk <= s_ik y_j tighten the relaxation but made HiGHS twice as
        # slow on 120 mines × 60 × 20 plants; its own cuts do better.)
        for flow, y, e, echelon, j in (
            (self.x, self.y1, self.e1, prep, j1),
            (self.z, self.y2, self.e2, coke, j2),
        ):
            terms = [(j[None, :, None], flow, 1.0), (j, y, -echelon.base), (j, e, -1.0)]
            out.append(LinearConstraint(self._rows(len(j), *terms), -np.inf, 0.0))
        # Preparation plants: feed concentrate shipped on = yield × coal in, per type.
        rows = np.arange(m1 * f).reshape(m1, 1, f)
        terms = [
            (rows, self.z, 1.0),
            (rows[:, 0][None], self.x[:, :, feed], -prep.yields[:, feed][None]),
        ]
        out.append(LinearConstraint(self._rows(m1 * f, *terms), 0.0, 0.0))
        if t:
            # Coke plants: product shipped to the markets = yield × concentrate in.
            terms = [
                (j2[:, None], self.w, 1.0),
                (j2[None, :, None], self.z, -coke.yields[:, feed][None]),
            ]
            out.append(LinearConstraint(self._rows(m2, *terms), 0.0, 0.0))
            terms = [(np.arange(t)[None, :], self.w, 1.0)]
            out.append(LinearConstraint(self._rows(t, *terms), demand, room))
        for y, echelon in ((self.y1, prep), (self.y2, coke)):
            if echelon.fewest > 0 or echelon.most < echelon.size:
                count = self._rows(1, (0, y, 1.0))
                out.append(LinearConstraint(count, echelon.fewest, echelon.most))
        return out

    def learn(self, est: ValueChainLocation, solution: np.ndarray) -> None:
        """Set the estimator's attributes from the solver's ``solution``."""
        v = solution.clip(0.0)
        x, z, w, u = v[self.x], v[self.z], v[self.w], v[self.u]
        prep, coke, feed = self.prep, self.coke, self.feed
        open1, open2 = v[self.y1] > 0.5, v[self.y2] > 0.5
        est.open_ = {"prep": np.flatnonzero(open1), "coke": np.flatnonzero(open2)}
        est.unshipped_ = u if self.penalty is not None else np.zeros_like(self.s)
        # Per plant: input and output by type, from the flows into it.
        in1 = x.sum(axis=0)  # (prep, type)
        out1 = (in1 * prep.yields).sum(axis=1)
        in2 = z.sum(axis=0)  # (coke, feed type)
        out2 = (in2 * coke.yields[:, feed]).sum(axis=1)
        onward1, onward2 = z.sum(axis=(1, 2)), w.sum(axis=1)
        has_markets = self.w.shape[1] > 0
        plants = []
        for name, echelon, opened, e, inflow, output, onward in (
            ("prep", prep, open1, v[self.e1], in1.sum(axis=1), out1, onward1),
            ("coke", coke, open2, v[self.e2], in2.sum(axis=1), out2, onward2),
        ):
            leaves = output - onward if name == "prep" or has_markets else output
            plants.append(
                pd.DataFrame(
                    {
                        "echelon": name,
                        "plant": np.arange(echelon.size),
                        "existing": echelon.existing,
                        "open": opened,
                        "capacity": np.where(opened, echelon.base, 0.0) + e,
                        "expansion": e,
                        "input": inflow,
                        "output": output,
                        "onward": onward if name == "prep" or has_markets else 0.0,
                        "leaves": leaves.clip(0.0),
                    }
                )
            )
        est.plants_ = pd.concat(plants, ignore_index=True)
        tiny = 1e-9 * max(float(self.s.sum()), 1.0)
        frames = []
        for stage, flow, cost, types in (
            (STAGES[0], x, self.c1[:, :, None], np.arange(self.s.shape[1])),
            (STAGES[1], z, self.c2[:, :, None], feed),
            (STAGES[2], w[:, :, None], self.c3[:, :, None], None),
        ):
            a, b, c = np.nonzero(flow > tiny)
            tonnes = flow[a, b, c]
            frames.append(
                pd.DataFrame(
                    {
                        "stage": stage,
                        "from": a,
                        "to": b,
                        "coal_type": pd.array(
                            types[c] if types is not None else [None] * len(a), dtype="Int64"
                        ),
                        "tonnes": tonnes,
                        "cost": tonnes * cost[a, b, 0],
                    }
                )
            )
        est.flows_ = pd.concat(frames, ignore_index=True)
        est.costs_ = {
            "opening": float(v[self.y1] @ prep.opening + v[self.y2] @ coke.opening),
            "expansion": float(v[self.e1] @ prep.expansion_cost + v[self.e2] @ coke.expansion_cost),
            **{
                stage: float((flow * np.where(np.isfinite(cost), cost, 0.0)).sum())
                for stage, flow, cost in (
                    (STAGES[0], x, self.c1[:, :, None]),
                    (STAGES[1], z, self.c2[:, :, None]),
                    (STAGES[2], w, self.c3),
                )
            },
            "unshipped": float(u.sum() * (self.penalty or 0.0)),
        }
