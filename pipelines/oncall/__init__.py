"""The on-call loop: concluding a run, alerts, the freshness SLA, status, resume, rollback."""
