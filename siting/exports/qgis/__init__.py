"""The QGIS project (``siting.qgz``) and the QML/SLD styles of every layer."""
