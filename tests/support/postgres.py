"""A throwaway PostgreSQL/PostGIS cluster for one test session, from Debian's packages.

The cluster lives in a private temporary folder and listens only on a Unix socket there (no
TCP), so it neither needs nor touches a system service. initdb refuses to run as root, so as
root the server runs as the ``postgres`` OS user the Debian packages create.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

SKIP_REASON = ("PostgreSQL with PostGIS is not installed (Debian packages postgresql and "
               "postgresql-<major>-postgis-3, e.g. postgresql-15-postgis-3; .ci/run installs them)")
DATABASE = "ogcserver_test"
SUPERUSER = "postgres"
# a disposable cluster: durability only costs time here
SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def server_binaries() -> Path | None:
    """The newest installed server's bin folder holding initdb and pg_ctl, if any."""
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
                  if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    return max(candidates, key=_major, default=None)


def _major(bindir: Path) -> int:
    match = re.match(r"\d+", bindir.parent.name)
    return int(match.group()) if match else 0


def has_postgis(bindir: Path) -> bool:
    """Whether that server's extension folder has PostGIS (postgresql-N-postgis-3)."""
    sharedir = subprocess.run([bindir / "pg_config", "--sharedir"], capture_output=True, text=True, check=True)
    return (Path(sharedir.stdout.strip()) / "extension" / "postgis.control").exists()


@contextmanager
def postgis_cluster() -> Iterator[str | None]:
    """Yield a libpq DSN for a fresh database with PostGIS, or None when the packages are missing."""
    with restartable_postgis_cluster() as cluster:
        yield cluster.dsn if cluster else None


class Cluster:
    """A running throwaway cluster that a test may stop and start again (a database outage)."""

    def __init__(self, bindir: Path, root: Path, dsn: str) -> None:
        self.bindir, self.root, self.dsn = bindir, root, dsn

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, committed data stays."""
        _run_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"])

    def start(self) -> None:
        _run_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-l",
                       str(self.root / "server.log"), "-w", "start"])


@contextmanager
def restartable_postgis_cluster() -> Iterator[Cluster | None]:
    """Like ``postgis_cluster``, with the cluster's stop and start in hand."""
    bindir = server_binaries()
    if bindir is None or not has_postgis(bindir):
        yield None
        return
    # under /tmp: short enough for a socket path, and reachable by the postgres user
    root = Path(tempfile.mkdtemp(prefix="ogcserver-pg-", dir="/tmp"))
    try:
        _hand_over(root)
        dsn = _start(bindir, root)
        cluster = Cluster(bindir, root, f"{dsn} dbname={DATABASE}")
        try:
            _create_database(dsn)
            yield cluster
        finally:
            try:
                cluster.stop()
            except RuntimeError:
                pass  # the test left it stopped
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _hand_over(root: Path) -> None:
    """As root, give the folder to the postgres user; initdb will not run as root."""
    if os.geteuid() == 0:
        user = pwd.getpwnam(SUPERUSER)
        os.chown(root, user.pw_uid, user.pw_gid)


def _run_as_owner(command: list[str]) -> None:
    prefix = ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []
    done = subprocess.run(prefix + command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr or done.stdout}")


def _start(bindir: Path, root: Path) -> str:
    """initdb and start a server on a socket in ``root`` only; returns the DSN without a dbname."""
    data, port = root / "data", _free_port()
    _run_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                   "--encoding=UTF8", "--locale=C.UTF-8"])
    settings = {**SETTINGS, "listen_addresses": "''", "unix_socket_directories": f"'{root}'", "port": str(port)}
    with open(data / "postgresql.conf", "a") as conf:
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    log = root / "server.log"
    try:
        _run_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start"])
    except RuntimeError as exc:  # the folder goes away with the cluster: say why here
        raise RuntimeError(f"{exc}\n{log.read_text() if log.exists() else ''}") from None
    return f"host={root} port={port} user={SUPERUSER}"


def _free_port() -> int:
    """A port number no local server uses, so the socket's name cannot clash with another's."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create_database(dsn: str) -> None:
    with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(f"{dsn} dbname={DATABASE}", autocommit=True) as con:
        con.execute("CREATE EXTENSION postgis")
