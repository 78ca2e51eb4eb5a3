"""Load benchmark of registration: gunicorn + PostgreSQL + Redis, production-like settings.

Run with `make bench`. It
1. creates a throw-away database, migrates it, and creates one published event of capacity 300
   and N users with verified addresses and ready sessions (logging 1,000 people in through the
   rate-limited log-in is not what is measured; the rate limits stay on);
2. starts gunicorn with DEBUG off;
3. measures the ceiling: requests per second of a trivial page (the privacy page);
4. fires N registration POSTs from distinct signed-in users, C at a time, and prints
   confirmed / waitlisted / errors / registrations/s / p50 / p95 / p99;
5. on a second event, runs the same burst the way a browser makes it — event page, form,
   POST, result page — and prints complete registrations/s;
6. checks that no event is overbooked and prints the figures one per line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mva.settings",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CACHE_URL": redis_url.rsplit("/", 1)[0] + "/12",
        "EMAIL_URL": "consolemail://",
        # The benchmark talks plain HTTP on loopback; production runs behind TLS.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }


SETUP_SCRIPT = r"""
import datetime, json, sys
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from importlib import import_module
from django.conf import settings
SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
from django.utils import timezone
from allauth.account.models import EmailAddress
from events.models import Event
from members.models import User

users = int(sys.argv[1])
now = timezone.now()
events = []
for slug in ["bench-api", "bench-browser"]:
    event, _ = Event.objects.update_or_create(slug=slug, defaults=dict(
        title=f"Benchmark {slug}", starts_at=now + datetime.timedelta(days=30),
        ends_at=now + datetime.timedelta(days=30, hours=6), capacity=300,
        registration_opens_at=now - datetime.timedelta(days=1),
        registration_closes_at=now + datetime.timedelta(days=29),
        status=Event.Status.PUBLISHED, has_waiting_list=True, standard_price=0, member_price=0))
    events.append(event)
created = User.objects.bulk_create([
    User(email=f"bench{i}@example.org", first_name="Bench", last_name=f"User {i}", password="!")
    for i in range(users)])
EmailAddress.objects.bulk_create([
    EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in created])
sessions = []
backend = "django.contrib.auth.backends.ModelBackend"
for user in created:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = backend
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    sessions.append(store.session_key)
print(json.dumps(sessions))
"""

COUNT_SCRIPT = r"""
import json
import django
django.setup()
from events.models import Event, Registration
out = {}
for event in Event.objects.filter(slug__startswith="bench-"):
    regs = Registration.objects.filter(event=event)
    out[event.slug] = {
        "capacity": event.capacity,
        "confirmed": regs.filter(status="confirmed").count(),
        "waitlisted": regs.filter(status="waitlisted").count(),
        "confirmed_count": event.confirmed_count,
    }
print(json.dumps(out))
"""


def run_django(script: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "-c", script, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    body: bytes


class Client:
    """A minimal HTTP/1.1 client on asyncio streams: one request per connection (gunicorn's
    sync workers close every connection anyway). httpx spent as much CPU per request as the
    server's cheapest page, and on two shared cores the load generator's CPU is the server's
    loss; this costs a fraction of that."""

    def __init__(self, base_url: str, concurrency: int):
        self.base_url = base_url
        parsed = urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port
        self.http = self

    async def close(self):
        return None

    async def request(self, method: str, path: str, headers=None, data=None) -> Response:
        body = urlencode(data).encode() if data is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: close"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if data is not None:
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        response_headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        return Response(int(status_line.split()[1]), response_headers, payload)

    async def get(self, path: str, headers=None) -> Response:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, data, headers=None) -> Response:
        return await self.request("POST", path, headers=headers, data=data)


def cookies_for(session_key: str, csrf: str) -> dict[str, str]:
    return {"Cookie": f"sessionid={session_key}; csrftoken={csrf}"}


async def ceiling(client: Client, seconds: float, concurrency: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal done
        while time.perf_counter() < deadline:
            response = await client.http.get("/privacy/")
            if response.status_code != 200:
                raise SystemExit(f"trivial page answered {response.status_code}")
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def burst(client: Client, sessions: list[str], slug: str, concurrency: int, browser: bool):
    """One registration per session; returns (latencies of POSTs, errors, elapsed seconds)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for key in sessions:
        queue.put_nowait(key)
    latencies: list[float] = []
    errors: list[str] = []

    async def register(session_key: str):
        csrf = secrets.token_hex(16)
        headers = cookies_for(session_key, csrf)
        if browser:
            page = await client.http.get(f"/events/{slug}/", headers=headers)
            if page.status_code != 200:
                errors.append(f"event page {page.status_code}")
                return
            form = await client.http.get(f"/events/{slug}/register/", headers=headers)
            if form.status_code != 200:
                errors.append(f"form {form.status_code}")
                return
        started = time.perf_counter()
        response = await client.http.post(
            f"/events/{slug}/register/",
            data={"csrfmiddlewaretoken": csrf, "dietary_needs": "", "accessibility_needs": ""},
            headers={**headers, "Referer": f"{client.base_url}/events/{slug}/register/"},
        )
        latencies.append(time.perf_counter() - started)
        if response.status_code != 302:
            errors.append(f"POST {response.status_code}")
            return
        if browser:
            location = urlsplit(response.headers["location"])
            result = await client.http.get(location.path, headers=headers)
            if result.status_code != 200:
                errors.append(f"result page {result.status_code}")

    async def worker():
        while not queue.empty():
            key = queue.get_nowait()
            try:
                await register(key)
            except OSError as error:
                errors.append(type(error).__name__)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    # gunicorn.conf.py's own default (cores + 1) unless asked otherwise.
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "0")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "1")))
    parser.add_argument("--database", default="mva_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    options = parser.parse_args()

    database_url = f"postgres://postgres@127.0.0.1:5432/{options.database}"
    env = server_environment(database_url, options.redis_url)
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", options.database],
        check=True,
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", options.database], check=True)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
    )

    sessions = json.loads(run_django(SETUP_SCRIPT, env, str(options.registrations * 2)))
    # A running database has planner statistics; one just bulk-loaded has none until
    # autovacuum gets to it, and plans made without them are not what production runs.
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", "ANALYZE", options.database],
        check=True,
    )
    api_sessions = sessions[: options.registrations]
    browser_sessions = sessions[options.registrations :]

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "mva.wsgi:application",
            # The production settings (worker class, timeouts); bind and workers as asked.
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            *(["--workers", str(options.workers)] if options.workers else []),
            "--threads",
            str(options.threads),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for(port)
        figures = asyncio.run(
            measure(f"http://127.0.0.1:{port}", api_sessions, browser_sessions, options)
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    counts = json.loads(run_django(COUNT_SCRIPT, env))
    api = counts["bench-api"]
    browser = counts["bench-browser"]
    overbooked = any(
        c["confirmed"] > c["capacity"] or c["confirmed"] != c["confirmed_count"]
        for c in counts.values()
    )
    print(f"confirmed: {api['confirmed']}")
    print(f"waitlisted: {api['waitlisted']}")
    print(f"errors: {figures['errors']}")
    print(f"registrations/s: {figures['registrations_per_second']:.1f}")
    print(f"p50 latency ms: {figures['p50'] * 1000:.0f}")
    print(f"p95 latency ms: {figures['p95'] * 1000:.0f}")
    print(f"p99 latency ms: {figures['p99'] * 1000:.0f}")
    print(f"complete registrations/s: {figures['complete_per_second']:.1f}")
    print(f"browser burst confirmed: {browser['confirmed']}")
    print(f"browser burst waitlisted: {browser['waitlisted']}")
    print(f"browser burst errors: {figures['browser_errors']}")
    print(f"trivial page requests/s (ceiling): {figures['ceiling']:.1f}")
    print(f"overbooked: {'yes' if overbooked else 'no'}")
    print(f"gunicorn workers: {options.workers or (os.cpu_count() or 1) + 1}")
    if figures["error_samples"]:
        print(f"error samples: {figures['error_samples'][:5]}")
    subprocess.run(
        ["redis-cli", "-u", options.redis_url, "flushdb"], check=False, capture_output=True
    )
    if overbooked or figures["errors"] or figures["browser_errors"]:
        sys.exit(1)


async def measure(base_url: str, api_sessions, browser_sessions, options) -> dict:
    client = Client(base_url, options.concurrency)
    try:
        # Warm every worker (imports, connections) before measuring.
        await asyncio.gather(*(client.http.get("/privacy/") for _ in range(40)))
        ceiling_rps = await ceiling(client, seconds=5, concurrency=options.concurrency)
        latencies, errors, elapsed = await burst(
            client, api_sessions, "bench-api", options.concurrency, browser=False
        )
        _, browser_errors, browser_elapsed = await burst(
            client, browser_sessions, "bench-browser", options.concurrency, browser=True
        )
    finally:
        await client.close()
    return {
        "ceiling": ceiling_rps,
        "errors": len(errors),
        "error_samples": errors + browser_errors,
        "registrations_per_second": len(api_sessions) / elapsed,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "complete_per_second": len(browser_sessions) / browser_elapsed,
        "browser_errors": len(browser_errors),
    }


if __name__ == "__main__":
    main()
