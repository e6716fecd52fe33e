"""Road networks: a graph from road lines, shortest travel times over it, and the door-to-door
travel time (network plus off-road leg) on the grid."""
