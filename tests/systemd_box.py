"""A private systemd, as PID 1 of its own namespaces, for tests that run the units for real.

No systemd runs on the test machines, and the offline `systemd-analyze security` cannot tell
whether a hardened unit still starts. This one boots /lib/systemd/systemd in new PID, mount,
UTS and cgroup namespaces, with the host's own files seen through copy-on-write overlays on
/etc, /opt and /var (whatever the tests install or change lands in the box's directory, not on
the machine), a fresh /run, and its own cgroup2 subtree.

It must never start the machine's services: a second PostgreSQL on the same data directory
would wreck it. So the only units it knows are the box's own /etc/systemd/system (an empty
tmpfs until something installs there), journald, and empty stand-ins for the targets a
service depends on by default. It needs root and a kernel that allows these mounts; a test
skips with the reason when it cannot boot.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

SYSTEMD = Path("/lib/systemd/systemd")
HOST_UNITS = Path("/lib/systemd/system")
CGROUP2 = Path("/sys/fs/cgroup/unified")
BOOT_TIMEOUT = 30.0
OVERLAID = ("etc", "opt", "var")
JOURNALD = (
    "systemd-journald.service",
    "systemd-journald.socket",
    "systemd-journald-dev-log.socket",
)
STAND_INS = ("sysinit", "basic", "sockets", "shutdown", "network-online", "multi-user")
TARGET = "docex-test.target"

# Runs inside the new namespaces, before systemd takes over as PID 1.
INNER = """#!/bin/bash
set -euo pipefail
box=$1
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for dir in {overlaid}; do
  mount -t overlay overlay \\
    -o "lowerdir=/$dir,upperdir=$box/upper/$dir,workdir=$box/work/$dir" "/$dir"
done
mount -t tmpfs tmpfs /etc/systemd/system
mkdir -p /run/systemd
# systemd hands a service its credentials by a mount made in a child's namespace, which must
# propagate back; in a container it leaves that to the manager. Shared within this namespace
# only: unshare cut it off from the machine's mounts first (--propagation=private).
mount --make-rshared /
export container=docex-test SYSTEMD_UNIT_PATH="/etc/systemd/system:$box/units"
exec {systemd} --system --unit={target} --log-target=journal
"""


class BoxUnavailable(Exception):
    """This machine cannot boot the box; the message says why, for a test's skip reason."""


class SystemdBox:
    def __init__(self, directory: Path, cgroup: Path) -> None:
        self.directory = directory
        self.cgroup = cgroup
        self._boot: subprocess.Popen[bytes] | None = None
        self._pid1: int | None = None

    @classmethod
    def boot(cls) -> SystemdBox:
        missing = [str(p) for p in (SYSTEMD, CGROUP2) if not p.exists()]
        missing += [tool for tool in ("unshare", "nsenter") if shutil.which(tool) is None]
        if missing:
            raise BoxUnavailable(f"missing {', '.join(missing)}")
        if os.geteuid() != 0:
            raise BoxUnavailable("needs root: it mounts and makes namespaces")
        tag = secrets.token_hex(4)
        directory = Path(tempfile.mkdtemp(prefix=f"docex-systemd-{tag}-"))
        box = cls(directory, CGROUP2 / f"docex-systemd-{tag}")
        try:
            box._write_files()
            box._start()
        except BaseException:
            box.stop()
            raise
        return box

    @property
    def log_file(self) -> Path:
        return self.directory / "systemd.log"

    def run(
        self, *command: str, input: str | None = None, cwd: str = "/", timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the box (its files, its systemd), as root."""
        assert self._pid1 is not None, "the box is not running"
        return subprocess.run(
            ["nsenter", "-t", str(self._pid1), "-m", "-p", "-u", f"--wd={cwd}", "--", *command],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def check(self, *command: str, input: str | None = None, cwd: str = "/") -> str:
        """`run`, failing with the command's own output when it fails."""
        done = self.run(*command, input=input, cwd=cwd)
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def stop(self) -> None:
        """Kill PID 1 (and so everything in the box), and remove its cgroups and files."""
        if self._boot is not None:
            # unshare waits for its child, PID 1, and reaps it once it is killed.
            with contextlib.suppress(ProcessLookupError):
                if self._pid1 is not None:
                    os.kill(self._pid1, signal.SIGKILL)
                else:
                    self._boot.kill()
            self._boot.wait(30)
        if self.cgroup.exists():
            deadline = time.monotonic() + 10
            while True:
                try:
                    for group in sorted(self.cgroup.rglob("*/"), key=lambda p: -len(p.parts)):
                        if group.is_dir():
                            group.rmdir()
                    self.cgroup.rmdir()
                    break
                except OSError:
                    # Its processes are still dying: a cgroup goes once it is empty.
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _write_files(self) -> None:
        units = self.directory / "units"
        units.mkdir()
        (units / TARGET).write_text(
            f"[Unit]\nDescription=docex test boot\nWants={' '.join(JOURNALD)}\n"
        )
        for name in STAND_INS:
            (units / f"{name}.target").write_text(
                f"[Unit]\nDescription={name} (stand-in)\nDefaultDependencies=no\n"
            )
        for unit in JOURNALD:
            shutil.copy(HOST_UNITS / unit, units / unit)
        for dir in OVERLAID:
            (self.directory / "upper" / dir).mkdir(parents=True)
            (self.directory / "work" / dir).mkdir(parents=True)
        inner = self.directory / "inner.sh"
        inner.write_text(INNER.format(overlaid=" ".join(OVERLAID), systemd=SYSTEMD, target=TARGET))
        inner.chmod(0o700)

    def _start(self) -> None:
        self.cgroup.mkdir()
        command: Sequence[str] = [
            "unshare",
            "--fork",
            "--pid",
            "--mount",
            "--uts",
            "--cgroup",
            "--mount-proc",
            "--propagation=private",
            str(self.directory / "inner.sh"),
            str(self.directory),
        ]
        cgroup_procs = self.cgroup / "cgroup.procs"
        with self.log_file.open("wb") as log:
            # Into the box's cgroup before the new cgroup namespace is made, so that is its root.
            self._boot = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: cgroup_procs.write_text(str(os.getpid())),
            )
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            if self._boot.poll() is not None:
                raise BoxUnavailable(f"systemd did not boot: {self._log_tail()}")
            self._pid1 = self._find_pid1()
            if self._pid1 is not None and self._running():
                return
            if time.monotonic() > deadline:
                raise BoxUnavailable(f"systemd did not come up in {BOOT_TIMEOUT:.0f} s")
            time.sleep(0.1)

    def _find_pid1(self) -> int | None:
        """unshare's child, which execs systemd: PID 1 inside, some other number outside."""
        assert self._boot is not None
        children = Path(f"/proc/{self._boot.pid}/task/{self._boot.pid}/children")
        with contextlib.suppress(OSError):
            found = children.read_text().split()
            if found and Path(f"/proc/{found[0]}/exe").resolve() == SYSTEMD.resolve():
                return int(found[0])
        return None

    def _running(self) -> bool:
        done = self.run("systemctl", "is-system-running", timeout=10)
        return done.stdout.strip() in ("running", "degraded")

    def _log_tail(self) -> str:
        lines = self.log_file.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"


@contextlib.contextmanager
def booted() -> Iterator[SystemdBox]:
    box = SystemdBox.boot()
    try:
        yield box
    finally:
        box.stop()
