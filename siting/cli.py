"""The ``siting`` command line.

User errors (:class:`~siting.errors.SitingError`) print one message and exit with status 2;
nothing is written to the output folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from siting.errors import SitingError

if TYPE_CHECKING:
    from siting.pipeline import Result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siting",
        description="Propose sites for coal-processing plants, coal-chemical plants and "
        "technology parks from GIS layers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario (default: the embedded Kuzbass scenario)")
    run.add_argument(
        "scenario",
        nargs="*",
        help="scenario TOML file(s) or glob patterns; several run as a batch (default: Kuzbass)",
    )
    run.add_argument("--workers", type=int, default=2, help="parallel runs in a batch (default 2)")
    run.add_argument("--resolution", type=float, help="grid resolution in metres (overrides)")
    run.add_argument(
        "--output-dir",
        type=Path,
        help="folder under which <scenario name>/ is written (default: outputs)",
    )
    run.add_argument("--name", help="scenario name, i.e. the output sub-folder (overrides)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress, only the result")
    export = sub.add_parser("export", help="rebuild exports of an existing output folder")
    formats = export.add_subparsers(dest="format", required=True)
    qgis = formats.add_parser(
        "qgis", help="styles in siting.gpkg, .qml beside the GeoTIFFs, and the siting.qgz project"
    )
    qgis.add_argument("folder", type=Path, help="an output folder (outputs/<scenario name>)")
    cmp = sub.add_parser(
        "compare",
        help="compare two runs (scenario .toml files, run first, or output folders)",
    )
    cmp.add_argument("a", type=Path, help="the 'before': a scenario .toml or an output folder")
    cmp.add_argument("b", type=Path, help="the 'after' (a what-if): .toml or output folder")
    cmp.add_argument(
        "--match-m",
        type=float,
        default=5000.0,
        help="sites of a profile this close (metres) are the same site, kept or moved "
        "(default 5000)",
    )
    cmp.add_argument("--resolution", type=float, help="grid resolution for .toml runs (metres)")
    cmp.add_argument(
        "--output-dir",
        type=Path,
        help="folder for the runs and for compare_<A>__<B>/ (default: outputs)",
    )
    init = sub.add_parser("init", help="write a commented scenario template")
    init.add_argument("path", type=Path, help="where to write the template (.toml)")
    return parser


def _print_sites(result: Result) -> None:
    from siting.exports.webmap import weight_unit

    notes: dict[str, str] = {}
    if result.allocation is not None:
        a, spec = result.allocation, result.scenario.allocation
        unit = weight_unit(spec.weight_field)
        for _, plant in a.plants.iterrows():
            notes[plant["site_id"]] = (
                f"{a.model} plant: {plant['served_weight']:.1f} {unit} "
                f"from {plant['n_served']} {spec.demand}"
            )
    if result.covering is not None:
        for site_id in result.covering.sites["site_id"]:
            if site_id:
                notes[site_id] = "covering: new technopark"
    print(f"\nProposed sites (outputs in {result.output_dir}):")
    print(f"{'site':<24}{'score':>6}{'lat':>9}{'lon':>9}  {'where':<28}note")
    for _, row in result.sites.iterrows():
        note = notes.get(row["site_id"], "")
        print(
            f"{row['site_id']:<24}{row['score']:>6.3f}{row['lat']:>9.4f}{row['lon']:>9.4f}  "
            f"{row.get('near', ''):<28}{note}"
        )


def _scenario_paths(given: list[str]) -> list[Path]:
    """The scenario files named, glob patterns expanded (sorted), in the order given."""
    import glob

    paths: list[Path] = []
    for item in given:
        if any(c in item for c in "*?["):
            found = sorted(glob.glob(item))
            if not found:
                raise SitingError(f"no scenario file matches {item!r}", "check the pattern")
            paths += [Path(f) for f in found]
        else:
            paths.append(Path(item))
    return paths


def _batch(paths: list[Path], workers: int, overrides: dict) -> int:
    from siting.batch import run_batch

    table = run_batch(paths, workers=workers, **overrides)
    out = Path(overrides.get("output_dir") or "outputs")
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "batch_summary.csv", index=False)
    shown = [
        c
        for c in ("name", "status", "plants", "transport", "covered_share", "seconds")
        if c in table.columns
    ]
    print(table[shown].to_string(index=False, na_rep="", float_format=lambda v: f"{v:,.3f}"))
    for row in table[table["status"] == "error"].itertuples():
        print(f"siting: error in {row.scenario}: {row.error}", file=sys.stderr)
    print(f"\nSummary of {len(table)} scenario(s) written to {out / 'batch_summary.csv'}")
    return 2 if (table["status"] == "error").any() else 0


def _compare(args: argparse.Namespace) -> int:
    from siting import compare
    from siting.pipeline import run

    overrides = {
        k: v
        for k, v in (("resolution", args.resolution), ("output_dir", args.output_dir))
        if v is not None
    }
    folders = []
    for given in (args.a, args.b):
        if given.suffix == ".toml":
            result = run(given, **overrides)
            folders.append(result.output_dir)
        else:
            folders.append(given)
    a, b = (compare.RunOutputs.read(f) for f in folders)
    c = compare.compare(a, b, match_m=args.match_m)
    out = (args.output_dir or Path("outputs")) / f"compare_{a.name}__{b.name}"
    compare.write(c, out)
    compare.print_summary(c)
    print(f"\nComparison written to {out} (map.html, report.html, comparison.gpkg)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``siting`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("siting")
    log.addHandler(handler)
    log.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        if args.command == "init":
            from siting.scenario import write_template

            path = write_template(args.path)
            print(f"wrote {path}: edit it, then run 'siting run {path}'")
            return 0
        if args.command == "export":
            from siting.exports import qgis_project

            project = qgis_project.write(args.folder)
            print(f"wrote {project} (open it in QGIS; paths are relative to the folder)")
            return 0
        if args.command == "compare":
            return _compare(args)
        from siting.pipeline import run

        overrides = {
            k: v
            for k, v in (
                ("resolution", args.resolution),
                ("output_dir", args.output_dir),
                ("name", args.name),
            )
            if v is not None
        }
        paths = _scenario_paths(args.scenario)
        if len(paths) > 1:
            return _batch(paths, args.workers, overrides)
        result = run(paths[0] if paths else None, **overrides)
        _print_sites(result)
        return 0
    except SitingError as exc:
        print(f"siting: error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("siting: interrupted; previous outputs left as they were", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `siting run | head`: the reader left, the run is complete
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
