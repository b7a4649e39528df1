"""The slow phase: train surviving candidates (trainer, accuracy oracles), cache the results,
and spread the work over processes or a Ray cluster (executors)."""
