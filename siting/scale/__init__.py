"""Scale-out: tiled rasters, basins and runs on a Dask cluster (``LocalCluster`` by default)."""
