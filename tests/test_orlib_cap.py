"""Beasley's capacitated warehouse location files (OR-Library) and the real-scale generator.

The OR-Library files are read in place from ../shared/data/orlib-cap (cap61–64, cap82 and their
published optima); the generator is ``benchmarks/cflp_instances.py``, which the benchmark
``benchmarks/orlib_cflp.py`` uses.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from types import ModuleType

import numpy as np
import pytest

from siting.errors import DataFileError, LayerNotFoundError
from siting.inputs.sources.orlib import read_cap
from siting.models import CapacitatedFacilityLocation

from conftest import ROOT, SHARED

CAP = SHARED / "orlib-cap"


@pytest.fixture(scope="module")
def instances() -> ModuleType:
    """``benchmarks/cflp_instances.py``, which the benchmark imports as a script's sibling."""
    spec = importlib.util.spec_from_file_location(
        "cflp_instances", ROOT / "benchmarks" / "cflp_instances.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def optimum(name: str) -> float:
    with (CAP / "optima.csv").open(newline="") as f:
        return {r["instance"]: float(r["optimal"]) for r in csv.DictReader(f)}[name]


def test_cap61_is_read_as_in_the_file():
    inst = read_cap(CAP / "cap61.txt")
    assert inst.capacity.shape == inst.fixed_cost.shape == (16,)
    assert inst.demand.shape == (50,) and inst.cost.shape == (50, 16)
    assert (inst.capacity == 15000).all()
    # The first warehouse costs 7500 to open; the eleventh is free (line 12 of the file).
    assert inst.fixed_cost[0] == 7500 and inst.fixed_cost[10] == 0
    assert (np.delete(inst.fixed_cost, 10) == 7500).all()
    # Demands summed by hand from the file (awk over the token stream): 146 + 87 + ... = 58268.
    assert inst.demand[:2].tolist() == [146, 87] and inst.demand.sum() == 58268
    # The first customer's costs wrap over three lines: 6739.725 first, 6051.7 last.
    assert inst.cost[0, 0] == 6739.725 and inst.cost[0, 15] == 6051.7
    assert inst.unit_cost[0, 0] == pytest.approx(6739.725 / 146, rel=1e-15)
    assert not inst.cost.flags.writeable


def test_unit_cost_of_a_customer_without_demand_is_zero(tmp_path):
    path = tmp_path / "zero.txt"
    path.write_text("2 2\n10 5\n10 5\n0 3 4\n4 8 12\n")
    inst = read_cap(path)
    np.testing.assert_array_equal(inst.unit_cost, [[0.0, 0.0], [2.0, 3.0]])


def test_the_capacity_word_needs_the_capacity_option(tmp_path):
    path = tmp_path / "capx.txt"
    path.write_text(" 2 3\n capacity 100.5\n capacity 0.\n 4 1 2\n 5 3\n 4\n 6 6 6\n")
    with pytest.raises(DataFileError, match=r"capx\.txt.*'capacity'") as err:
        read_cap(path)
    assert err.value.fix is not None and "capacity=" in err.value.fix
    inst = read_cap(path, capacity=9)
    np.testing.assert_array_equal(inst.capacity, [9, 9])
    np.testing.assert_array_equal(inst.fixed_cost, [100.5, 0])
    np.testing.assert_array_equal(inst.demand, [4, 5, 6])
    np.testing.assert_array_equal(inst.cost, [[1, 2], [3, 4], [6, 6]])
    # A file with its own capacities refuses a substitute instead of silently ignoring it.
    with pytest.raises(DataFileError, match="has its own capacities"):
        read_cap(CAP / "cap61.txt", capacity=9)


def test_truncated_or_overlong_files_are_refused(tmp_path):
    lines = (CAP / "cap61.txt").read_text().splitlines()
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataFileError, match=r"short\.txt.*truncated"):
        read_cap(short)
    long = tmp_path / "long.txt"
    long.write_text("\n".join([*lines, "12.5"]) + "\n")
    with pytest.raises(DataFileError, match=r"long\.txt.*longer than its counts"):
        read_cap(long)
    bad = tmp_path / "bad.txt"
    bad.write_text("1 1\n10 x\n1 1\n")
    with pytest.raises(DataFileError, match=r"bad\.txt: 'x' is not a finite number"):
        read_cap(bad)
    with pytest.raises(LayerNotFoundError, match=r"missing\.txt"):
        read_cap(tmp_path / "missing.txt")


def test_cap61_reaches_the_published_optimum():
    inst = read_cap(CAP / "cap61.txt")
    model = CapacitatedFacilityLocation(
        inst.capacity, inst.fixed_cost, single_sourcing=False, tol=1e-9
    ).fit(inst.unit_cost, sample_weight=inst.demand)
    assert model.objective_ == pytest.approx(optimum("cap61"), rel=1e-6)
    # The objective is the file's own cost: opening plus each customer's share of its cost.
    served = (model.assignment_ * inst.cost).sum()
    assert model.objective_ == pytest.approx(inst.fixed_cost[model.facilities_].sum() + served)


def test_the_generator_is_reproducible(instances):
    a, b = instances.generate(200, 50, 3), instances.generate(200, 50, 3)
    for name in ("capacity", "fixed_cost", "demand", "cost"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.demand, instances.generate(200, 50, 4).demand)
    assert a.cost.shape == (200, 50)
    # Unit cost is the distance in km on the 300 × 300 km plane.
    assert a.unit_cost.min() >= 0 and a.unit_cost.max() <= 300 * np.sqrt(2)
    assert a.capacity.sum() == pytest.approx(4 * a.demand.sum())


def test_the_generators_capacities_bind(instances):
    inst = instances.generate(120, 30, 7)
    assert inst.demand.sum() > inst.capacity.max()
    model = CapacitatedFacilityLocation(
        inst.capacity, inst.fixed_cost, single_sourcing=False, tol=1e-6
    ).fit(inst.unit_cost, sample_weight=inst.demand)
    opened = model.facilities_
    assert len(opened) > 1
    load = (model.assignment_ * inst.demand[:, None]).sum(axis=0)
    # Some open site is full: its capacity, not only the distances, shapes the plan.
    assert (load[opened] >= inst.capacity[opened] * (1 - 1e-6)).any()
    # ...so that some mine is served from a site that is not its nearest open one.
    nearest = opened[inst.unit_cost[:, opened].argmin(axis=1)]
    assert (model.assignment_[np.arange(len(nearest)), nearest] < 1 - 1e-6).any()
