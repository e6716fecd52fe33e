"""Install siting's QGIS plugin (a Processing provider) into a QGIS plugins folder, or zip it
for QGIS's plugin manager (``siting qgis-plugin install|zip``).

The plugin itself lives in ``siting/exports/qgis/plugin/`` and is never imported here: it imports
``qgis``, which siting's environment lacks. It calls the ``siting`` command in a subprocess; the
path of this environment's command is written beside it (``siting_command.txt``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from siting.errors import SitingError

SOURCE = Path(__file__).resolve().parent / "exports" / "qgis" / "plugin"
# The folder name in QGIS's plugins folder, i.e. the Python package QGIS imports.
PLUGIN_NAME = "siting_processing"
# The first line of the plugin's metadata.txt: a folder carrying it may be replaced.
MARKER = "; siting-plugin:"
COMMAND_FILE = "siting_command.txt"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", COMMAND_FILE)


def default_plugins_dir() -> Path:
    """The ``python/plugins`` folder of QGIS 3's default profile on this system."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "QGIS" / "QGIS3"
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support" / "QGIS" / "QGIS3"
    else:
        data = os.environ.get("XDG_DATA_HOME") or home / ".local" / "share"
        base = Path(data) / "QGIS" / "QGIS3"
    return base / "profiles" / "default" / "python" / "plugins"


def siting_command() -> Path:
    """The ``siting`` executable of this environment (beside its Python)."""
    here = Path(sys.executable).parent
    for name in ("siting", "siting.exe"):
        if (here / name).is_file():
            return here / name
    found = shutil.which("siting")
    if found is None:
        raise SitingError(
            f"cannot find the siting command of this environment (not in {here}, not on PATH)",
            "install siting (pip install .) and run 'siting qgis-plugin install' from it, or "
            "set SITING_COMMAND for QGIS to the path of a siting executable",
        )
    return Path(found).absolute()


def _is_ours(folder: Path) -> bool:
    metadata = folder / "metadata.txt"
    if not metadata.is_file():
        return False
    with metadata.open(encoding="utf-8", errors="replace") as f:
        return f.readline().startswith(MARKER)


def install(plugins_dir: Path | None = None) -> Path:
    """Copy the plugin into ``plugins_dir`` (default: :func:`default_plugins_dir`) as
    ``siting_processing/``, with the path of this environment's ``siting`` command.

    A previous ``siting_processing/`` is replaced only if it is this plugin (its metadata.txt
    starts with the marker); the copy is made beside it first, so nothing is half-written.

    Returns
    -------
    Path
        The installed plugin folder.
    """
    plugins = Path(plugins_dir) if plugins_dir is not None else default_plugins_dir()
    if plugins.exists() and not plugins.is_dir():
        raise SitingError(
            f"cannot install the QGIS plugin into {plugins}: it is a file, not a folder",
            "give --plugins-dir a folder (QGIS's profile folder python/plugins)",
        )
    target = plugins / PLUGIN_NAME
    if os.path.lexists(target) and not (target.is_dir() and _is_ours(target)):
        raise SitingError(
            f"{target} exists and is not siting's QGIS plugin (no {MARKER!r} metadata.txt): "
            "nothing replaced",
            "move or delete that folder, or give another --plugins-dir",
        )
    command = siting_command()
    plugins.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{PLUGIN_NAME}-", dir=plugins))
    try:
        copy = staging / PLUGIN_NAME
        shutil.copytree(SOURCE, copy, ignore=_IGNORED)
        (copy / COMMAND_FILE).write_text(f"{command}\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        copy.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def zip_plugin(path: Path) -> Path:
    """Write the plugin as a zip for QGIS's plugin manager ("Install from ZIP"), with the path
    of this environment's ``siting`` command (used if it exists where QGIS runs; else QGIS's
    $SITING_COMMAND or the PATH's ``siting``)."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise SitingError(f"{path}: the plugin zip must end in .zip", "e.g. siting_qgis.zip")
    if not path.absolute().parent.is_dir():
        raise SitingError(
            f"cannot write {path}: the folder {path.parent} does not exist", "create it first"
        )
    command = siting_command()
    files = sorted(
        f
        for f in SOURCE.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"
    )
    partial = path.with_name(f".{path.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(f, f"{PLUGIN_NAME}/{f.relative_to(SOURCE).as_posix()}")
        z.writestr(f"{PLUGIN_NAME}/{COMMAND_FILE}", f"{command}\n")
    partial.replace(path)
    return path
