"""The parity report: one self-contained HTML page per run."""
