"""Scenario files are data, not code: ``where`` filters are a restricted expression language
(:mod:`siting.inputs.expression`), never handed to pandas' ``query``/``eval``.

Hostile and odd filters are refused with one message naming the scenario key and a fix saying
what a filter may hold, and no command runs (no file appears, in the test's folder or in the
working directory). Allowed filters select exactly the rows pandas' ``query`` selects on the
same frame: the filters of the shipped scenario, and the GEM tracker's region fields.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import siting
from siting.errors import ScenarioError
from siting.inputs.expression import ALLOWED, parse, select
from siting.inputs.sources.gem import read_gem

from clitools import assert_nothing_written, assert_scenario_error, cli_here, edit
from conftest import SHARED

KUZBASS = Path(__file__).resolve().parents[1] / "layers" / "kuzbass" / "scenario.toml"

# A fragment of the fix every refusal carries: what a filter may hold.
ALLOWED_FRAGMENT = "a filter may use the layer's fields"


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["Raspadskaya", "Bachatsky", "Taldinsky Coal Mine", "Kedrovsky", "Mine a@b"],
            "status": ["operating", "closed", "operating", "proposed", "operating"],
            "output": [5.0, np.nan, 2.0, 0.0, 12.5],
            "n": [1, 2, 3, 4, 5],
            "flag": [True, False, True, False, False],
            "State, Province": ["Kemerovo", "Khakassia", "Kemerovo", "", "Tyva"],
        }
    )


# --- Hostile and odd filters: refused, naming the key and what is allowed, nothing run ---------

HOSTILE = [
    # (key, filter, what the message says is wrong)
    (
        "layers.mines.where",
        'name.str.len() > 0 and @pd.io.common.os.system("touch pwned") == 0',
        "@",
    ),
    ("update[2].where", "@pd.io.common.os.system('touch pwned') == 0", "@"),
    ("remove[0].where", "`name` @ 2 == 0", "@"),
    ("layers.mines.where", "__import__('os').system('touch pwned') == 0", "not allowed"),
    ("layers.mines.where", "open('pwned', 'w').write('x') > 0", ".write() is not allowed"),
    ("layers.mines.where", "open('pwned', 'w') == 0", "calling open()"),
    ("layers.mines.where", "exec(\"import os; os.system('touch pwned')\") == 0", "calling exec()"),
    ("layers.mines.where", "eval('1') == 1", "calling eval()"),
    ("layers.mines.where", "globals()['os'] == 1", "indexing"),
    ("models.covering.existing_where", "name.__class__ == 1", "attribute .__class__"),
    (
        "profiles.technopark.criteria[0].where",
        "name.__class__.__mro__[1].__subclasses__() == 1",
        "not allowed",
    ),
    ("layers.mines.where", "(lambda: __import__('os'))() == 0", "calling this()"),
    ("layers.mines.where", "[c for c in name] == 1", "comprehensions"),
    ("layers.mines.where", "name.apply(print) == 1", ".apply() is not allowed"),
    ("layers.mines.where", "name.pipe(print) == 1", ".pipe() is not allowed"),
    ("layers.mines.where", "name.values.tofile('pwned') == 1", ".tofile() is not allowed"),
    ("layers.mines.where", "output.__add__(1) > 0", ".__add__() is not allowed"),
    ("layers.mines.where", "name.str.cat(sep='x') == 'x'", ".str.cat() is not allowed"),
    ("layers.mines.where", "name.str.contains('x', flags=2)", "no argument 'flags'"),
    ("layers.mines.where", "name.str.startswith(status)", "must be literal values"),
    ("layers.mines.where", "name[0] == 'R'", "indexing"),
    ("layers.mines.where", "f'{name}' == 'x'", "f-strings"),
    ("layers.mines.where", "(x := 1) == 1", ":="),
    ("layers.mines.where", "name if flag else status", "if ... else"),
    ("layers.mines.where", "output ** 99999999 > 1", "**"),
    ("layers.mines.where", "{'a': 1} == status", "dictionaries"),
    ("layers.mines.where", "status is 'operating'", "is is not part"),
    ("layers.mines.where", "status == None", ".isna()"),
    ("layers.mines.where", "'x' in name", "in needs a list"),
    ("layers.mines.where", "status == 'operating' or", "invalid syntax"),
    ("layers.mines.where", "`name == 'x'", "not closed"),
    ("layers.mines.where", "-" * 3000 + "output > 1", "nested"),
    ("layers.mines.where", "+".join(["n"] * 2000) + " > 1", "nested"),
    ("layers.mines.where", "n > 1 or " * 700 + "n > 1", "longer than"),
    ("layers.mines.where", "   ", "empty"),
    ("layers.mines.where", "n\x00 > 1", "null bytes"),
]


@pytest.mark.parametrize(("key", "text", "reason"), HOSTILE)
def test_hostile_filter_is_refused_and_runs_nothing(
    key: str,
    text: str,
    reason: str,
    frame: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # where `touch pwned` would write
    before = _files(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        select(frame, text, key)
    message = caught.value.message
    assert message.startswith(f"{key} = "), message
    assert "is not an allowed filter" in message
    assert reason in message, message
    assert caught.value.fix == ALLOWED
    assert ALLOWED_FRAGMENT in caught.value.fix
    assert "\n" not in message and len(message) < 600  # one line, even for a 5000-char filter
    assert _files(tmp_path) == before
    # Parsing alone (what loading a scenario does) refuses it the same way.
    with pytest.raises(ScenarioError) as again:
        parse(text, key)
    assert again.value.message == message


def test_at_sign_inside_quotes_is_text(frame: pd.DataFrame) -> None:
    assert select(frame, "name == 'Mine a@b'", "k").tolist() == [False] * 4 + [True]


ODD = [
    # Filters that parse but cannot be computed on the layer: a keyed message with the fix.
    ("output > '5'", "compares different kinds of value"),
    ("status == 5", "compares different kinds of value"),
    ("status in ['operating', 3]", "compares different kinds of value"),
    ("output and status == 'closed'", "and needs conditions"),
    ("n > 1 & n < 4", "put each condition in parentheses"),
    ("output", "not true or false for each feature"),
    ("name.str.lower()", "not true or false for each feature"),
    ("output.str.len() > 1", ".str.len() needs text"),
    ("status + 1 > 2", "+ needs numbers"),
    ("name.str.contains('(')", "bad regular expression"),
]


@pytest.mark.parametrize(("text", "reason"), ODD)
def test_filter_that_cannot_be_computed_names_the_key(
    text: str, reason: str, frame: pd.DataFrame
) -> None:
    with pytest.raises(ScenarioError) as caught:
        select(frame, text, "layers.mines.where")
    assert caught.value.message.startswith(f"layers.mines.where = {text!r} cannot be evaluated")
    assert reason in caught.value.message + (caught.value.fix or "")
    assert caught.value.fix


def test_unknown_field_suggests_the_right_one(frame: pd.DataFrame) -> None:
    with pytest.raises(ScenarioError) as caught:
        select(frame, "stauts == 'operating'", "update[2].where")
    assert "update[2].where" in caught.value.message
    assert "no field 'stauts'" in caught.value.message
    assert "did you mean 'status'?" in (caught.value.fix or "")
    assert "'State, Province'" in (caught.value.fix or "")
    # A value written without quotes: the fix says to quote it.
    with pytest.raises(ScenarioError) as caught:
        select(frame, "status == operating", "layers.mines.where")
    assert "put it in quotes: 'operating'" in (caught.value.fix or "")


def test_a_filter_that_names_no_field_is_refused() -> None:
    """A quoted field name makes a constant: pandas would select all rows or none, silently."""
    with pytest.raises(ScenarioError) as caught:
        parse("'status' == 'operating'", "layers.mines.where")
    assert "names no field of the layer" in caught.value.message
    assert "without quotes" in (caught.value.fix or "")


# --- Through the scenario file and the command ------------------------------------------------


def test_loading_refuses_a_hostile_layer_filter_in_milliseconds(world: Path) -> None:
    path = edit(
        world,
        'fields = { output = "output_mtpa" }',
        'fields = { output = "output_mtpa" }\n'
        "where = 'name.str.len() > 0 and @pd.io.common.os.system(\"touch pwned\") == 0'",
    )
    error = assert_scenario_error(path, "layers.mines.where = ", "@", "not an allowed filter")
    assert ALLOWED_FRAGMENT in (error.fix or "")


def test_loading_names_the_key_of_each_kind_of_filter(world: Path) -> None:
    path = edit(world, "where = \"kind == 'ugle_naukograd'\"", "where = \"kind.__class__ == 'x'\"")
    assert_scenario_error(path, "profiles.technopark.criteria[0].where", "__class__")
    text = (world / "scenario.toml").read_text()
    (world / "scenario.toml").write_text(
        text.replace("where = \"kind.__class__ == 'x'\"", "where = \"kind == 'ugle_naukograd'\"")
        + "\n[[update]]\nlayer = 'mines'\nwhere = \"name == 'M1'\"\nvalues = { status = 'x' }\n"
        + "\n[[update]]\nlayer = 'mines'\nids = ['M1']\nvalues = { status = 'y' }\n"
        + "\n[[update]]\nlayer = 'mines'\nwhere = \"eval('1') == 1\"\nvalues = { status = 'z' }\n"
    )
    assert_scenario_error(world / "scenario.toml", "update[2].where", "calling eval()")


def test_command_refuses_a_hostile_filter_and_runs_nothing(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(world)
    before = _files(world.parent)
    path = edit(
        world,
        "where = \"kind == 'ugle_naukograd'\"",
        "where = 'kind.str.len() > 0 and @pd.io.common.os.system(\"touch pwned\") == 0'",
    )
    proc = cli_here("run", path)
    assert proc.returncode == 2
    assert "siting: error: profiles.technopark.criteria[0].where = " in proc.stderr
    assert "fix: " + ALLOWED_FRAGMENT in proc.stderr
    assert "Traceback" not in proc.stderr
    assert_nothing_written(world)
    assert _files(world.parent) == before  # no pwned, no output, nothing else


def test_command_names_an_unknown_field_of_an_edit_before_the_computation(world: Path) -> None:
    path = world / "scenario.toml"
    path.write_text(
        path.read_text()
        + "\n[[remove]]\nlayer = 'mines'\nwhere = \"outptu > 100\"\n"
        + "\n[[update]]\nlayer = 'mines'\nwhere = \"output > 0\"\nvalues = { status = 'x' }\n"
    )
    proc = cli_here("run", path)
    assert proc.returncode == 2
    assert "remove[0].where = 'outptu > 100' cannot be evaluated" in proc.stderr
    assert "did you mean 'output'?" in proc.stderr
    assert_nothing_written(world)


# --- Allowed filters select what pandas' query selects ------------------------------------------

ALLOWED_FILTERS = [
    "status == 'operating'",
    "status != 'operating'",
    "status == 'operating' and output > 0",
    "status == 'closed' or output >= 5",
    "not (status == 'closed')",
    "status in ['operating', 'closed']",
    "status not in ['operating']",
    "status == ['proposed', 'closed']",
    "1 < n <= 4",
    "output * 2 + 1 > 5",
    "output / 2 - 1 >= 0",
    "-output < -1",
    "n > -2",
    "(n > 1) & (n < 5)",
    "(n == 1) | ~(output > 1)",
    "flag",
    "flag == True and n > 2",
    "name.str.len() > 9",
    "name.str.contains('sky')",
    "name.str.contains('SKY', case=False)",
    "name.str.contains('a@b', regex=False)",
    "name.str.startswith('Ra')",
    "name.str.lower().str.startswith('k')",
    "name.str.upper() == 'BACHATSKY'",
    "name.str.strip() == 'Kedrovsky'",
    "output.isna()",
    "output.notna() and status == 'operating'",
    "`State, Province` == 'Kemerovo'",
    "`State, Province` in ['Kemerovo', 'Tyva'] and n >= 3",
    'name == "Mine a@b"',
]


@pytest.mark.parametrize("text", ALLOWED_FILTERS)
def test_allowed_filter_selects_what_pandas_query_selects(text: str, frame: pd.DataFrame) -> None:
    mask = select(frame, text, "layers.mines.where")
    assert mask.dtype == bool
    assert mask.index.equals(frame.index)
    assert frame.index[mask].tolist() == frame.query(text).index.tolist()


def test_startswith_a_list_of_prefixes(frame: pd.DataFrame) -> None:
    """As pandas' ``Series.str.endswith(tuple)`` (its ``query`` turns the tuple into a list and
    fails)."""
    expected = frame["name"].str.endswith(("sky", "Mine")).tolist()
    assert expected == [False, True, True, True, False]
    assert select(frame, "name.str.endswith(('sky', 'Mine'))", "k").tolist() == expected
    assert select(frame, "name.str.endswith(['sky', 'Mine'])", "k").tolist() == expected


def test_missing_values_never_match(frame: pd.DataFrame) -> None:
    """A missing text contains nothing (pandas' query fails on the NaN instead); a missing
    number fails every comparison, as in pandas."""
    frame.loc[1, "name"] = None
    assert select(frame, "name.str.contains('a')", "k").tolist() == [True, False, True, False, True]
    assert select(frame, "name.isna()", "k").tolist() == [False, True, False, False, False]
    assert select(frame, "output > -1", "k").tolist() == [True, False, True, True, True]
    assert select(frame, "not (output > -1)", "k").tolist() == [False, True, False, False, False]
    # A nullable integer column with a missing value: the comparison is false there.
    frame["m"] = pd.array([1, None, 3, 4, 5], dtype="Int64")
    assert select(frame, "m >= 3", "k").tolist() == [False, False, True, True, True]


def test_every_filter_of_the_shipped_scenario_selects_what_pandas_did() -> None:
    """The embedded Kuzbass scenario's filters, on its own layers, give the same rows as the
    pandas query they were written for."""
    scenario = siting.load(KUZBASS)
    filters = [(name, spec.where) for name, spec in scenario.layers.items() if spec.where]
    for profile in scenario.profiles.values():
        filters += [(c.layer, c.where) for c in profile.criteria if c.where]
        filters += [(e.layer, e.where) for e in profile.exclusions if e.where]
    if scenario.covering is not None and scenario.covering.existing_where:
        filters.append((scenario.covering.existing, scenario.covering.existing_where))
    allocation = scenario.allocation
    if allocation is not None and allocation.existing and allocation.existing_where:
        filters.append((allocation.existing, allocation.existing_where))
    chain = scenario.chain
    if chain is not None:
        for layer, text in (
            (chain.markets, chain.markets_where),
            (chain.existing, chain.prep_existing_where),
            (chain.existing, chain.coke_existing_where),
        ):
            if layer and text:
                filters.append((layer, text))
    assert len(filters) == len(
        [line for line in KUZBASS.read_text().splitlines() if "where = " in line]
    )
    assert scenario.layers["mines"].where == "status == 'operating'"
    frames: dict[str, gpd.GeoDataFrame] = {}
    for layer, text in filters:
        if layer not in frames:
            spec = scenario.layers[layer]
            gdf = gpd.read_file(spec.path)
            frames[layer] = gdf.rename(columns={v: k for k, v in spec.fields.items()})
        gdf = frames[layer]
        mask = select(gdf, text, f"{layer}.where")
        expected = gdf.query(text).index.tolist()
        assert gdf.index[mask].tolist() == expected, text
        assert 0 < len(expected) < len(gdf), text  # each filter does select something


def test_region_fields_of_the_gem_tracker_filter_like_pandas() -> None:
    """``province`` and ``country`` are kept, so a world or national sheet can be cut to a
    region by ``where``."""
    mines = read_gem(SHARED / "russia" / "gcmt_non_closed_russia.csv")
    for text in (
        "province == 'Kemerovo'",
        "province in ['Khakassia', 'Krasnoyarsk'] and status == 'operating'",
        "country == 'Russia' and province != 'Kemerovo'",
        "province.str.startswith('Kem') and output_mtpa > 1",
    ):
        mask = select(mines, text, "layers.mines.where")
        assert mines.index[mask].tolist() == mines.query(text).index.tolist(), text
        assert mask.any(), text
    kemerovo = mines[select(mines, "province == 'Kemerovo'", "k")]
    assert set(kemerovo["country"]) == {"Russia"}
    # Raspadskaya (M0836) lies in Kemerovo; Abakansky (M1372) in Khakassia.
    assert "M0836" in set(kemerovo["gem_id"]) and "M1372" not in set(kemerovo["gem_id"])
