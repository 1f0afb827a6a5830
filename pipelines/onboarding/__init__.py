"""Getting started on one's own database: `init` and `scan`."""
