"""What-if questions on runs: comparisons of two runs, batches of scenarios and weight
sensitivity."""
