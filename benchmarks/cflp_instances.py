"""Real-scale capacitated facility location instances: mines in clusters, plant sites on a grid.

Beasley's OR-Library instances have at most 1000 customers and were drawn for 1980s codes; the
plants siting places in Kuzbass face something else: about a thousand mines of very unequal
output, in a few coal districts, and candidate sites all over the basin. :func:`generate` draws
such an instance, reproducibly from a seed:

- the mines' outputs are lognormal with a median of 1 Mt/yr (σ = 1 in log space, so about 1 % of
  mines produce over 10 Mt/yr, as in the Global Energy Monitor tracker), clipped to 0.05–30;
- the mines lie in clusters (coal districts) on a 300 × 300 km plane: cluster centres uniform
  in its inner part, cluster sizes unequal, mines scattered 5–20 km around their centre;
- the candidate sites are a regular grid over the plane;
- the cost of a unit of output is the Euclidean distance in km (a tariff of 1 per t·km);
- capacities bind: the sites' total is 4 × the total output, shared out in proportion to a
  factor of 0.5–1.5 per site, so that the largest site takes about 6 / ``n_sites`` of the output
  (at 500 sites 1.2 %, while a district produces several %) and no site can serve a district
  alone;
- a site's fixed cost is its capacity × the grid spacing (km) × a factor of 0.5–1.5: opening
  enough capacity for all output costs about as much as hauling it one grid spacing, the same
  order as the serving cost, so neither term decides alone.

The benchmark ``benchmarks/orlib_cflp.py --generate N M SEED`` solves one; the tests import this
module to check that it is reproducible and that its capacities bind.
"""

from __future__ import annotations

import math

import numpy as np

from siting.inputs.sources.orlib import CapInstance

#: Side of the square plane, km.
SIDE_KM = 300.0
#: Median mine output, Mt/yr, and the spread of log output.
MEDIAN_OUTPUT, LOG_SIGMA = 1.0, 1.0
#: Total site capacity over total output.
CAPACITY_RATIO = 4.0


def layout(
    n_mines: int, n_sites: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    """Mines' positions and outputs and the sites' grid.

    Parameters
    ----------
    n_mines, n_sites
        Number of mines (customers) and of candidate sites (warehouses), each >= 1.
    seed
        Seed of the random generator: the same seed gives the same instance.

    Returns
    -------
    mines, output, sites, rng
        Mine coordinates (n_mines, 2) in km, outputs (n_mines,) in Mt/yr, site coordinates
        (n_sites, 2) in km, and the generator (to draw the rest from the same stream).
    """
    if n_mines < 1 or n_sites < 1:
        raise ValueError(f"need at least one mine and one site, not {n_mines} and {n_sites}")
    rng = np.random.default_rng(seed)
    output = np.clip(rng.lognormal(math.log(MEDIAN_OUTPUT), LOG_SIGMA, n_mines), 0.05, 30.0)
    # About one coal district per 80 mines, at least 3: Kuzbass has a dozen or so.
    k = max(3, round(n_mines / 80))
    centres = rng.uniform(0.1 * SIDE_KM, 0.9 * SIDE_KM, (k, 2))
    share = rng.dirichlet(np.full(k, 2.0))
    district = rng.choice(k, n_mines, p=share)
    spread = rng.uniform(5.0, 20.0, k)
    mines = centres[district] + rng.normal(0.0, 1.0, (n_mines, 2)) * spread[district, None]
    mines = np.clip(mines, 0.0, SIDE_KM)
    rows = max(1, round(math.sqrt(n_sites)))
    cols = math.ceil(n_sites / rows)
    gx, gy = np.meshgrid(
        (np.arange(cols) + 0.5) * SIDE_KM / cols, (np.arange(rows) + 0.5) * SIDE_KM / rows
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    # Evenly spaced picks from the full grid, so that no corner is left out when rows × cols
    # exceeds n_sites.
    pick = np.round(np.linspace(0, len(grid) - 1, n_sites)).astype(int)
    return mines, output, grid[pick], rng


def generate(n_mines: int, n_sites: int, seed: int) -> CapInstance:
    """A capacitated facility location instance of ``n_mines`` mines and ``n_sites`` sites.

    Parameters
    ----------
    n_mines, n_sites
        Number of mines (customers) and of candidate sites (warehouses).
    seed
        Seed: the same seed gives the same instance.

    Returns
    -------
    CapInstance
        As :func:`siting.inputs.sources.orlib.read_cap` returns it: ``cost`` is the cost of
        serving a mine's whole output from a site (output × km), ``unit_cost`` the km.
    """
    mines, output, sites, rng = layout(n_mines, n_sites, seed)
    km = np.hypot(*(mines[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    factor = rng.uniform(0.5, 1.5, n_sites)
    capacity = CAPACITY_RATIO * output.sum() * factor / factor.sum()
    spacing = SIDE_KM / math.sqrt(n_sites)
    fixed_cost = capacity * spacing * rng.uniform(0.5, 1.5, n_sites)
    arrays = (capacity, fixed_cost, output, output[:, None] * km)
    for array in arrays:
        array.flags.writeable = False
    return CapInstance(*arrays)
