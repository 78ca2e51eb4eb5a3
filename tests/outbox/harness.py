"""Real parts for e-mail delivery tests and the mail benchmark: a private Redis server, an SMTP
server on loopback that records what it receives (and can refuse for a while), and Celery
worker subprocesses pointed at them. Each starts on a spare port, so stopping one never
disturbs anything else running on the machine."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kombu.pools
from aiosmtpd.controller import Controller

PROJECT_DIR = Path(__file__).resolve().parents[2]


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


# --- Redis ----------------------------------------------------------------------------------


class RedisServer:
    """A throw-away redis-server (no persistence) on a spare port; can be stopped and started
    again on the same port to simulate an outage."""

    def __init__(self) -> None:
        self.port = spare_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps every message it accepts. `refuse(n)` makes it answer
    the next n MAIL commands with 421 (the server is busy: try later); `delay` slows every
    message down, to catch a worker mid-send."""

    # Raw bytes, parsed when asked for: parsing takes CPU a benchmark should not pay.
    raw: list[bytes] = field(default_factory=list)
    parsed: list[email.message.EmailMessage] = field(default_factory=list)
    refusals_left: int = 0
    refused: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, count: int) -> None:
        with self.lock:
            self.refusals_left = count

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                self.refused += 1
                return "421 4.3.2 Service not available, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.raw.append(envelope.content)
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.raw)

    def received(self) -> list[email.message.EmailMessage]:
        with self.lock:
            for content in self.raw[len(self.parsed) :]:
                self.parsed.append(email.message_from_bytes(content, policy=email.policy.default))
            return list(self.parsed)

    def message_ids(self) -> list[str]:
        return [message["Message-ID"] for message in self.received()]


class SMTPServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = spare_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


# --- Celery worker ----------------------------------------------------------------------------


class Worker:
    """`celery -A mva worker` in its own process group, configured through the environment
    exactly as in production, with a log file to read on failure."""

    def __init__(
        self,
        *,
        database_name: str,
        broker_url: str,
        email_url: str,
        concurrency: int = 1,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.pool = pool
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the worker
            prefix="celery-worker-", suffix=".log", delete=False
        )
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mva.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name}",
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "EMAIL_URL": email_url,
            "DEBUG": "true",
            "EMAIL_TIMEOUT": "10",
            **(extra_env or {}),
        }
        self.env.pop("TEST_DATABASE_NAME", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        celery = Path(sys.executable).with_name("celery")
        self.process = subprocess.Popen(
            [
                str(celery), "-A", "mva", "worker",
                f"--pool={self.pool}", f"--concurrency={self.concurrency}",
                "--loglevel=INFO", "--without-gossip", "--without-mingle",
                "--without-heartbeat", f"--hostname=test-{spare_port()}@%h",
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_until(self._ready, timeout=60, what=f"the Celery worker (log: {self.log.name})")
        return self

    def _ready(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise AssertionError(f"The worker exited:\n{self.output()}")
        return " ready." in self.output()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the worker and its pool processes."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the command: state, ppid, pgrp, …; utime and stime are fields 14 and 15.
            if self.process and int(fields[2]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def kill(self) -> None:
        """SIGKILL to the whole process group: the machine lost power, as far as the worker
        and its pool processes can tell."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Cold shutdown: the test is over, nothing it waits for is still running."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app (what publishes on commit) at another broker, and back."""
    from mva.celery import app

    def reset_connections() -> None:
        # Celery's producers come from kombu's process-wide pools, keyed by broker URL; a
        # pool closed here must not be handed out again when the URL comes back.
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    app.conf.broker_url = url
    reset_connections()
    try:
        yield
    finally:
        app.conf.broker_url = previous
        reset_connections()
