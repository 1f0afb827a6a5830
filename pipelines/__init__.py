"""The refresh pipeline: config, catalog, copy engine, release, CLI and Dagster definitions."""
