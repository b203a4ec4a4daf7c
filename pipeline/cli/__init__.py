"""The `adwatch` command line."""
