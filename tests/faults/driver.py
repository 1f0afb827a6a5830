"""One refresh in a child process for the fault suite: copy, checks, release, as a run does them; PRODLIKE_FAULT
(a fault point of the engine), FAULT_AT=progress:N (the Nth copied batch) or FAULT_AT=checks make it kill itself
with SIGKILL there."""

from __future__ import annotations

import json
import os
import signal
import sys

from prodlike.pipelines.checks import runner as checks
from prodlike.pipelines.checks.distribution import distribution
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine.refresh import Refresh


def main() -> int:
    cfg = Config.model_validate(json.loads(os.environ["FAULT_CONFIG"]))
    at, _, nth = os.environ.get("FAULT_AT", "").partition(":")
    batches = []

    def progress(unit: str, rows: int, nbytes: int) -> None:  # called per copied batch
        batches.append(unit)
        if at == "progress" and len(batches) >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)

    r = Refresh(cfg, os.environ["PL_TEST_SOURCE"], os.environ["PL_TEST_TARGET"], os.environ["FAULT_RUN_ID"],
                os.environ["PL_TEST_KEY"].encode(), progress=progress)
    tables = list(r.copy())
    for tr in tables:  # the checks phase: the run holds staging while they read the shadow copy
        checks.count_shadow(r.target_dsn, tr.table)
        distribution(cfg, r.target_dsn, tr)
        if at == "checks":
            os.kill(os.getpid(), signal.SIGKILL)
    r.release()
    print(json.dumps({"released": r.run_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
