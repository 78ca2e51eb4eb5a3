"""Mail throughput: 1,000 confirmations through one real Celery worker to a local SMTP server.

Run with `make bench-mail`. It
1. creates a throw-away database (mva_bench_mail), migrates it, and writes one published
   event with a programme and 1,000 confirmed registrations;
2. starts a private redis-server and an SMTP server (aiosmtpd) on spare ports, and one worker
   (`celery -A mva worker`, prefork, the concurrency `make worker` uses) with DEBUG off;
3. writes the 1,000 confirmation rows in one transaction the way events.notifications does
   (each published on commit, id only), waits until every row is sent and the SMTP server
   has every message, and prints messages per minute (from the commit to the last row sent).

Each confirmation is the real one: HTML and text rendered from the templates, QR code PNG,
.ics attachment, one SMTP conversation per message.
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.outbox.harness import RedisServer, SMTPServer, Worker, wait_until  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database", default="mva_bench_mail")
    options = parser.parse_args()

    database_url = f"postgres://postgres@127.0.0.1:5432/{options.database}"
    redis = RedisServer().start()
    smtp = SMTPServer().start()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "CACHE_URL": redis.url.rsplit("/", 1)[0] + "/1",
        "EMAIL_URL": smtp.url,
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-" + secrets.token_urlsafe(40),
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mva.settings"
    worker = None
    try:
        for command in (
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", options.database],
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", options.database],
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        ):
            subprocess.run(command, cwd=ROOT, check=True)

        import django

        django.setup()
        registrations = create_registrations(options.messages)

        worker = Worker(
            database_name=options.database,
            broker_url=redis.url,
            email_url=smtp.url,
            concurrency=options.concurrency,
            extra_env=env,
        ).start()

        from django.db import transaction

        from events import notifications
        from outbox import services
        from outbox.models import OutgoingEmail

        cpu_at_start = worker.cpu_seconds()
        started = time.monotonic()
        with transaction.atomic():
            for registration in registrations:
                notifications.queue_confirmation(registration=registration)
        sent = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT)
        last_sweep = time.monotonic()
        while sent.count() < options.messages:
            time.sleep(0.2)
            if time.monotonic() - last_sweep > 60:
                # What beat does every minute in production (none runs here).
                services.sweep_outbox()
                last_sweep = time.monotonic()
        elapsed = time.monotonic() - started
        cpu = worker.cpu_seconds() - cpu_at_start
        load = os.getloadavg()[0]
        wait_until(
            lambda: smtp.handler.count() >= options.messages,
            timeout=60,
            what="the SMTP server to have every message",
        )
        received = smtp.handler.received()
        unique = len({message["Message-ID"] for message in received})
        others = OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.SENT).count()
        sizes = sorted(len(message.as_bytes()) for message in received)
        print(f"messages: {options.messages} confirmations (HTML + text, QR PNG, .ics)")
        print(f"worker: 1 x celery prefork, concurrency {options.concurrency}")
        print(f"received by SMTP: {len(received)} ({unique} distinct Message-IDs)")
        print(f"rows not sent: {others}")
        print(f"median message size: {sizes[len(sizes) // 2] / 1024:.1f} KiB")
        print(f"elapsed: {elapsed:.1f} s")
        print(f"messages per minute: {options.messages / elapsed * 60:.0f}")
        # The wall-clock figure depends on what else the machine runs; the worker's CPU time
        # per message does not, and gives the rate per fully available core.
        print(f"worker CPU: {cpu:.1f} s ({cpu / options.messages * 1000:.0f} ms per message)")
        print(f"messages per minute per free CPU core: {options.messages / cpu * 60:.0f}")
        print(f"machine load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores")
    finally:
        if worker is not None:
            worker.stop()
        smtp.stop()
        redis.stop()
        from django.db import connections

        connections.close_all()
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", options.database],
            check=False,
        )


def create_registrations(count: int):
    """One published event with a programme and `count` confirmed registrations, written
    directly (the registration path has its own benchmark)."""
    from django.utils import timezone

    from events.models import AdmissionCategory, Event, ProgrammeItem, Registration

    starts = timezone.now().replace(microsecond=0) + datetime.timedelta(days=30)
    event = Event.objects.create(
        title="MVA Annual Meeting (benchmark)",
        slug="bench-mail",
        summary="A day of talks, then networking.",
        venue="Medicon Village",
        address="Scheelevägen 2\n223 81 Lund\nSweden",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=7),
        status=Event.Status.PUBLISHED,
        capacity=None,
        member_price=Decimal("500"),
        standard_price=Decimal("1200"),
    )
    for hour, title in enumerate(["Welcome", "Keynote", "Panel", "Networking"]):
        ProgrammeItem.objects.create(
            event=event,
            starts_at=starts + datetime.timedelta(hours=hour),
            ends_at=starts + datetime.timedelta(hours=hour, minutes=45),
            title=title,
            speakers="Dr. Jane Doe",
        )
    Registration.objects.bulk_create(
        Registration(
            event=event,
            first_name="Person",
            last_name=str(number),
            email=f"person{number}@example.org",
            category=AdmissionCategory.NON_MEMBER,
            price=Decimal("1200"),
            currency="DKK",
            price_reason="Standard price: no member institution.",
            status=Registration.Status.CONFIRMED,
            confirmed_at=timezone.now(),
            language=["en", "sv", "da"][number % 3],
        )
        for number in range(count)
    )
    return list(Registration.objects.filter(event=event).order_by("id"))


if __name__ == "__main__":
    main()
