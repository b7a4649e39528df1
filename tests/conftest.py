import os

# Tests never reach the network: W&B stays off unless a test turns it on explicitly.
os.environ.setdefault("WANDB_MODE", "disabled")
