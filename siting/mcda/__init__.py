"""Multi-criteria decision analysis: criteria rasters, standardisation, weights, exclusions,
suitability and the proposed sites."""
