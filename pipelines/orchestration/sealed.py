"""The IO manager of the per-step refresh graph: step outputs (copy plans, production profiles of a slice) are
pickled, sealed with a key derived from the anonymization key (Fernet: AES and HMAC), and kept in staging's
control schema, which every step on every machine reaches; no shared disk, and nothing readable at rest."""

from __future__ import annotations

import dagster as dg
import psycopg

from prodlike.pipelines.engine import control
from prodlike.pipelines.engine.seal import seal, unseal
from prodlike.pipelines.postgres import connections

SEALED_IO_MANAGER = "prodlike_sealed"


class SealedOutputs(dg.IOManager):
    """Sealed pickles in prodlike.scaleout_outputs, one row per step output (and mapping key)."""

    def __init__(self, prodlike):
        self.prodlike = prodlike

    def _where(self, context: dg.OutputContext) -> tuple[str, str, str, str]:
        return context.run_id, context.step_key, context.name, context.mapping_key or ""

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        sealed = seal(obj, self.prodlike.anon_key)
        with connections.staging(self.prodlike.target_dsn, autocommit=True) as conn:
            control.migrate(conn)  # the first output of a run can come before any step migrated
            conn.execute("INSERT INTO prodlike.scaleout_outputs VALUES (%s, %s, %s, %s, %s) ON CONFLICT "
                         "(run_id, step_key, output_name, mapping_key) DO UPDATE SET sealed = excluded.sealed",
                         (*self._where(context), sealed))

    def load_input(self, context: dg.InputContext):
        where = self._where(context.upstream_output)
        with connections.staging(self.prodlike.target_dsn, autocommit=True) as conn:
            row = conn.execute("SELECT sealed FROM prodlike.scaleout_outputs WHERE run_id = %s AND step_key = %s "
                               "AND output_name = %s AND mapping_key = %s", where).fetchone()
        if row is None:
            raise dg.Failure(description=f"the output {where[2]} of step {where[1]} is not in staging any more")
        return unseal(row[0], self.prodlike.anon_key)


def drop_outputs(conn: psycopg.Connection, keep_run: str | None = None) -> None:
    """Forget the sealed outputs of every run but keep_run (a concluded or crashed run's)."""
    control.migrate(conn)
    conn.execute("DELETE FROM prodlike.scaleout_outputs WHERE run_id IS DISTINCT FROM %s", (keep_run,))


@dg.io_manager(required_resource_keys={"prodlike"})
def sealed_outputs(init_context) -> SealedOutputs:
    return SealedOutputs(init_context.resources.prodlike)
