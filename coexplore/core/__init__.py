"""The generic core: metrics (SI units), specs, rewards, candidate records, the evaluator."""
