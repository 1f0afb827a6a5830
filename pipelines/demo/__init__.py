"""The demo: embedded servers, the seeded shop, its config and workload."""
