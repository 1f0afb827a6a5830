"""The checks run against a shadow copy and their results."""
