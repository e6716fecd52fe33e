"""siting's QGIS plugin: a Processing provider whose algorithms run the ``siting`` command.

QGIS's Python cannot import siting's environment (GDAL, numba, pydantic … of another Python),
so nothing here imports :mod:`siting`: the algorithms start the installed ``siting`` command in
a subprocess. This folder is copied into a QGIS plugins folder by ``siting qgis-plugin install``
(or zipped for QGIS's plugin manager by ``siting qgis-plugin zip``); siting never imports it.
"""


def classFactory(iface):
    """The plugin object QGIS starts (``iface`` is None in a headless QGIS)."""
    from .provider import SitingPlugin

    return SitingPlugin(iface)
