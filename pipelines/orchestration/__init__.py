"""Dagster definitions: resources, assets, checks, automation (the only package importing Dagster)."""
