"""Tests of the Dagster definitions."""
