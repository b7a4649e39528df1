"""The ``table`` family: hardware metrics looked up per architecture (measured devices)."""
