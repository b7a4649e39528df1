"""The measured and predicted families: latency on a real device (coexplore.latency)."""
