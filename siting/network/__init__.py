"""Road networks: a sparse matrix of travel times built from road lines or an osmnx graph,
shortest travel times over it, and the door-to-door travel time (network plus off-road leg) on
the grid."""
