"""A private Mosquitto beside the machine's own, for tests that stop, kill or restart it.

Other people's tests use the machine's Mosquitto (127.0.0.1:1883) at the same time, so a test
that takes the broker away takes its own: its own port, config, persistence file and log in
one directory, and nothing of /etc/mosquitto.

Mosquitto started as root drops to the `mosquitto` user, and only then, on the way out, saves
its persistence file: that user cannot write into a root-only temp directory, so the broker
came back empty, without the persistent sessions and the QoS 1 messages queued for them (why an
earlier restart test lost the office system's messages). `user` names whoever runs the tests,
so the broker keeps that user; `stop` checks the file was saved, so the mistake cannot return
silently.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class MosquittoError(Exception):
    pass


@dataclass
class PrivateMosquitto:
    directory: Path
    port: int
    persistence: bool
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def config_file(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "mosquitto.log"

    @property
    def persistence_file(self) -> Path:
        return self.directory / "mosquitto.db"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise MosquittoError(f"the Mosquitto in {self.directory} is not running")
        return self._process.pid

    def write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            f"listener {self.port} {HOST}\n"
            "allow_anonymous true\n"
            f"user {getpass.getuser()}\n"
            f"persistence {'true' if self.persistence else 'false'}\n"
            # The trailing slash matters: Mosquitto appends the file name to it as it stands.
            f"persistence_location {self.directory}/\n"
            f"persistence_file {self.persistence_file.name}\n"
            f"log_dest file {self.log_file}\n"
            "log_type all\n"
        )

    def start(self) -> None:
        """Start it (again) with the same config, persistence file and port."""
        if self._process is not None:
            raise MosquittoError(f"the Mosquitto in {self.directory} is running already")
        self._process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.config_file)],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise MosquittoError(
                    f"Mosquitto on port {self.port} did not start: see {self.log_file}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, as its service is stopped: it writes its persistence file and exits."""
        self._process_exits(signal.SIGTERM)
        if self.persistence and not self.persistence_file.exists():
            raise MosquittoError(f"Mosquitto saved no {self.persistence_file}: see {self.log_file}")

    def kill(self) -> None:
        """SIGKILL, as a crash: whatever it held only in memory is gone."""
        self._process_exits(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _process_exits(self, sig: signal.Signals) -> None:
        if self._process is None:
            return
        self._process.send_signal(sig)
        try:
            self._process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise MosquittoError(f"Mosquitto on port {self.port} ignored {sig.name}") from None
        finally:
            self._process = None


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(directory: Path, persistence: bool = True) -> Iterator[PrivateMosquitto]:
    """A private Mosquitto for the length of the block, killed however the block ends."""
    if not os.access(MOSQUITTO, os.X_OK):
        raise MosquittoError(f"no {MOSQUITTO}: run scripts/ensure-services")
    broker = PrivateMosquitto(directory, free_port(), persistence)
    broker.write_config()
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()
