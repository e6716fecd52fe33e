"""Input layers: reading, repairing, reprojecting and clipping them; scenario edits; data sources
(Global Coal Mine Tracker, OpenStreetMap, OR-Library)."""
