"""Global Energy Monitor's Global Coal Mine Tracker (GCMT): read the CSV into the mine schema.

The tracker comes as two sheets, both readable here:

* the *non-closed* sheet (74 columns): operating, proposed, mothballed, shelved and cancelled
  mines, sometimes with several rows per mine (an operating row plus a proposed expansion);
* the *closed* sheet (46 columns, no ``Status`` column): every mine there is ``closed``.

Real-world quirks handled: decimal commas (``"53,784142"``, ``"2,25"``), empty cells, header
cells with line breaks (``"Mine Size\\n(Km2)"``), and the closed sheet's header bug where the
Country / Area column is labelled ``MSHA ID`` (found by its content, see :func:`read_gcmt_table`).

Data: Global Energy Monitor, Global Coal Mine Tracker, CC BY 4.0.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from siting.errors import LayerError, LayerNotFoundError
from siting.pipeline.cache import Step, memo

log = logging.getLogger("siting")

ID_COL = "GEM Mine ID"
NAME_COL = "Mine Name"
LAT_COL = "Latitude"
LON_COL = "Longitude"
STATUS_COL = "Status"
COUNTRY_COL = "Country / Area"
PROVINCE_COL = "State, Province"
LONLAT = "EPSG:4326"
REQUIRED = (ID_COL, NAME_COL, LAT_COL, LON_COL)

#: Columns of the tool's mine schema, in order (``boundary_source`` is added before
#: ``geometry`` when boundaries are joined).
SCHEMA = (
    "gem_id",
    "name",
    "name_ru",
    "operator",
    "capacity_mtpa",
    "output_mtpa",
    "status",
    "mine_type",
    "coal_grade",
    "district",
    "province",
    "country",
    "location_accuracy",
    "n_rows",
    "geometry",
)

#: Preference order for the row that describes the existing mine.
_STATUS_PREFERENCE = ("operating", "mothballed")

#: The statuses GEM gives a mine (lower-cased); a row with another one has shifted cells.
STATUSES = ("operating", "proposed", "mothballed", "shelved", "cancelled", "closed", "retired")

#: Columns whose cells are numbers (or empty) in every sheet; text there means shifted cells.
NUMBER_COLS = (
    LAT_COL,
    LON_COL,
    "Capacity (Mtpa)",
    "Production (Mtpa)",
    "Percentage of Met Coal",
    "Percentage of Thermal Coal",
)

_OPEN_PIT = re.compile(r"^(surface|open[\s_-]*pit|open[\s_-]*cast|opencast|strip)$")
_MET = re.compile(r"\bmet\b|metallurg|coking|\bcoke\b")
_THERMAL = re.compile(r"thermal|steam")
_EXPANSION = re.compile(r"expansion")
# " Coal Mine" ending the name proper: at the end, or before "(...)", "No. 2", "2", a comma.
_COAL_MINE_SUFFIX = re.compile(r"\s+coal\s+mine(?=$|\s*[(\[,;]|\s+(?:no\.?\s*)?\d)", re.IGNORECASE)
_MSHA = re.compile(r"^MSHA ID(\.\d+)?$")
_COUNTRY_VALUE = re.compile(r"^[^\W\d_][^\d]*$")


def _to_float(value: object) -> float:
    """Parse a GEM number: decimal comma or point, blanks → NaN, junk → NaN."""
    if value is None:
        return math.nan
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return math.nan
    # "1,234.5": the comma separates thousands; "53,784142": the comma is the decimal mark.
    text = text.replace(",", "") if "." in text else text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return math.nan


def _sniff_delimiter(path: Path, encoding: str) -> str:
    """The delimiter (comma, semicolon or tab) that splits the header into the most fields."""
    with path.open(encoding=encoding, newline="") as fh:
        header = fh.readline()
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d])


def _find_country_column(df: pd.DataFrame) -> str | None:
    """The column holding Country / Area, found by content in files whose header mislabels it.

    GEM's closed-mines sheet labels its 3rd column ``MSHA ID`` (pandas reads the duplicate as
    ``MSHA ID.1``) although it holds country names. Real MSHA IDs are numbers, so an
    ``MSHA ID`` column whose non-empty cells are all letter-words without digits is the country
    column.
    """
    for col in df.columns:
        if not _MSHA.match(col):
            continue
        values = df[col].str.strip()
        values = values[values != ""]
        if len(values) and values.map(lambda v: bool(_COUNTRY_VALUE.match(v))).all():
            return col
    return None


def read_gcmt_table(path: str | Path) -> pd.DataFrame:
    """Read a GCMT CSV as raw text cells, one row per CSV row, with a repaired header.

    Cells stay strings (empty cells are ``""``). Header cells have their whitespace collapsed
    (``"Mine Size\\n(Km2)"`` → ``"Mine Size (Km2)"``). When ``Country / Area`` is absent, a
    column labelled ``MSHA ID`` that holds country names is renamed to it (GEM's closed-mines
    sheet has this header bug).

    Parameters
    ----------
    path
        The CSV file (comma-, semicolon- or tab-separated, UTF-8 with or without BOM).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    LayerNotFoundError
        If the file does not exist.
    LayerError
        If the file is unreadable or lacks the columns :func:`read_gem` needs.
    """
    path = _tracker_file(path)
    try:
        sep = _sniff_delimiter(path, "utf-8-sig")
        df = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LayerError(
            f"GEM coal mine tracker: {path} is not UTF-8 text",
            "re-save the CSV with UTF-8 encoding",
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise LayerError(
            f"GEM coal mine tracker: cannot read {path}: {exc}",
            "give the tracker sheet saved as CSV",
        ) from None
    df.columns = [re.sub(r"\s+", " ", str(c)).strip() for c in df.columns]
    if COUNTRY_COL not in df.columns:
        country = _find_country_column(df)
        if country is not None:
            df = df.rename(columns={country: COUNTRY_COL})
    missing = [c for c in REQUIRED if c not in df.columns]
    if STATUS_COL not in df.columns and "Reason for Closure" not in df.columns:
        missing.append(STATUS_COL)  # only the closed-mines sheet may go without a Status
    if missing:
        raise LayerError(
            f"GEM coal mine tracker: {path} lacks column(s) {', '.join(map(repr, missing))}",
            "give the Global Coal Mine Tracker sheet with its original header row",
        )
    return df


def _mine_type(value: str | None) -> str | None:
    if value is None:
        return None
    low = re.sub(r"\s+", " ", value.lower())
    if _OPEN_PIT.match(low):
        return "open_pit"
    if low == "underground":
        return "underground"
    return low


def _coal_grade(grade: str | None, met_pct: float, thermal_pct: float) -> str | None:
    """Coking or thermal, see :func:`read_gem` for the rule."""
    if grade is None:
        return None
    low = grade.lower()
    met, thermal = bool(_MET.search(low)), bool(_THERMAL.search(low))
    if met and thermal:
        share = met_pct if not math.isnan(met_pct) else 100.0 - thermal_pct
        return "coking" if not math.isnan(share) and share >= 50.0 else "thermal"
    if met:
        return "coking"
    if thermal:
        return "thermal"
    return low


def clean_name(name: str) -> str:
    """A mine's name without GEM's " Coal Mine" where it ends the name proper, whitespace
    collapsed: "Raspadskaya Coal Mine" → "Raspadskaya", "Nikolsky Coal Mine (Sakhalin)" →
    "Nikolsky (Sakhalin)", "Taldinskaya-Zapadnaya Coal Mine No. 1" → "Taldinskaya-Zapadnaya
    No. 1"; "... Coal Mines" (a group) and a name that is only "Coal Mine" stay."""
    name = re.sub(r"\s+", " ", name).strip()
    return _COAL_MINE_SUFFIX.sub("", name) or name


def _cells(df: pd.DataFrame, col: str) -> pd.Series:
    """A text column with whitespace collapsed; empty cells (and a missing column) are NA."""
    if col not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype=object)
    text = df[col].astype(str).str.replace(r"\s+", " ", regex=True).str.strip()
    return text.where(text != "", pd.NA).astype(object)


def _numbers(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(math.nan, index=df.index)
    return df[col].map(_to_float).astype(float)


@dataclass(frozen=True)
class Tracker:
    """A tracker sheet parsed into one row per mine (before any status filter or boundary),
    with what was dropped and why; cached per file content (:data:`TRACKER`)."""

    mines: gpd.GeoDataFrame
    """The mines in the schema (:data:`SCHEMA`), EPSG:4326, in order of first appearance."""
    statuses: tuple[str, ...]
    """The statuses of the rows kept, sorted."""
    rows: int
    """Rows in the sheet."""
    dropped: tuple[tuple[str, str, str], ...]
    """(reason, detail, GEM Mine ID or row number) of every row or mine left out."""


# Why a row (or, last, a mine) is left out, in the order the warning lists them.
_REASONS = (
    f"no {ID_COL}",
    "an unknown status",
    "shifted cells, text in a number column",
    "no valid coordinates",
)


def _check_rows(df: pd.DataFrame, status: pd.Series) -> pd.Series:
    """Why each row is left out ("" if kept): no ID, or a shifted row, told by its types: a
    status that is not one of GEM's, or text in a column of numbers."""
    reason = pd.Series("", index=df.index, dtype=object)
    detail = pd.Series("", index=df.index, dtype=object)
    for col in NUMBER_COLS:
        if col not in df.columns:
            continue
        cells = df[col].str.strip()
        bad = (cells != "") & _numbers(df, col).isna() & (reason == "")
        reason[bad], detail[bad] = _REASONS[2], col
    unknown = ~status.isin(STATUSES) & (reason == "")
    reason[unknown], detail[unknown] = _REASONS[1], status[unknown].map(repr)
    no_id = df[ID_COL].str.strip() == ""
    reason[no_id], detail[no_id] = _REASONS[0], ""
    return reason.where(reason == "", reason + "\x1f" + detail)


def parse_tracker(path: Path) -> Tracker:
    """Read a tracker CSV into one row per mine, rows of the wrong types left out (the rules
    are in :func:`read_gem`); what :data:`TRACKER` caches.

    Raises
    ------
    LayerNotFoundError, LayerError
        As :func:`read_gem`.
    """
    df = read_gcmt_table(path)
    closed_sheet = STATUS_COL not in df.columns
    if closed_sheet:
        status = pd.Series("closed", index=df.index, dtype=object)
    else:
        status = _cells(df, STATUS_COL).fillna("").str.lower()
    why = _check_rows(df, status)
    lines = pd.Series(df.index + 2, index=df.index).astype(str)  # line in the file (header 1)
    row_ids = df[ID_COL].str.strip().where(df[ID_COL].str.strip() != "", "line " + lines)
    dropped = [
        (*w.split("\x1f"), i) for w, i in zip(why[why != ""], row_ids[why != ""], strict=True)
    ]
    keep = why == ""
    df, status = df[keep], status[keep]

    ids = df[ID_COL].str.strip()
    pos = pd.Series(range(len(df)), index=df.index)
    expansion = pd.Series(False, index=df.index)
    for col in ("Project Type", "Status Detail"):
        expansion |= _cells(df, col).fillna("").str.lower().str.contains(_EXPANSION)
    # The row that describes the existing mine: expansions set aside unless the mine has only
    # those; then the first operating row, else the first mothballed, else the first.
    candidate = ~expansion | expansion.groupby(ids).transform("all")
    preference = status.map({s: i for i, s in enumerate(_STATUS_PREFERENCE)}).fillna(9)
    ranked = pd.DataFrame({"id": ids, "pref": preference, "pos": pos})[candidate]
    kept_pos = ranked.sort_values(["pref", "pos"]).groupby("id", sort=False)["pos"].first()
    kept = pos.isin(kept_pos)
    # Each mine's rows with its kept row first, then in file order: "first non-empty" below.
    first_pos = pos.groupby(ids).transform("min")
    order = pd.DataFrame({"first": first_pos, "other": ~kept, "pos": pos}).sort_values(
        ["first", "other", "pos"]
    )
    df, ids, status, kept = (x.loc[order.index] for x in (df, ids, status, kept))
    groups = ids.groupby(ids, sort=False)

    def first(col: str) -> pd.Series:
        return _cells(df, col).groupby(ids, sort=False).first()

    def of_kept(values: pd.Series) -> pd.Series:
        return values[kept].set_axis(ids[kept])

    lat, lon = _numbers(df, LAT_COL), _numbers(df, LON_COL)
    valid = lat.between(-90.0, 90.0) & lon.between(-180.0, 180.0)
    coords = pd.DataFrame({"lon": lon, "lat": lat})[valid].groupby(ids[valid], sort=False).first()
    every = pd.Index(groups.size().index, name=None)
    no_coords = [str(i) for i in every if i not in coords.index]
    dropped += [(_REASONS[3], "", i) for i in no_coords]
    mines = pd.DataFrame(index=every.drop(no_coords))
    if len(mines.index) == 0:
        raise LayerError(
            f"GEM coal mine tracker: no mine in {path} has valid coordinates",
            "check the Latitude and Longitude columns (decimal degrees)",
        )
    capacity = of_kept(_numbers(df, "Capacity (Mtpa)")).reindex(mines.index)
    production = of_kept(_numbers(df, "Production (Mtpa)")).reindex(mines.index)
    met = of_kept(_numbers(df, "Percentage of Met Coal")).reindex(mines.index)
    thermal = of_kept(_numbers(df, "Percentage of Thermal Coal")).reindex(mines.index)
    names = of_kept(_cells(df, NAME_COL)).reindex(mines.index)
    grades = first("Coal Grade").reindex(mines.index)
    accuracy = first("Location Accuracy").reindex(mines.index)
    out = {
        "gem_id": mines.index.astype(str),
        "name": [clean_name(n) if isinstance(n, str) else str(i) for i, n in names.items()],
        "name_ru": first("Mine Name (Non-ENG)").reindex(mines.index),
        "operator": first("Owners").reindex(mines.index),
        "capacity_mtpa": capacity,
        "output_mtpa": production.fillna(capacity),
        "status": of_kept(status).reindex(mines.index),
        "mine_type": first("Mine Type").reindex(mines.index).map(_mine_type, na_action="ignore"),
        "coal_grade": [
            _coal_grade(g if isinstance(g, str) else None, m, t)
            for g, m, t in zip(grades, met, thermal, strict=True)
        ],
        "district": first("Prefecture, District").reindex(mines.index),
        "province": first(PROVINCE_COL).reindex(mines.index),
        "country": first(COUNTRY_COL).reindex(mines.index),
        "location_accuracy": accuracy.str.lower(),
        "n_rows": groups.size().reindex(mines.index).astype(int),
    }
    table = pd.DataFrame({k: list(v) for k, v in out.items()})
    for col in ("capacity_mtpa", "output_mtpa"):
        table[col] = table[col].astype(float)
    xy = coords.reindex(mines.index)
    gdf = gpd.GeoDataFrame(
        table, geometry=shapely.points(xy["lon"].to_numpy(), xy["lat"].to_numpy()), crs=LONLAT
    )
    return Tracker(gdf[list(SCHEMA)], tuple(sorted(set(status))), len(keep), tuple(dropped))


def _digest(path: Path) -> str:
    """The file's content hash: the tracker is parsed again only when the file changes."""
    try:
        h = hashlib.sha256()
        with Path(path).open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()
    except OSError as exc:
        raise LayerError(
            f"GEM coal mine tracker: cannot read {path}: {exc}", "give a readable CSV file"
        ) from None


#: Parsing a tracker sheet, cached by the file's content: the world sheet takes seconds.
TRACKER = Step("gem_tracker", parse_tracker, project={"path": _digest})


def _report(path: Path, tracker: Tracker) -> None:
    """One warning for what was dropped, counted by reason; every ID at DEBUG level."""
    if not tracker.dropped:
        return
    counts: dict[str, Counter[str]] = {reason: Counter() for reason in _REASONS}
    for reason, detail, _ in tracker.dropped:
        counts[reason][detail] += 1
    rows, parts = 0, []
    for reason in _REASONS[:-1]:
        n = sum(counts[reason].values())
        if n:
            rows += n
            details = sorted(counts[reason].items(), key=lambda dc: (-dc[1], dc[0]))
            shown = ", ".join(f"{d} {c}" for d, c in details[:4] if d)
            more = " …" if len(details) > 4 else ""
            parts.append(f"{n} with {reason}" + (f" ({shown}{more})" if shown else ""))
    text = [f"{rows} of {tracker.rows} row(s): {'; '.join(parts)}"] if rows else []
    if no_coords := sum(counts[_REASONS[-1]].values()):
        text.append(f"{no_coords} mine(s) with {_REASONS[-1]}")
    examples = ", ".join(i for _, _, i in tracker.dropped[:5])
    log.warning(
        "GEM coal mine tracker %s: dropped %s; kept %d mine(s) (e.g. dropped: %s%s; all IDs at "
        "DEBUG level)",
        path.name,
        "; and ".join(text),
        len(tracker.mines),
        examples,
        " …" if len(tracker.dropped) > 5 else "",
    )
    for reason, detail, gem_id in tracker.dropped:
        log.debug("GEM coal mine tracker %s: dropped %s: %s %s", path, gem_id, reason, detail)


def _read_boundaries(path: str | Path) -> gpd.GeoSeries:
    """GEM licence-boundary (multi)polygons, one per GEM Mine ID, in EPSG:4326."""
    path = Path(path)
    if not path.is_file():
        raise LayerNotFoundError(
            f"GEM mine boundaries: file not found: {path}",
            "give GEM's coal mine boundaries GeoJSON, or leave boundaries unset",
        )
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several error types for unreadable files
        raise LayerError(
            f"GEM mine boundaries: cannot read {path}: {exc}",
            "give GEM's coal mine boundaries GeoJSON",
        ) from None
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")  # GeoJSON default (RFC 7946)
    gdf = gdf.to_crs("EPSG:4326")
    if "mine feature category" in gdf.columns:
        category = gdf["mine feature category"].fillna("").str.strip().str.lower()
        gdf = gdf[category == "mine boundary"]
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"]) & ~gdf.geometry.is_empty]
    if ID_COL in gdf.columns:
        ids = gdf[ID_COL].fillna("").astype(str).str.strip()
    elif "id" in gdf.columns:
        ids = gdf["id"].fillna("").astype(str).str.extract(r"^(M\d+)", expand=False).fillna("")
    else:
        raise LayerError(
            f"GEM mine boundaries: {path} has no {ID_COL!r} or 'id' property",
            "give GEM's coal mine boundaries GeoJSON with its original properties",
        )
    gdf = gdf.assign(_gem_id=ids)
    gdf = gdf[gdf["_gem_id"] != ""]
    geoms = {
        gid: shapely.make_valid(shapely.union_all(group.geometry.values))
        for gid, group in gdf.groupby("_gem_id", sort=False)
    }
    return gpd.GeoSeries(geoms, crs="EPSG:4326")


def read_gem(
    path: str | Path, status: Iterable[str] | None = None, boundaries: str | Path | None = None
) -> gpd.GeoDataFrame:
    """Read a Global Coal Mine Tracker CSV as one row per mine in the tool's mine schema.

    Works for both GEM sheets: the non-closed sheet and the closed-mines sheet (which has no
    ``Status`` column, so every mine there is ``closed``, and no Production column on some
    exports). The parsed sheet is cached by the file's content (:data:`TRACKER`, in the run's
    cache when one is in use): the world sheet, seconds to parse, is parsed once per version.

    **Rows of the wrong types are left out.** A row whose ``Status`` is not one of GEM's
    (:data:`STATUSES`; e.g. "Russia", or empty: its cells shifted by a column), whose cells in
    a column of numbers (:data:`NUMBER_COLS`) hold text, or that has no ``GEM Mine ID`` is
    dropped; so is a mine none of whose rows has valid coordinates. One warning counts them by
    reason; the ID (or line) of each is logged at DEBUG level.

    **Several rows per mine.** GEM lists a mine's expansion projects as extra rows with the same
    ``GEM Mine ID`` (e.g. an ``Operating`` row plus a ``Proposed`` row whose ``Project Type`` is
    ``Expansion``). One row is kept per mine:

    1. rows whose ``Project Type`` or ``Status Detail`` says "expansion" describe a project,
       not the mine, and are set aside unless every row of the mine is one;
    2. among the remaining rows, the first ``operating`` row is kept, else the first
       ``mothballed`` row, else the first row in file order.

    The kept row gives the status, the capacity and the coordinates: an expansion never
    replaces the existing mine's status and never adds capacity that does not exist yet.
    Descriptive text fields (Russian name, owners, mine type, coal grade, district, province,
    country, location accuracy) come from the kept row, or from the mine's other rows where the
    kept row's cell is empty; so do the coordinates if the kept row has none.

    **Derived fields.**

    * ``name``: ``Mine Name`` with whitespace collapsed and without GEM's " Coal Mine" where it
      ends the name proper (:func:`clean_name`: "Raspadskaya Coal Mine" → "Raspadskaya",
      "Nikolsky Coal Mine (Sakhalin)" → "Nikolsky (Sakhalin)").
    * ``output_mtpa``: ``Production (Mtpa)`` if given, else ``capacity_mtpa``, else NaN.
    * ``mine_type``: "Surface", "Open Pit", "Opencast" → ``open_pit``; "Underground" →
      ``underground``; anything else lower-cased (e.g. ``underground & surface``).
    * ``coal_grade``: "Met", "Metallurgical", "Coking" → ``coking``; "Thermal" → ``thermal``;
      both named (e.g. "Thermal & Met") → ``coking`` if the met share is ≥ 50 %, else
      ``thermal``. The met share is ``Percentage of Met Coal``, else 100 − ``Percentage of
      Thermal Coal``; with neither given the mine counts as ``thermal``. Other grades are
      lower-cased; empty stays None.
    * ``province`` and ``country``: ``State, Province`` and ``Country / Area`` as written, for
      filters such as ``where = "province == 'Kemerovo'"``.
    * ``status`` and ``location_accuracy`` are lower-cased.

    Parameters
    ----------
    path
        The tracker CSV.
    status
        Keep only mines whose chosen status is one of these (case-insensitive). None keeps all.
    boundaries
        Optional GEM coal-mine boundaries GeoJSON. Mines with a feature of category
        "mine boundary" get the union of their polygons as geometry instead of the point; a
        ``boundary_source`` column says ``gem`` for those and ``point`` for the others.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, columns ``gem_id``, ``name``, ``name_ru``, ``operator``, ``capacity_mtpa``,
        ``output_mtpa``, ``status``, ``mine_type``, ``coal_grade``, ``district``,
        ``province``, ``country``, ``location_accuracy``, ``n_rows`` (number of CSV rows of
        the mine kept), [``boundary_source``], ``geometry``; in order of each mine's first
        appearance in the file.

    Raises
    ------
    LayerNotFoundError
        If a file does not exist.
    LayerError
        If a file is unreadable, the CSV lacks a needed column, the status filter
        names a status not found in the file, or no mine has coordinates.
    """
    path = _tracker_file(path)
    tracker = memo(TRACKER, f"GEM tracker {path.name}", path=path)
    _report(path, tracker)
    gdf = tracker.mines.copy()

    if status is not None:
        if isinstance(status, str):
            status = [status]
        wanted = {str(s).strip().lower() for s in status}
        unknown = sorted(wanted - set(tracker.statuses))
        if unknown:
            raise LayerError(
                f"GEM coal mine tracker: unknown status {', '.join(map(repr, unknown))} for {path}",
                f"use one of the statuses found in the file: {', '.join(tracker.statuses)}",
            )
        gdf = gdf[gdf["status"].isin(wanted)].reset_index(drop=True)

    if boundaries is not None:
        polygons = _read_boundaries(boundaries)
        has_polygon = gdf["gem_id"].isin(polygons.index)
        gdf["boundary_source"] = has_polygon.map({True: "gem", False: "point"})
        if has_polygon.any():
            gdf.loc[has_polygon, "geometry"] = polygons.loc[gdf.loc[has_polygon, "gem_id"]].values
        unmatched = sorted(set(polygons.index) - set(gdf["gem_id"]))
        if unmatched:
            log.info(
                "GEM mine boundaries: %d boundary mine(s) not among the mines read (IDs at "
                "DEBUG level)",
                len(unmatched),
            )
            log.debug("GEM mine boundaries: not among the mines read: %s", ", ".join(unmatched))
        columns = [*SCHEMA[:-1], "boundary_source", "geometry"]
    else:
        columns = list(SCHEMA)
    return gdf[columns]


def _tracker_file(path: str | Path) -> Path:
    """``path`` as a Path, if the tracker file is there."""
    path = Path(path)
    if not path.is_file():
        raise LayerNotFoundError(
            f"GEM coal mine tracker: file not found: {path}",
            "download the Global Coal Mine Tracker CSV from globalenergymonitor.org "
            "and give its path",
        )
    return path
