"""The raster template and what is computed on it cell by cell: grid, terrain, friction and
cost-distance (with its Dijkstra kernel)."""
