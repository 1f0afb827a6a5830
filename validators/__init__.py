"""Parity checks between production and staging, returning typed results (no Dagster)."""
