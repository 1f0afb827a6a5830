"""The demo: embedded servers, the seeded shop, its config and workload."""

from pathlib import Path

DEMO_CONFIG = Path(__file__).parent / "demo.yaml"
