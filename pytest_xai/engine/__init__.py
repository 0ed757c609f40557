"""The explanation engine: pure batched functions (segment, sample, perturb, weigh, solve)."""
