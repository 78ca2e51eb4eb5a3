"""End-to-end delivery with real parts: PostgreSQL, a private Redis as broker, a real Celery
worker subprocess and an SMTP server on loopback. Each test starts its own Redis, SMTP server
and worker on spare ports, so the faults it causes stay inside the test."""

import datetime
import logging
from decimal import Decimal

import icalendar
import pytest
from django.conf import settings
from django.utils import timezone

from events import notifications
from events.emails import TICKET_CONTENT_ID
from events.models import Registration
from events.services import RegistrationDetails, cancel_registration, register_for_event
from outbox import services as outbox
from outbox.models import OutgoingEmail
from tests.factories import EventFactory, ProgrammeItemFactory, UserFactory

from .harness import RedisServer, SMTPServer, Worker, celery_broker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DETAILS = RegistrationDetails(billing_organisation="Acme A/S", billing_address="Street 1, Malmö")


class Stack:
    def __init__(self, redis: RedisServer, smtp: SMTPServer, database_name: str):
        self.redis = redis
        self.smtp = smtp
        self.database_name = database_name
        self.workers: list[Worker] = []

    def start_worker(self, *, concurrency: int = 1, **options) -> Worker:
        # One process is enough unless the test is about a pool; it also starts faster.
        options.setdefault("pool", "solo" if concurrency == 1 else "prefork")
        worker = Worker(
            database_name=self.database_name,
            broker_url=self.redis.url,
            email_url=self.smtp.url,
            extra_env={
                # Fast back-off so a test sees several retries within seconds.
                "OUTBOX_RETRY_BASE_DELAY": "0.3",
                "OUTBOX_MAX_RETRY_DELAY": "2",
            },
            concurrency=concurrency,
            **options,
        ).start()
        self.workers.append(worker)
        return worker

    def sent_row(self, registration: Registration, kind: str) -> OutgoingEmail:
        return OutgoingEmail.objects.get(
            kind=kind, object_id=registration.pk, status=OutgoingEmail.Status.SENT
        )

    def wait_for_sent(self, count: int, *, timeout: float = 30) -> None:
        def done() -> bool:
            return OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT).count() >= count

        try:
            wait_until(done, timeout=timeout, what=f"{count} sent rows")
        except AssertionError:
            rows = list(OutgoingEmail.objects.values("id", "kind", "status", "last_error"))
            logs = "\n".join(worker.output()[-4000:] for worker in self.workers)
            raise AssertionError(f"Rows: {rows}\nWorker log:\n{logs}") from None


@pytest.fixture
def stack(transactional_db):
    redis = RedisServer().start()
    smtp = SMTPServer().start()
    stack = Stack(redis, smtp, settings.DATABASES["default"]["NAME"])
    try:
        with celery_broker(redis.url):
            yield stack
    finally:
        for worker in stack.workers:
            worker.stop()
        smtp.stop()
        redis.stop()


def an_event(**fields):
    fields.setdefault("member_price", Decimal("500"))
    fields.setdefault("standard_price", Decimal("1200"))
    # Whole seconds: that is what a calendar file carries.
    starts = (timezone.now() + datetime.timedelta(days=30)).replace(microsecond=0)
    fields.setdefault("starts_at", starts)
    fields.setdefault("ends_at", starts + datetime.timedelta(hours=6))
    event = EventFactory(**fields)
    ProgrammeItemFactory(event=event, title="Opening keynote")
    return event


def person():
    # No password: hashing one takes longer than everything else a registration does.
    return UserFactory(password=None)


def register(event, user=None) -> Registration:
    return register_for_event(
        event_id=event.pk, user=user or person(), details=DETAILS
    ).registration


def test_registration_delivers_one_confirmation_with_calendar_and_ticket(stack):
    stack.start_worker()
    event = an_event(title="Microbiome Network Meeting")

    registration = register(event)
    stack.wait_for_sent(1)

    row = stack.sent_row(registration, notifications.CONFIRMATION)
    assert row.attempts == 1
    (mail,) = stack.smtp.handler.received()
    assert mail["Message-ID"] == row.message_id
    assert mail["To"] == registration.email
    assert mail["Subject"] == "Registration confirmed: Microbiome Network Meeting"
    assert "1,200 DKK" in mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert f"cid:{TICKET_CONTENT_ID}" in html

    parts = {part.get_content_type(): part for part in mail.walk()}
    image = parts["image/png"]
    assert image["Content-ID"] == f"<{TICKET_CONTENT_ID}>"
    assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    calendar = icalendar.Calendar.from_ical(parts["text/calendar"].get_content())
    (entry,) = calendar.walk("VEVENT")
    assert str(entry["SUMMARY"]) == "Microbiome Network Meeting"
    assert entry.decoded("DTSTART") == event.starts_at
    assert entry.decoded("DTEND") == event.ends_at


def test_cancellation_that_promotes_mails_the_promoted_person(stack):
    stack.start_worker()
    event = an_event(capacity=1)
    first = register(event)
    second = register(event)
    assert second.status == Registration.Status.WAITLISTED
    # Both first mails out before the change, so that the wait-list notice is really sent.
    stack.wait_for_sent(2)

    cancel_registration(registration_id=first.pk, cancelled_by=first.user)
    stack.wait_for_sent(4)

    by_recipient: dict[str, list[str]] = {}
    for mail in stack.smtp.handler.received():
        by_recipient.setdefault(mail["To"], []).append(mail["Subject"])
    title = event.title
    assert by_recipient == {
        first.email: [f"Registration confirmed: {title}", f"Registration cancelled: {title}"],
        second.email: [
            f"You are on the waiting list: {title}",
            f"A place is free for you: {title}",
        ],
    }
    promotion = stack.smtp.handler.received()[-1]
    if promotion["To"] != second.email:
        promotion = stack.smtp.handler.received()[-2]
    assert any(part.get_content_type() == "text/calendar" for part in promotion.walk())


def test_mail_server_refusing_for_a_while_delivers_once_after_it_recovers(stack):
    stack.smtp.handler.refuse(3)
    stack.start_worker()
    event = an_event()

    registration = register(event)
    stack.wait_for_sent(1)

    row = stack.sent_row(registration, notifications.CONFIRMATION)
    assert stack.smtp.handler.refused == 3
    assert row.attempts == 4
    assert stack.smtp.handler.message_ids() == [row.message_id]


def test_registration_while_redis_is_down_is_mailed_after_it_returns(stack, caplog):
    stack.start_worker()
    event = an_event()
    register(event)  # warms up the connections the outage will break
    stack.wait_for_sent(1)

    stack.redis.stop()
    with caplog.at_level(logging.WARNING, logger="outbox.services"):
        registration = register(event)
    assert registration.status == Registration.Status.CONFIRMED
    assert "waits for the sweep" in caplog.text
    row = OutgoingEmail.objects.get(object_id=registration.pk)
    assert row.status == OutgoingEmail.Status.QUEUED

    stack.redis.start()
    later = timezone.now() + datetime.timedelta(seconds=settings.OUTBOX_REQUEUE_AFTER + 1)
    wait_until(
        lambda: outbox.sweep_outbox(now=later).republished >= 1,
        timeout=30,
        what="the sweep to reach the broker again",
    )
    stack.wait_for_sent(2)

    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT
    assert stack.smtp.handler.message_ids().count(row.message_id) == 1


def test_worker_killed_mid_batch_every_registration_ends_with_one_sent_row(stack):
    """SIGKILL the worker while it sends a batch, start another, run the sweep.

    What is asserted, and why: every registration ends with exactly one confirmation row
    (the de-duplication key) and that row is sent; the mail server got every message at least
    once; and a message arrived twice only if its row was in flight at the moment of the kill
    (the server may have accepted it just before the worker died, before the row was marked
    sent). That is the documented at-least-once corner; everything else is exactly once."""
    stack.smtp.handler.delay = 0.1
    event = an_event(capacity=None)
    people = [person() for _ in range(30)]
    worker = stack.start_worker(concurrency=2)
    registrations = [register(event, user) for user in people]

    wait_until(lambda: stack.smtp.handler.count() >= 5, timeout=30, what="the batch to start")
    worker.kill()
    in_flight_at_kill = set(
        OutgoingEmail.objects.filter(status=OutgoingEmail.Status.IN_FLIGHT).values_list(
            "message_id", flat=True
        )
    )
    assert OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.SENT).exists()

    stack.start_worker(concurrency=2)
    # The sweep as beat runs it once the in-flight timeout has passed.
    later = timezone.now() + datetime.timedelta(seconds=settings.OUTBOX_IN_FLIGHT_TIMEOUT + 1)
    outbox.sweep_outbox(now=later)
    stack.wait_for_sent(len(registrations), timeout=60)

    rows = OutgoingEmail.objects.filter(kind=notifications.CONFIRMATION)
    assert sorted(rows.values_list("object_id", flat=True)) == sorted(r.pk for r in registrations)
    assert set(rows.values_list("status", flat=True)) == {OutgoingEmail.Status.SENT}
    received = stack.smtp.handler.message_ids()
    expected = set(rows.values_list("message_id", flat=True))
    assert set(received) == expected
    twice = {message_id for message_id in expected if received.count(message_id) > 1}
    assert twice <= in_flight_at_kill
    assert all(received.count(message_id) <= 2 for message_id in expected)
