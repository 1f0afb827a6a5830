"""Deterministic, keyed PII transformers and the anonymization policy (no Dagster)."""
