"""The ``siting`` command line.

User errors (:class:`~siting.errors.SitingError`) print one message and exit with status 2;
nothing is written to the output folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siting.errors import SitingError

if TYPE_CHECKING:
    from siting.config.scenario import Scenario
    from siting.pipeline.result import BasinRun, Result

log = logging.getLogger("siting")
#: A tiled run needs a cluster: without --workers or --scheduler, a LocalCluster of this many.
TILED_WORKERS = 2


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
    _cluster_options(
        run,
        "basins of a national scenario or scenarios of a batch (without it: basins one after "
        "another here, a batch in 2 processes)",
    )
    run.add_argument(
        "--tiles",
        type=int,
        metavar="CELLS",
        help="run one region on a tiled grid of CELLS × CELLS chunks held by a Dask cluster "
        "(--workers N, 2 by default, or --scheduler): criteria, suitability, sites and the "
        "plant model",
    )
    run.add_argument("--resolution", type=float, help="grid resolution in metres (overrides)")
    run.add_argument(
        "--output-dir",
        type=Path,
        help="folder under which <scenario name>/ is written (default: outputs)",
    )
    run.add_argument("--name", help="scenario name, i.e. the output sub-folder (overrides)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress, only the result")
    caching = run.add_mutually_exclusive_group()
    caching.add_argument(
        "--no-cache",
        action="store_true",
        help="compute every step afresh and store nothing (default: reuse steps whose inputs "
        "are unchanged, from <output dir>/.cache)",
    )
    caching.add_argument("--cache-dir", type=Path, help="keep the cache in this folder instead")
    cache = sub.add_parser(
        "cache", help="show, prune or clear the cache of intermediate results of a scenario"
    )
    cache.add_argument(
        "scenario", nargs="?", type=Path, help="scenario TOML (default: the Kuzbass default)"
    )
    cache.add_argument("--output-dir", type=Path, help="as given to 'siting run'")
    cache.add_argument("--cache-dir", type=Path, help="as given to 'siting run'")
    action = cache.add_mutually_exclusive_group()
    action.add_argument(
        "--clear",
        action="store_true",
        help="delete every entry (only of a folder marked as siting's cache, by a CACHEDIR.TAG)",
    )
    action.add_argument(
        "--max-gb",
        type=float,
        help="delete least recently used entries down to this size (a number >= 0)",
    )
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
    sens = sub.add_parser(
        "sensitivity",
        help="how robust a profile's sites are to its weights (Monte Carlo), or with "
        "--structural every site and plant to whole runs under drawn assumptions",
    )
    sens.add_argument("scenario", nargs="?", type=Path, help="scenario TOML (default: Kuzbass)")
    sens.add_argument(
        "--profile", help="the profile whose weights are varied (needed without --structural)"
    )
    sens.add_argument(
        "--structural",
        action="store_true",
        help="whole runs with the weights, capacity, costs and tariffs drawn as [sensitivity] "
        "says, one task per draw",
    )
    sens.add_argument(
        "--draws",
        type=int,
        help="draws (default 200 weight draws; with --structural the scenario's "
        "[sensitivity] draws)",
    )
    sens.add_argument(
        "--concentration",
        type=float,
        default=50.0,
        help="Dirichlet concentration around direct weights: larger = tighter (default 50)",
    )
    sens.add_argument(
        "--judgement-sd",
        type=float,
        default=0.2,
        help="log-scale spread of AHP judgements (default 0.2)",
    )
    sens.add_argument(
        "--top", type=float, default=0.1, help="robustness: share of best land (default 0.1)"
    )
    sens.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _cluster_options(sens, "parts of the draws (without it: 2 processes)")
    sens.add_argument(
        "--tiles",
        type=int,
        metavar="CELLS",
        help="the robustness map on a tiled grid of CELLS × CELLS chunks held by the cluster "
        "(chunk by chunk, no draw's grid held whole); writes robustness.tif and weights.csv",
    )
    sens.add_argument("--resolution", type=float, help="grid resolution in metres (overrides)")
    sens.add_argument(
        "--output-dir", type=Path, help="folder for <name>_sensitivity_<profile>/ (default outputs)"
    )
    init = sub.add_parser("init", help="write a commented scenario template")
    init.add_argument("path", type=Path, help="where to write the template (.toml)")
    sub.add_parser(
        "schema", help="print the JSON Schema of a scenario file (for editors: #:schema)"
    )
    _fetch_parser(sub)
    plugin = sub.add_parser(
        "qgis-plugin", help="siting's QGIS Processing provider: install it, or zip it"
    )
    plugin_action = plugin.add_subparsers(dest="action", required=True)
    install = plugin_action.add_parser("install", help="copy it into a QGIS plugins folder")
    install.add_argument(
        "--plugins-dir",
        type=Path,
        help="QGIS's plugins folder (default: the default profile's python/plugins)",
    )
    plugin_zip = plugin_action.add_parser("zip", help="a zip for QGIS's 'Install from ZIP'")
    plugin_zip.add_argument("out", type=Path, help="the zip to write (.zip)")
    return parser


def _cluster_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers`` and ``--scheduler``: where the independent pieces of a command run."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"start a Dask LocalCluster of N worker processes for the {what}",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="use the existing Dask cluster at this address (tcp://host:8786; default: the "
        "environment's DASK_SCHEDULER_ADDRESS) instead",
    )


def _fetch_parser(sub: argparse._SubParsersAction) -> None:
    fetch = sub.add_parser("fetch", help="download input layers (OpenStreetMap)")
    sources = fetch.add_subparsers(dest="source", required=True)
    osm = sources.add_parser(
        "osm",
        help="OpenStreetMap roads, rail, stations, settlements, protected areas, water, "
        "quarries and industrial land into one GeoPackage, with a scenario snippet",
    )
    where = osm.add_mutually_exclusive_group(required=True)
    where.add_argument("--place", help='a place name, e.g. "Kemerovo Oblast, Russia"')
    where.add_argument(
        "--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"), help="lon/lat box"
    )
    where.add_argument("--scenario", type=Path, help="a scenario TOML: its study area, padded")
    where.add_argument("--osm-file", type=Path, help="a local .osm or .osm.bz2 extract")
    osm.add_argument("--pad-km", type=float, help="padding of --scenario's study area (km)")
    osm.add_argument(
        "--output", type=Path, help="GeoPackage to write (default: outputs/osm/<region>.gpkg)"
    )
    osm.add_argument(
        "--roads",
        choices=("main", "drive"),
        default="main",
        help="main: motorway … tertiary (default); drive: also minor and residential roads",
    )
    osm.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("outputs") / ".osm-cache",
        help="download cache, per region (default: outputs/.osm-cache)",
    )
    osm.add_argument("--overpass-url", help="Overpass API (default: overpass-api.de)")
    osm.add_argument("--nominatim-url", help="Nominatim geocoder for --place")
    osm.add_argument("--timeout", type=float, help="seconds to wait for each answer (180)")
    osm.add_argument("-q", "--quiet", action="store_true", help="no progress, only the result")


def _fetch(args: argparse.Namespace) -> int:
    from siting.inputs.sources import osm

    if args.pad_km is not None and args.scenario is None:
        raise SitingError("--pad-km pads a --scenario's study area", "add --scenario S.toml")
    if args.osm_file is not None:
        output = args.output or Path("outputs") / "osm" / f"{osm.slug(args.osm_file.name)}.gpkg"
        done = osm.from_osm_file(args.osm_file, output, roads=args.roads)
    else:
        if args.place is not None:
            region = osm.region_from_place(args.place, nominatim_url=args.nominatim_url)
        elif args.bbox is not None:
            region = osm.region_from_bbox(*args.bbox)
        else:
            region = osm.region_from_scenario(args.scenario, pad_km=args.pad_km)
        output = args.output or Path("outputs") / "osm" / f"{osm.slug(region.label)}.gpkg"
        done = osm.fetch(
            region,
            output,
            roads=args.roads,
            cache_dir=args.cache_dir,
            overpass_url=args.overpass_url,
            timeout=args.timeout,
        )
    counts = ", ".join(f"{n} {name}" for name, n in done.counts.items() if n)
    print(f"wrote {done.gpkg} ({counts})")
    if done.graphml is not None:
        print(f"wrote {done.graphml} (the road graph, for osmnx)")
    print(f'wrote {done.snippet}: use it with extends = "{done.snippet.name}" in a scenario')
    return 0


def _cache(args: argparse.Namespace) -> int:
    import math

    from siting.config.scenario import load
    from siting.pipeline import cache

    deleting = args.clear or args.max_gb is not None
    if args.max_gb is not None and not (math.isfinite(args.max_gb) and args.max_gb >= 0):
        raise SitingError(
            f"--max-gb must be a finite number of gigabytes, 0 or more, not {args.max_gb:g}",
            "e.g. --max-gb 5 (or --clear to delete every entry)",
        )
    scenario = load(args.scenario)
    if args.output_dir is not None:
        scenario = scenario.with_overrides(output_dir=args.output_dir)
    # The folder 'siting run' uses (siting.pipeline.stages.open_cache), named without opening
    # it as a cache: a folder that is not one is reported here, not warned about.
    folder: Path = args.cache_dir or scenario.outputs.dir / ".cache"
    marked = cache.is_cache(folder)
    if deleting and folder.exists() and not marked:
        raise SitingError(
            f"{folder} is not marked as a siting cache (it has no {cache.TAG_NAME} written by "
            "siting): nothing deleted",
            "check --cache-dir and --output-dir; siting marks every cache folder it makes (a "
            "cache made by a siting older than the marker may be deleted by hand)",
        )
    if deleting:
        # Capped at 1e15 GB, more than any disk, so that the number of bytes stays finite.
        limit = 0 if args.clear else int(min(args.max_gb, 1e15) * 1e9)
        print(f"deleted {cache.prune(folder, limit)} entries")
    n, size = cache.size(folder)
    unmarked = folder.exists() and not marked
    note = f" (not marked as a siting cache: no {cache.TAG_NAME})" if unmarked else ""
    print(f"{folder}: {n} entries, {size / 1e9:.2f} GB{note}")
    return 0


def _print_sites(result: Result) -> None:
    from siting.exports.theme import weight_unit

    notes: dict[str, str] = {}
    spec = result.scenario.allocation
    if result.allocation is not None and spec is not None:
        a = result.allocation
        unit = weight_unit(result.scenario, spec.demand, spec.weight_field)
        for _, plant in a.plants.iterrows():
            notes[plant["site_id"]] = (
                f"{a.model} plant: {plant['served_weight']:.1f} {unit} "
                f"from {plant['n_served']} {spec.demand}"
            )
    if result.covering is not None:
        for site_id in result.covering.sites["site_id"]:
            if site_id:
                notes[site_id] = "covering: new technopark"
    rob = result.robustness
    if rob is not None:
        plan = rob.sites[rob.sites["in_plan"] & (rob.sites["origin"] != "existing")]
        for r in plan.itertuples():
            said = notes.get(str(r.site_id), "")
            notes[str(r.site_id)] = f"{said}; " * bool(said) + (
                f"{r.robustness_class} ({r.robustness:.0%} of {rob.n} draws)"
            )
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


def _batch(
    paths: list[Path], workers: int, overrides: dict, executor: Executor | None = None
) -> int:
    from siting.whatif.batch import run_batch

    table = run_batch(paths, workers=workers, executor=executor, **overrides)
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


def _sensitivity(args: argparse.Namespace) -> int:
    from siting.config.scenario import load
    from siting.pipeline.stages import run
    from siting.whatif import sensitivity

    scenario = load(args.scenario)
    if args.resolution is not None:
        scenario = scenario.with_overrides(resolution=args.resolution)
    if args.structural:
        return _structural(args, scenario)
    if args.profile is None:
        raise SitingError(
            "siting sensitivity needs --profile (whose weights to vary) or --structural",
            f"e.g. --profile {next(iter(scenario.profiles))}, or --structural --draws 20",
        )
    if args.profile not in scenario.profiles:
        raise SitingError(
            f"--profile {args.profile!r} is not a profile of {scenario.name}",
            f"use one of: {', '.join(scenario.profiles)}",
        )
    args.draws = 200 if args.draws is None else args.draws
    if args.draws < 1 or args.concentration <= 0 or not 0 < args.top < 1:
        raise SitingError(
            "--draws must be ≥ 1, --concentration > 0 and --top between 0 and 1",
            "e.g. --draws 200 --concentration 50 --top 0.1",
        )
    if args.tiles is not None:
        return _tiled_sensitivity(args, scenario)
    from siting.scale.cluster import connect, scheduler_address

    scheduler = scheduler_address(args.scheduler)
    with connect(args.workers, scheduler) as client:
        result = run(scenario, write=False, cache=True)  # the command writes to outputs anyway
        parts = args.workers or 2
        if client is not None:
            parts = max(1, sum(client.nthreads().values()))
        s = sensitivity.sensitivity(
            result,
            args.profile,
            n=args.draws,
            concentration=args.concentration,
            judgement_sd=args.judgement_sd,
            top_share=args.top,
            seed=args.seed,
            workers=parts,
            executor=None if client is None else client.get_executor(pure=False),
        )
    out = (args.output_dir or Path("outputs")) / f"{scenario.name}_sensitivity_{args.profile}"
    sensitivity.write(s, out)
    print(f"\n{args.profile}: how often each site is proposed over {args.draws} weight draws")
    print(s.sites.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\nwritten to {out} (sites.csv, sweeps.csv/.png, weights.csv, robustness.tif)")
    return 0


def _check_tiles(tiles: int) -> None:
    if tiles < 16:
        raise SitingError(f"--tiles {tiles}: too small", "give at least 16 (e.g. --tiles 2048)")


def _tiled_sensitivity(args: argparse.Namespace, scenario: Scenario) -> int:
    """``siting sensitivity --tiles``: the robustness map chunk by chunk on the cluster
    (:mod:`siting.scale.tiled_sensitivity`)."""
    from siting.scale import tiled_sensitivity
    from siting.scale.cluster import connect, scheduler_address
    from siting.scale.tiled_run import run_tiled

    _check_tiles(args.tiles)
    out = (args.output_dir or Path("outputs")) / f"{scenario.name}_sensitivity_{args.profile}"
    with connect(args.workers, scheduler_address(args.scheduler), TILED_WORKERS) as client:
        assert client is not None
        run = run_tiled(scenario, client, args.tiles)
        share, weights = tiled_sensitivity.weight_robustness(
            run,
            args.profile,
            n=args.draws,
            seed=args.seed,
            concentration=args.concentration,
            judgement_sd=args.judgement_sd,
            top_share=args.top,
        )
        tiled_sensitivity.write(run, args.profile, share, weights, out)
    print(
        f"{args.profile}: share of {args.draws} weight draws keeping each cell in the best "
        f"{args.top:.0%} of the land, on {run.n_chunks} tiles"
    )
    print(f"written to {out} (robustness.tif, weights.csv)")
    return 0


def _structural(args: argparse.Namespace, scenario: Scenario) -> int:
    """``siting sensitivity --structural``: whole runs under drawn assumptions
    (:mod:`siting.whatif.structural`)."""
    from siting.pipeline.stages import open_cache, run
    from siting.scale.cluster import connect, scheduler_address
    from siting.whatif import structural

    draws = scenario.sensitivity.draws if args.draws is None else args.draws
    if draws < 1:
        raise SitingError(
            f"--structural needs at least 1 draw, not {draws}",
            "give --draws N (or [sensitivity] draws in the scenario)",
        )
    cache = open_cache(scenario, True).folder or False
    with connect(args.workers, scheduler_address(args.scheduler)) as client:
        result = run(scenario, write=False, cache=cache)
        executor = None if client is None else client.get_executor(pure=False)
        found = structural.structural(result, draws, args.seed, executor, cache)
    out = (args.output_dir or Path("outputs")) / f"{scenario.name}_structural"
    structural.write(found, out)
    sites = found.sites.assign(
        kept_class=structural.kept_classes(found.sites["kept_share"], scenario.sensitivity)
    )
    print(f"\nshare of {draws} whole runs (seed {found.seed}) keeping each site")
    print(
        sites[["site_id", "profile", "rank", "kept_share", "kept_class"]].to_string(
            index=False, float_format=lambda v: f"{v:.2f}"
        )
    )
    if len(found.plants):
        print("\nshare of the runs whose plan keeps each plant")
        print(
            found.plants[["site_id", "existing", "kept_share"]].to_string(
                index=False, float_format=lambda v: f"{v:.2f}"
            )
        )
    print(f"\nwritten to {out} (sites.csv, plants.csv, draws.csv)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from siting.pipeline.stages import run
    from siting.whatif import compare

    compare.check_match_m(args.match_m, "--match-m")  # before the runs, not after them
    overrides = {
        k: v
        for k, v in (("resolution", args.resolution), ("output_dir", args.output_dir))
        if v is not None
    }
    folders: list[Path] = []
    for given in (args.a, args.b):
        if given.suffix == ".toml":
            result = run(given, **overrides)
            assert result.output_dir is not None  # a run that writes has its folder
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
    # Output folders swapped in by this command: after a Ctrl-C, they are the new outputs.
    written: list[Path] = []
    try:
        if args.command == "init":
            return _init(args.path)
        if args.command == "schema":
            from siting.config.schema import schema_text

            sys.stdout.write(schema_text())
            return 0
        if args.command == "export":
            from siting.exports.qgis import project as qgis_project

            project = qgis_project.write(args.folder)
            print(f"wrote {project} (open it in QGIS; paths are relative to the folder)")
            return 0
        if args.command == "fetch":
            return _fetch(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "qgis-plugin":
            return _qgis_plugin(args)
        # The commands that write output folders: a Ctrl-C is recorded even when a library
        # swallows its KeyboardInterrupt, so that it never ends in replaced outputs and exit 0.
        from siting.exports import folder

        with folder.watching_interrupts() as watch, folder.recording(written):
            code = {"compare": _compare, "sensitivity": _sensitivity}.get(args.command, _run)(args)
        if watch.seen:
            raise KeyboardInterrupt
        return code
    except SitingError as exc:
        print(f"siting: error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if written:
            done = ", ".join(map(str, written))
            print(
                f"siting: interrupted after the outputs were written: {done} complete",
                file=sys.stderr,
            )
        else:
            print("siting: interrupted; previous outputs left as they were", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `siting run | head`: the reader left, the run is complete
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        # Called again in the same process (tests, notebooks), a second handler would repeat
        # every line, and one left on a closed stream would fail.
        log.removeHandler(handler)


def _run(args: argparse.Namespace) -> int:
    from siting.pipeline.stages import run

    overrides = {
        k: v
        for k, v in (
            ("resolution", args.resolution),
            ("output_dir", args.output_dir),
            ("name", args.name),
        )
        if v is not None
    }
    if args.no_cache or args.cache_dir is not None:
        overrides["cache"] = args.cache_dir or False
    paths = _scenario_paths(args.scenario)
    from siting.scale.cluster import connect, scheduler_address

    scheduler = scheduler_address(args.scheduler)
    if args.tiles is not None and len(paths) > 1:
        raise SitingError(
            f"--tiles runs one scenario on a tiled grid, not a batch of {len(paths)}",
            "run the scenarios one by one with --tiles, or the batch without it",
        )
    if len(paths) > 1:
        with connect(args.workers, scheduler) as client:
            executor = None if client is None else client.get_executor(pure=False)
            return _batch(paths, args.workers or 2, overrides, executor)
    from siting.config.scenario import load
    from siting.scale import national

    scenario = load(paths[0] if paths else None)
    if national.is_national(scenario):
        if args.tiles is not None:
            raise SitingError(
                f"--tiles: {scenario.name} is national; its basins run one by one, each on "
                "one grid",
                "leave out --tiles (a basin's grid fits a worker), or run one basin's scenario "
                "with --tiles",
            )
        return _national(scenario, args.workers, scheduler, overrides)
    if args.tiles is not None:
        return _tiled(scenario, args.tiles, args.workers, scheduler, overrides)
    if args.workers is not None or scheduler is not None:
        log.warning(
            "siting: %s is one region: it runs in this process (the cluster runs the basins of "
            "a national scenario and the scenarios of a batch)",
            scenario.name,
        )
    result = run(scenario, **overrides)
    _print_sites(result)
    return 0


def _tiled(
    scenario: Scenario,
    tiles: int,
    workers: int | None,
    scheduler: str | None,
    overrides: dict[str, Any],
) -> int:
    """Run one region on a tiled grid (:mod:`siting.scale.tiled_run`) and list its sites."""
    from siting.scale.cluster import connect
    from siting.scale.tiled_output import write_tiled

    _check_tiles(tiles)
    overrides.pop("cache", None)  # a tiled run keeps its intermediates on the cluster
    scenario = scenario.with_overrides(**overrides)
    with connect(workers, scheduler, TILED_WORKERS) as client:
        assert client is not None
        run, folder = write_tiled(scenario, client, tiles)
    print(
        f"{scenario.title}: tiled grid {run.grid.width} × {run.grid.height} cells in "
        f"{run.n_chunks} chunks"
    )
    for row in run.sites.itertuples():
        print(f"  {row.site_id:<28} {row.profile:<22} rank {row.rank:>2}  score {row.score:.3f}")
    if run.allocation is not None:
        a = run.allocation
        print(f"plants: {', '.join(a.plants)} (objective {a.objective:.6g}, gap {a.gap:.2g})")
    print(f"{len(run.sites)} sites; written to {folder}")
    return 0


def _national(
    scenario: Scenario, workers: int | None, scheduler: str | None, overrides: dict[str, Any]
) -> int:
    """Run a national scenario basin by basin (:mod:`siting.scale.national`) and list them."""
    from siting.scale.cluster import connect
    from siting.scale.national import run_national

    cache = overrides.pop("cache", None)
    scenario = scenario.with_overrides(**overrides)

    def ended(basin: BasinRun, done: int, total: int) -> None:
        what = f"{len(basin.sites)} sites" if basin.status == "ok" else f"skipped: {basin.message}"
        log.info("[%d/%d] %s: %s (%.1f s)", done, total, basin.name, what, basin.seconds)

    with connect(workers, scheduler) as client:
        result = run_national(scenario, client=client, cache=cache, progress=ended)
    ok = [b for b in result.basins if b.status == "ok"]
    print(f"{scenario.title}: {len(result.basins)} basins on {result.workers}")
    for b in result.basins:
        print(f"  {b.name:<24} {b.status:<8} {len(b.sites):>3} sites  {b.mines:>3} mines")
    print(
        f"{len(result.sites)} sites in {sum(len(b.sites) > 0 for b in ok)} basins, "
        f"{len(result.basins) - len(ok)} basin(s) skipped; {result.seconds:.0f} s; "
        f"written to {result.output_dir}"
    )
    return 0


def _qgis_plugin(args: argparse.Namespace) -> int:
    """``siting qgis-plugin install|zip`` (:mod:`siting.qgis_plugin`)."""
    from siting import qgis_plugin

    if args.action == "zip":
        print(f"wrote {qgis_plugin.zip_plugin(args.out)} (QGIS: Plugins › Install from ZIP)")
        return 0
    folder = qgis_plugin.install(args.plugins_dir)
    print(
        f"installed {folder} (restart QGIS and enable 'siting' in Plugins › Manage; its "
        "algorithms are in the Processing Toolbox under 'siting')"
    )
    return 0


def _init(path: Path) -> int:
    """``siting init``: the template, in an existing folder, never over a file."""
    from siting.config.scenario import write_template
    from siting.exports.folder import nearest_existing

    if os.path.lexists(path):
        raise SitingError(f"{path} already exists", "choose a new file name or delete it first")
    above = nearest_existing(path)
    if not above.is_dir():
        raise SitingError(
            f"cannot write {path}: {above} is a file, not a folder",
            "give a path in an existing folder, e.g. siting init my.toml",
        )
    if above != path.absolute().parent:
        raise SitingError(
            f"cannot write {path}: the folder {path.parent} does not exist",
            f"create it first (mkdir -p {path.parent}) or give a path in an existing folder",
        )
    try:
        written = write_template(path)
    except OSError as exc:
        raise SitingError(
            f"cannot write {path}: {exc.strerror}", "give a path in a folder you can write to"
        ) from None
    print(f"wrote {written}: edit it, then run 'siting run {written}'")
    return 0


def command() -> None:
    """The ``siting`` command itself (``main`` in a process of its own): after a Ctrl-C the
    process ends at once with 130, its outputs already settled, so that a KeyboardInterrupt that
    a library left pending cannot resurface while the interpreter shuts down and end it by the
    signal instead."""
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    command()
