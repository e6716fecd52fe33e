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
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from siting.errors import LayerError, LayerNotFoundError

log = logging.getLogger("siting")

ID_COL = "GEM Mine ID"
NAME_COL = "Mine Name"
LAT_COL = "Latitude"
LON_COL = "Longitude"
STATUS_COL = "Status"
COUNTRY_COL = "Country / Area"
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
    "location_accuracy",
    "n_rows",
    "geometry",
)

#: Preference order for the row that describes the existing mine.
_STATUS_PREFERENCE = ("operating", "mothballed")

_OPEN_PIT = re.compile(r"^(surface|open[\s_-]*pit|open[\s_-]*cast|opencast|strip)$")
_MET = re.compile(r"\bmet\b|metallurg|coking|\bcoke\b")
_THERMAL = re.compile(r"thermal|steam")
_EXPANSION = re.compile(r"expansion")
_COAL_MINE_SUFFIX = re.compile(r"\s+coal\s+mine$", re.IGNORECASE)
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


def _text(value: object) -> str | None:
    """Strip a cell; empty cells become None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


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
    path = Path(path)
    if not path.is_file():
        raise LayerNotFoundError(
            f"GEM coal mine tracker: file not found: {path}",
            "download the Global Coal Mine Tracker CSV from globalenergymonitor.org "
            "and give its path",
        )
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


def _status(row: pd.Series, closed_sheet: bool) -> str:
    if closed_sheet:
        return "closed"
    return (_text(row.get(STATUS_COL)) or "unknown").lower()


def _is_expansion(row: pd.Series) -> bool:
    """A row describing an expansion project of an existing mine, not the mine itself."""
    fields = (row.get("Project Type"), row.get("Status Detail"))
    return any(_EXPANSION.search((_text(f) or "").lower()) for f in fields)


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


def _choose_row(rows: pd.DataFrame, closed_sheet: bool) -> int:
    """Index label of the row describing the existing mine (rule in :func:`read_gem`)."""
    existing = [i for i, r in rows.iterrows() if not _is_expansion(r)]
    candidates = existing or list(rows.index)
    statuses = {i: _status(rows.loc[i], closed_sheet) for i in candidates}
    for wanted in _STATUS_PREFERENCE:
        for i in candidates:
            if statuses[i] == wanted:
                return i
    return candidates[0]


def _first_text(rows: pd.DataFrame, kept: int, col: str) -> str | None:
    """The kept row's cell, or the first non-empty one among the mine's other rows."""
    if col not in rows.columns:
        return None
    order = [kept, *[i for i in rows.index if i != kept]]
    for i in order:
        value = _text(rows.at[i, col])
        if value is not None:
            return value
    return None


def _coords(rows: pd.DataFrame, kept: int) -> tuple[float, float] | None:
    """(lon, lat) of the kept row, else of the first other row with valid coordinates."""
    order = [kept, *[i for i in rows.index if i != kept]]
    for i in order:
        lat, lon = _to_float(rows.at[i, LAT_COL]), _to_float(rows.at[i, LON_COL])
        if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
            return lon, lat
    return None


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
    exports).

    **Several rows per mine.** GEM lists a mine's expansion projects as extra rows with the same
    ``GEM Mine ID`` (e.g. an ``Operating`` row plus a ``Proposed`` row whose ``Project Type`` is
    ``Expansion``). One row is kept per mine:

    1. rows whose ``Project Type`` or ``Status Detail`` says "expansion" describe a project,
       not the mine, and are set aside unless every row of the mine is one;
    2. among the remaining rows, the first ``operating`` row is kept, else the first
       ``mothballed`` row, else the first row in file order.

    The kept row gives the status, the capacity and the coordinates: an expansion never
    replaces the existing mine's status and never adds capacity that does not exist yet.
    Descriptive text fields (Russian name, owners, mine type, coal grade, district, location
    accuracy) come from the kept row, or from the mine's other rows where the kept row's cell is
    empty; so do the coordinates if the kept row has none.

    **Derived fields.**

    * ``name``: ``Mine Name`` without a trailing " Coal Mine" ("Raspadskaya Coal Mine" →
      "Raspadskaya").
    * ``output_mtpa``: ``Production (Mtpa)`` if given, else ``capacity_mtpa``, else NaN.
    * ``mine_type``: "Surface", "Open Pit", "Opencast" → ``open_pit``; "Underground" →
      ``underground``; anything else lower-cased (e.g. ``underground & surface``).
    * ``coal_grade``: "Met", "Metallurgical", "Coking" → ``coking``; "Thermal" → ``thermal``;
      both named (e.g. "Thermal & Met") → ``coking`` if the met share is ≥ 50 %, else
      ``thermal``. The met share is ``Percentage of Met Coal``, else 100 − ``Percentage of
      Thermal Coal``; with neither given the mine counts as ``thermal``. Other grades are
      lower-cased; empty stays None.
    * ``status`` and ``location_accuracy`` are lower-cased; an empty status is ``unknown``.

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
        ``location_accuracy``, ``n_rows`` (number of CSV rows of the mine), [``boundary_source``],
        ``geometry``; in order of each mine's first appearance in the file.

    Raises
    ------
    LayerNotFoundError
        If a file does not exist.
    LayerError
        If a file is unreadable, the CSV lacks a needed column, the status filter
        names a status not found in the file, or no mine has coordinates. Mines without
        coordinates are dropped with a warning.
    """
    df = read_gcmt_table(path)
    closed_sheet = STATUS_COL not in df.columns

    wanted: set[str] | None = None
    if status is not None:
        if isinstance(status, str):
            status = [status]
        wanted = {str(s).strip().lower() for s in status}
        found = {"closed"} if closed_sheet else {_status(r, False) for _, r in df.iterrows()}
        unknown = sorted(wanted - found)
        if unknown:
            raise LayerError(
                f"GEM coal mine tracker: unknown status {', '.join(map(repr, unknown))} for {path}",
                f"use one of the statuses found in the file: {', '.join(sorted(found))}",
            )

    ids = df[ID_COL].str.strip()
    if (ids == "").any():
        log.warning(
            "GEM coal mine tracker %s: dropped %d row(s) without a %s",
            path,
            int((ids == "").sum()),
            ID_COL,
        )
    df = df.assign(**{ID_COL: ids})[ids != ""]

    records = []
    no_coords = []
    for gem_id, rows in df.groupby(ID_COL, sort=False):
        kept = _choose_row(rows, closed_sheet)
        row = rows.loc[kept]
        coords = _coords(rows, kept)
        if coords is None:
            no_coords.append(str(gem_id))
            continue
        capacity = _to_float(row.get("Capacity (Mtpa)"))
        production = _to_float(row.get("Production (Mtpa)"))
        name = _text(row[NAME_COL]) or str(gem_id)
        location_accuracy = _first_text(rows, kept, "Location Accuracy")
        records.append(
            {
                "gem_id": str(gem_id),
                "name": _COAL_MINE_SUFFIX.sub("", name),
                "name_ru": _first_text(rows, kept, "Mine Name (Non-ENG)"),
                "operator": _first_text(rows, kept, "Owners"),
                "capacity_mtpa": capacity,
                "output_mtpa": production if not math.isnan(production) else capacity,
                "status": _status(row, closed_sheet),
                "mine_type": _mine_type(_first_text(rows, kept, "Mine Type")),
                "coal_grade": _coal_grade(
                    _first_text(rows, kept, "Coal Grade"),
                    _to_float(row.get("Percentage of Met Coal")),
                    _to_float(row.get("Percentage of Thermal Coal")),
                ),
                "district": _first_text(rows, kept, "Prefecture, District"),
                "location_accuracy": location_accuracy.lower() if location_accuracy else None,
                "n_rows": len(rows),
                "geometry": shapely.Point(*coords),
            }
        )
    if no_coords:
        log.warning(
            "GEM coal mine tracker %s: dropped %d mine(s) without valid coordinates: %s",
            path,
            len(no_coords),
            ", ".join(no_coords),
        )
    if not records:
        raise LayerError(
            f"GEM coal mine tracker: no mine in {path} has valid coordinates",
            "check the Latitude and Longitude columns (decimal degrees)",
        )

    gdf = gpd.GeoDataFrame(pd.DataFrame.from_records(records), geometry="geometry", crs="EPSG:4326")
    gdf["capacity_mtpa"] = gdf["capacity_mtpa"].astype(float)
    gdf["output_mtpa"] = gdf["output_mtpa"].astype(float)
    gdf["n_rows"] = gdf["n_rows"].astype(int)
    if wanted is not None:
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
                "GEM mine boundaries: %d boundary mine(s) not among the mines read: %s",
                len(unmatched),
                ", ".join(unmatched),
            )
        columns = [*SCHEMA[:-1], "boundary_source", "geometry"]
    else:
        columns = list(SCHEMA)
    return gdf[columns]
