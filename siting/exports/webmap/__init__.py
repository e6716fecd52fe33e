"""The offline web map (``map.html``): the Leaflet page and the vendored assets it inlines."""
