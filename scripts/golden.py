"""Record (or compare against) the golden file of the default run at 1 km: the proposed sites
with their scores, the plants with their tonnages and the covering.

    python scripts/golden.py record   # writes tests/golden/kuzbass_1km.json
    python scripts/golden.py check    # compares a fresh run with it

tests/test_golden.py runs the check: a refactoring must not change any result. A change of the
model that moves results on purpose records the file again, and its commit says what moved and
why (e.g. the haul on road and rail: other plants, transport in truck-equivalent km).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "kuzbass_1km.json"


def summary(result) -> dict:
    """The numbers a planner reads off the default run, as plain JSON."""
    sites = [
        {
            "site_id": str(r.site_id),
            "profile": str(r.profile),
            "rank": int(r["rank"]),
            "score": float(r.score),
            "x": float(r.geometry.x),
            "y": float(r.geometry.y),
        }
        for _, r in result.sites.iterrows()
    ]
    a = result.allocation
    plants = [
        {
            "site_id": str(r.site_id),
            "served_weight": float(r.served_weight),
            "n_served": int(r.n_served),
        }
        for _, r in a.plants.iterrows()
    ]
    c = result.covering
    covering = {
        "coverage": float(c.coverage),
        "baseline": float(c.baseline),
        "total": float(c.total),
        "sites": sorted(
            [str(r.site_id), str(r.status), float(r.covered_weight)] for _, r in c.sites.iterrows()
        ),
    }
    return {
        "sites": sites,
        "allocation": {"transport": float(a.transport), "p": int(a.p), "plants": plants},
        "covering": covering,
    }


def main() -> None:
    import siting

    result = siting.run(resolution=1000, write=False, cache=False)
    got = summary(result)
    if sys.argv[1:] == ["record"]:
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
        print(f"wrote {GOLDEN}")
    else:
        want = json.loads(GOLDEN.read_text())
        print("identical" if got == want else "DIFFERENT")


if __name__ == "__main__":
    main()
