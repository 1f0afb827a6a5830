"""The `prodlike` command line."""
