"""Server time of the back office lists with 20,000 registrations across 20 events.

Run with `make bench-admin`. It
1. creates a throw-away PostgreSQL database, migrates it and collects static files (DEBUG is
   off, so the admin's pages use the production static-files storage);
2. fills it with 20,000 registrations across 20 events and 60 institutions
   (tests.factories.bulk_registrations, the same data the query-count tests use) and signs
   in a member of the "Event staff" group;
3. requests each page through Django's test client, in-process: what is measured is the
   server's time (middleware, queries, template rendering), not the network. After three
   warm-up requests it times N runs and prints, one figure per line, the median and the best
   time of each page and its number of queries. The machine's load average is printed too:
   on a shared machine, other work inflates the medians.

The target is under 300 ms a page on the development machine (2 shared cores).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def environment(database: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mva.settings",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        # In-process requests over plain HTTP; production runs behind TLS.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }


def prepare_database(database: str, env: dict[str, str]) -> None:
    psql = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *psql, "--if-exists", database], check=True)
    subprocess.run(["createdb", *psql, database], check=True)
    for command in (["migrate"], ["collectstatic"]):
        subprocess.run(
            [PYTHON, "manage.py", *command, "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
        )


def check(response, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")


def measure(runs: int) -> list[tuple[str, float, float, int]]:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from tests.factories import bulk_registrations, event_staff_user

    start = time.perf_counter()
    events = bulk_registrations(events=20, registrations=20_000)
    print(f"data: 20000 registrations in {time.perf_counter() - start:.1f} s", file=sys.stderr)

    client = Client()
    client.force_login(event_staff_user())
    registrations = reverse("admin:events_registration_changelist")
    pages = [
        ("registrations list", registrations),
        (
            "filtered list",
            f"{registrations}?event__id__exact={events[3].pk}&status__exact=confirmed",
        ),
        ("search", f"{registrations}?q=Astrid+Lindqvist"),
        # The search at the door: one person by address (the trigram index's case).
        ("search one person", f"{registrations}?q=person123.{events[5].pk}@example.org"),
        ("event list", reverse("admin:events_event_changelist")),
    ]
    results = []
    for name, url in pages:
        for _ in range(3):
            check(client.get(url), url)
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - began)
            check(response, url)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        results.append((name, statistics.median(timings) * 1000, min(timings) * 1000, len(queries)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database", default="mva_bench_admin")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    options = parser.parse_args()

    env = environment(options.database)
    prepare_database(options.database, env)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    try:
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        for name, median, best, queries in measure(options.runs):
            print(f"{name} median ms: {median:.0f}")
            print(f"{name} best ms: {best:.0f}")
            print(f"{name} queries: {queries}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        from django.db import connections

        connections.close_all()
        if not options.keep:
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", options.database],
                check=True,
            )


if __name__ == "__main__":
    main()
