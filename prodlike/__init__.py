"""prodlike: keep staging production-like."""
