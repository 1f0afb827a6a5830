"""The refresh engine: preflight, snapshot copy, workers, statistics, release, control schema."""
