"""The outbox state machine, retries, sweep and clean-up (outbox.services), with a scripted
e-mail backend; delivery through real Redis, Celery and SMTP is in test_delivery.py."""

import base64
import datetime
import json
import logging
import smtplib
import threading

import pytest
import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from outbox import services
from outbox.models import OutgoingEmail
from outbox.services import MessageNotNeeded, SendResult, register_renderer
from tests.factories import OutgoingEmailFactory, RegistrationFactory

from .backends import ScriptedBackend
from .harness import celery_broker, spare_port

Status = OutgoingEmail.Status


@pytest.fixture(autouse=True)
def scripted_backend(settings):
    settings.EMAIL_BACKEND = "tests.outbox.backends.ScriptedBackend"
    ScriptedBackend.reset()
    services.close_connection()
    yield ScriptedBackend
    services.close_connection()
    ScriptedBackend.reset()


@pytest.fixture
def published(monkeypatch):
    """Ids handed to the broker, instead of a broker."""
    ids: list[int] = []

    def publish_email(*, email_id, countdown=None, even_if_broker_failed=False):
        ids.append(email_id)
        return True

    monkeypatch.setattr(services, "publish_email", publish_email)
    return ids


def row(**fields) -> OutgoingEmail:
    return OutgoingEmailFactory(**fields)


# --- Sending and its outcomes ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_queued_row_is_sent_once_with_its_message_id():
    email = row(recipient="ada@example.org", subject="Hi", body_html="<p>Hi</p>")

    result = services.send_queued_email(email_id=email.pk)

    assert result == SendResult(status=Status.SENT)
    email.refresh_from_db()
    assert (email.status, email.attempts, email.in_flight_since) == (Status.SENT, 1, None)
    assert email.sent_at is not None
    (message,) = ScriptedBackend.sent
    assert message.to == ["ada@example.org"]
    assert message.extra_headers["Message-ID"] == email.message_id
    assert message.alternatives[0].content == "<p>Hi</p>"
    # A ready-made body may carry a reset link: delivered, it is not kept.
    assert (email.body_text, email.body_html) == ("", "")

    assert services.send_queued_email(email_id=email.pk).skipped
    assert len(ScriptedBackend.sent) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.SENT, Status.FAILED, Status.SKIPPED, Status.IN_FLIGHT])
def test_rows_not_sendable_are_left_alone(status):
    fields = {"status": status}
    if status == Status.SENT:
        fields["sent_at"] = timezone.now()
    if status == Status.IN_FLIGHT:
        fields["in_flight_since"] = timezone.now()
    email = row(**fields)

    assert services.send_queued_email(email_id=email.pk).skipped

    email.refresh_from_db()
    assert email.status == status and email.attempts == 0
    assert ScriptedBackend.sent == []


@pytest.mark.django_db
def test_a_missing_row_is_skipped():
    assert services.send_queued_email(email_id=987654321).skipped


@pytest.mark.django_db
@pytest.mark.parametrize(("due_in_seconds", "sent"), [(60, False), (-1, True)])
def test_a_retry_waits_for_its_time(due_in_seconds, sent):
    now = timezone.now()
    email = row(
        status=Status.AWAITING_RETRY,
        attempts=1,
        next_attempt_at=now + datetime.timedelta(seconds=due_in_seconds),
    )

    result = services.send_queued_email(email_id=email.pk, now=now)

    assert result.sent is sent
    assert len(ScriptedBackend.sent) == (1 if sent else 0)


REFUSED = smtplib.SMTPRecipientsRefused({"x@example.org": (550, b"5.1.1 No such user")})
GREYLISTED = smtplib.SMTPRecipientsRefused({"x@example.org": (450, b"4.2.0 Greylisted")})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (REFUSED, Status.FAILED, "Recipient refused: 550 5.1.1 No such user"),
        (
            smtplib.SMTPRecipientsRefused(
                {"x@example.org": (550, b"5.1.1 <x@example.org> unknown")}
            ),
            Status.FAILED,
            "Recipient refused: 550 5.1.1 <address> unknown",  # no address in staff's view or logs
        ),
        (GREYLISTED, Status.AWAITING_RETRY, "Recipient refused: 450"),
        (smtplib.SMTPDataError(554, b"Spam"), Status.FAILED, "SMTPDataError: 554 Spam"),
        (smtplib.SMTPDataError(451, b"Local error"), Status.AWAITING_RETRY, "451 Local error"),
        (smtplib.SMTPSenderRefused(421, b"Busy", "e@mva.org"), Status.AWAITING_RETRY, "421"),
        # Refusals of our server, log-in or sender address: configuration, fixed for all.
        (smtplib.SMTPSenderRefused(553, b"Not ours", "e@mva.org"), Status.AWAITING_RETRY, "553"),
        (
            smtplib.SMTPSenderRefused(530, b"5.7.0 Auth required", "e@mva.org"),
            "awaiting_retry",
            "530",
        ),
        (smtplib.SMTPConnectError(421, b"Too many"), Status.AWAITING_RETRY, "421 Too many"),
        (smtplib.SMTPConnectError(554, b"No service"), Status.AWAITING_RETRY, "554 No service"),
        (smtplib.SMTPHeloError(501, b"Bad HELO"), Status.AWAITING_RETRY, "501 Bad HELO"),
        (smtplib.SMTPServerDisconnected("gone"), Status.AWAITING_RETRY, "gone"),
        (smtplib.SMTPAuthenticationError(535, b"Bad"), Status.AWAITING_RETRY, "535"),
        (ConnectionRefusedError(111, "refused"), Status.AWAITING_RETRY, "ConnectionRefused"),
        (TimeoutError("timed out"), Status.AWAITING_RETRY, "TimeoutError"),
        (OSError(101, "Network is unreachable"), Status.AWAITING_RETRY, "unreachable"),
        (ValueError("Invalid address"), Status.FAILED, "ValueError: Invalid address"),
    ],
)
def test_send_errors_are_temporary_or_permanent(error, status, reason):
    email = row()
    ScriptedBackend.errors = [error]
    before = timezone.now()

    result = services.send_queued_email(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == status == result.status
    assert reason in email.last_error
    assert email.in_flight_since is None
    if status == Status.AWAITING_RETRY:
        assert 0 < result.retry_in <= settings.OUTBOX_MAX_RETRY_DELAY
        expected = before + datetime.timedelta(seconds=result.retry_in)
        assert abs((email.next_attempt_at - expected).total_seconds()) < 5
    else:
        assert result.retry_in is None


@pytest.mark.django_db
def test_a_temporary_error_on_the_last_attempt_fails_for_good(settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    email = row(status=Status.AWAITING_RETRY, attempts=2, next_attempt_at=timezone.now())
    ScriptedBackend.errors = [smtplib.SMTPServerDisconnected("gone")]

    result = services.send_queued_email(email_id=email.pk)

    email.refresh_from_db()
    assert (result.status, result.retry_in) == (Status.FAILED, None)
    assert email.attempts == 3
    assert email.last_error.startswith("Gave up after 3 attempts.")


@pytest.mark.django_db
def test_retried_until_it_goes_through_then_sent_once():
    email = row()
    ScriptedBackend.errors = [TimeoutError("slow"), smtplib.SMTPServerDisconnected("gone")]
    for expected in [Status.AWAITING_RETRY, Status.AWAITING_RETRY, Status.SENT]:
        later = timezone.now() + datetime.timedelta(hours=1)
        assert services.send_queued_email(email_id=email.pk, now=later).status == expected
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.SENT, 3, "")
    assert len(ScriptedBackend.sent) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "status", "logged"),
    [
        (ZeroDivisionError("division by zero"), Status.FAILED, "could not be rendered."),
        (OperationalError("server closed the connection"), Status.AWAITING_RETRY, "for now"),
        (InterfaceError("connection already closed"), Status.AWAITING_RETRY, "for now"),
        (ConnectionRefusedError(111, "refused"), Status.AWAITING_RETRY, "for now"),
        (TimeoutError("timed out"), Status.AWAITING_RETRY, "for now"),
    ],
    ids=["renderer bug", "database lost", "database closed", "service refused", "time-out"],
)
def test_a_renderer_bug_fails_the_row_an_unreachable_service_is_retried(
    error, status, logged, caplog
):
    """A bug would only repeat, so it fails the row with the traceback for staff; a database
    or service unreachable for a moment is retried like a mail server saying "later"."""

    def render(email):
        raise error

    register_renderer("tests.render", render)
    email = row(kind="tests.render")

    with caplog.at_level(logging.WARNING, logger="outbox.services"):
        result = services.send_queued_email(email_id=email.pk)

    email.refresh_from_db()
    assert result.status == email.status == status
    assert email.last_error.startswith("Rendering: ")
    assert type(error).__name__ in email.last_error
    assert logged in caplog.text
    if status == Status.AWAITING_RETRY:
        assert 0 < result.retry_in <= settings.OUTBOX_MAX_RETRY_DELAY
    assert ScriptedBackend.sent == []


@pytest.mark.django_db
def test_a_renderer_still_failing_at_the_last_attempt_fails_for_good(settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2

    def unlucky(email):
        raise OperationalError("gone")

    register_renderer("tests.unlucky", unlucky)
    email = row(kind="tests.unlucky", status=Status.AWAITING_RETRY, attempts=1)
    email.next_attempt_at = timezone.now()
    email.save()

    assert services.send_queued_email(email_id=email.pk).status == Status.FAILED
    email.refresh_from_db()
    assert email.last_error.startswith("Gave up after 2 attempts. Rendering: ")


@pytest.mark.django_db
def test_a_message_that_no_longer_applies_is_skipped():
    def obsolete(email):
        raise MessageNotNeeded("Promoted meanwhile.")

    register_renderer("tests.obsolete", obsolete)
    email = row(kind="tests.obsolete")

    assert services.send_queued_email(email_id=email.pk).status == Status.SKIPPED
    email.refresh_from_db()
    assert (email.status, email.last_error) == (Status.SKIPPED, "Promoted meanwhile.")
    assert ScriptedBackend.sent == []


@pytest.mark.parametrize("attempts", range(1, 15))
def test_retry_delay_grows_exponentially_and_stays_under_the_cap(attempts):
    ceiling = min(
        settings.OUTBOX_MAX_RETRY_DELAY, settings.OUTBOX_RETRY_BASE_DELAY * 2 ** (attempts - 1)
    )
    delays = [services.retry_delay(attempts=attempts) for _ in range(50)]
    assert all(0.8 * ceiling <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1  # jitter
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert max(delays) <= settings.OUTBOX_MAX_RETRY_DELAY < visibility / 2


@pytest.mark.django_db
def test_one_smtp_connection_carries_consecutive_messages():
    emails = OutgoingEmailFactory.create_batch(3)
    for email in emails:
        assert services.send_queued_email(email_id=email.pk).sent
    assert (ScriptedBackend.opened, len(ScriptedBackend.sent)) == (1, 3)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("idle_seconds", "opened"), [(0, 1), (31, 2)], ids=["fresh", "idle too long"]
)
def test_an_idle_connection_is_replaced(settings, idle_seconds, opened):
    settings.OUTBOX_SMTP_REUSE_SECONDS = 30
    first, second = OutgoingEmailFactory.create_batch(2)
    services.send_queued_email(email_id=first.pk)
    services._smtp.last_used -= idle_seconds
    services.send_queued_email(email_id=second.pk)
    assert ScriptedBackend.opened == opened


@pytest.mark.django_db
def test_a_reused_connection_the_server_dropped_is_replaced_without_counting_a_failure():
    first, second = OutgoingEmailFactory.create_batch(2)
    services.send_queued_email(email_id=first.pk)
    ScriptedBackend.errors = [smtplib.SMTPServerDisconnected("Connection unexpectedly closed")]

    assert services.send_queued_email(email_id=second.pk).sent

    second.refresh_from_db()
    assert (second.attempts, ScriptedBackend.opened, len(ScriptedBackend.sent)) == (1, 2, 2)


@pytest.mark.django_db
def test_an_error_closes_the_connection():
    first, second = OutgoingEmailFactory.create_batch(2)
    ScriptedBackend.errors = [smtplib.SMTPDataError(451, b"Try later")]
    assert services.send_queued_email(email_id=first.pk).status == Status.AWAITING_RETRY
    assert services.send_queued_email(email_id=second.pk).sent
    assert ScriptedBackend.opened == 2


# --- Two workers, one row -------------------------------------------------------------------


def in_thread(function, *args):
    """Run `function` in a thread with its own database connection; return its result."""
    results: list = []

    def target():
        try:
            results.append(function(*args))
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, results


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_a_claiming_worker_is_skipped_by_another():
    email = row()
    locked = threading.Event()
    done = threading.Event()

    def first_worker_claiming():
        with transaction.atomic():
            OutgoingEmail.objects.select_for_update().get(pk=email.pk)
            locked.set()
            done.wait(timeout=30)

    thread, _ = in_thread(first_worker_claiming)
    assert locked.wait(timeout=30)
    try:
        assert services.send_queued_email(email_id=email.pk).skipped
    finally:
        done.set()
        thread.join()
    assert ScriptedBackend.sent == []


@pytest.mark.django_db(transaction=True)
def test_a_row_in_flight_with_one_worker_is_not_sent_by_another():
    email = row()
    ScriptedBackend.sending = threading.Event()
    ScriptedBackend.release = threading.Event()

    thread, results = in_thread(lambda: services.send_queued_email(email_id=email.pk))
    assert ScriptedBackend.sending.wait(timeout=30)  # the first worker is talking SMTP
    try:
        second = services.send_queued_email(email_id=email.pk)
    finally:
        ScriptedBackend.release.set()
        thread.join()

    assert second.skipped
    assert results == [SendResult(status=Status.SENT)]
    assert len(ScriptedBackend.sent) == 1


@pytest.mark.django_db(transaction=True)
def test_many_workers_racing_for_one_row_send_it_once():
    email = row()
    start = threading.Barrier(6)

    def worker():
        start.wait(timeout=30)
        return services.send_queued_email(email_id=email.pk)

    threads = [in_thread(worker) for _ in range(6)]
    for thread, _ in threads:
        thread.join()

    outcomes = [result for _, results in threads for result in results]
    assert sorted(outcome.status for outcome in outcomes) == ["", "", "", "", "", Status.SENT]
    assert len(ScriptedBackend.sent) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.SENT, 1)


@pytest.mark.django_db(transaction=True)
def test_a_late_success_after_the_sweep_took_the_row_back_still_counts_as_sent(published):
    """A worker so slow that the sweep re-queued its row: its success is recorded, so the
    re-queued copy finds the row sent and does not send again."""
    email = row()
    ScriptedBackend.sending = threading.Event()
    ScriptedBackend.release = threading.Event()
    thread, results = in_thread(lambda: services.send_queued_email(email_id=email.pk))
    assert ScriptedBackend.sending.wait(timeout=30)
    try:
        swept = services.sweep_outbox(now=timezone.now() + datetime.timedelta(hours=1))
    finally:
        ScriptedBackend.release.set()
        thread.join()

    assert swept.rescued == 1 and published == [email.pk]
    assert results == [SendResult(status=Status.SENT)]
    assert services.send_queued_email(email_id=email.pk).skipped
    assert len(ScriptedBackend.sent) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "late_error",
    [smtplib.SMTPServerDisconnected("gone"), smtplib.SMTPRecipientsRefused({})],
    ids=["temporary", "permanent"],
)
def test_a_late_failure_never_overwrites_what_a_later_attempt_recorded(published, late_error):
    """A worker so slow that the sweep re-queued its row, and another worker sent it: the
    slow one's failure arrives last and must change nothing."""
    email = row()
    release = threading.Event()
    ScriptedBackend.sending = threading.Event()
    ScriptedBackend.release = release
    thread, results = in_thread(lambda: services.send_queued_email(email_id=email.pk))
    assert ScriptedBackend.sending.wait(timeout=30)
    try:
        services.sweep_outbox(now=timezone.now() + datetime.timedelta(hours=1))
        # The second worker: no longer held, and its send goes through.
        ScriptedBackend.sending = ScriptedBackend.release = None
        assert services.send_queued_email(email_id=email.pk).sent
        ScriptedBackend.errors = [late_error]
    finally:
        release.set()
        thread.join()

    assert results == [SendResult()]  # the slow worker's outcome was not recorded
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.SENT, 2, "")
    assert len(ScriptedBackend.sent) == 1


# --- Sweep ----------------------------------------------------------------------------------

MINUTE = datetime.timedelta(minutes=1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "age", "republished", "rescued"),
    [
        (Status.QUEUED, MINUTE, False, False),  # its task is probably on the way
        (Status.QUEUED, 3 * MINUTE, True, False),  # broker down when it was written
        (Status.AWAITING_RETRY, MINUTE, False, False),
        (Status.AWAITING_RETRY, 3 * MINUTE, True, False),  # the retry task got lost
        (Status.IN_FLIGHT, 5 * MINUTE, False, False),  # a slow send, not a dead worker
        (Status.IN_FLIGHT, 11 * MINUTE, False, True),  # the worker died mid-send
        (Status.SENT, 60 * MINUTE, False, False),
        (Status.FAILED, 60 * MINUTE, False, False),
        (Status.SKIPPED, 60 * MINUTE, False, False),
    ],
)
def test_sweep(published, status, age, republished, rescued):
    now = timezone.now()
    fields = {"status": status, "next_attempt_at": now - age}
    if status == Status.IN_FLIGHT:
        fields["in_flight_since"] = now - age
    if status == Status.SENT:
        fields["sent_at"] = now - age
    email = row(**fields)

    result = services.sweep_outbox(now=now)

    assert (result.republished, result.rescued) == (int(republished), int(rescued))
    assert published == ([email.pk] if republished or rescued else [])
    email.refresh_from_db()
    if rescued:
        assert (email.status, email.in_flight_since) == (Status.QUEUED, None)
        assert "may arrive twice" in email.last_error
    if republished or rescued:
        assert email.next_attempt_at == now
        # Left alone by the next sweep a minute later.
        assert services.sweep_outbox(now=now + MINUTE) == services.SweepResult(0, 0)
    else:
        assert email.status == status


@pytest.mark.django_db
def test_sweep_publishes_at_most_a_batch(published):
    old = timezone.now() - datetime.timedelta(hours=1)
    OutgoingEmailFactory.create_batch(5, next_attempt_at=old)
    assert services.sweep_outbox(batch_size=3).republished == 3
    assert services.sweep_outbox(batch_size=3).republished == 2
    assert len(set(published)) == 5


# --- Clean-up and requeue -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "days_old", "deleted"),
    [
        (Status.SENT, 91, True),
        (Status.SENT, 89, False),
        (Status.SKIPPED, 91, True),
        (Status.FAILED, 89, False),  # staff still need to see it
        (Status.FAILED, 91, True),  # a reset link and personal data, not kept for ever
        (Status.QUEUED, 400, False),
    ],
)
def test_delete_old_sent_emails(status, days_old, deleted):
    moment = timezone.now() - datetime.timedelta(days=days_old)
    email = row(status=status, sent_at=moment if status == Status.SENT else None)
    OutgoingEmail.objects.filter(pk=email.pk).update(updated_at=moment)

    assert services.delete_old_sent_emails(days=90) == int(deleted)
    assert OutgoingEmail.objects.filter(pk=email.pk).exists() is not deleted


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "requeued"),
    [(Status.FAILED, True), (Status.SKIPPED, True), (Status.SENT, False), (Status.QUEUED, False)],
)
def test_requeue_email(status, requeued, django_capture_on_commit_callbacks, published):
    email = row(status=status, attempts=5, sent_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.requeue_email(email_id=email.pk) is requeued
    email.refresh_from_db()
    if requeued:
        assert (email.status, email.attempts) == (Status.QUEUED, 0)
        assert published == [email.pk]
    else:
        assert email.status == status and published == []


# --- Writing rows and publishing ------------------------------------------------------------


@pytest.mark.django_db
def test_a_dedup_key_makes_a_message_exist_once(django_capture_on_commit_callbacks, published):
    registration = RegistrationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.queue_email(
            kind="prerendered", recipient="a@example.org", dedup_key="k:1", about=registration
        )
        second = services.queue_email(
            kind="prerendered", recipient="a@example.org", dedup_key="k:1"
        )
    assert first is not None and second is None
    assert published == [first.pk]
    assert list(OutgoingEmail.objects.for_object(registration)) == [first]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_written_or_published_when_the_change_rolls_back(published):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.queue_email(kind="prerendered", recipient="a@example.org", dedup_key="k:2")
        raise RuntimeError("the registration failed")
    assert not OutgoingEmail.objects.exists()
    assert published == []


@pytest.mark.django_db(transaction=True)
def test_the_broker_gets_the_row_id_only_after_commit():
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    try:
        with transaction.atomic():
            email = services.queue_email(
                kind="prerendered",
                recipient="secret.person@example.org",
                subject="Your ticket",
                body_text="Dietary needs: none",
            )
            assert broker.llen("celery") == 0  # not before commit
        (raw,) = broker.lrange("celery", 0, -1)
    finally:
        broker.delete("celery")
    envelope = json.loads(raw)
    args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    assert envelope["headers"]["task"] == "outbox.send_email"
    assert (args, kwargs) == ([email.pk], {})
    # what monitoring tools show of the arguments: the id, written by us, not Celery's repr
    assert (envelope["headers"]["argsrepr"], envelope["headers"]["kwargsrepr"]) == (
        f"[{email.pk}]",
        "{}",
    )
    assert b"secret.person" not in raw and b"Dietary" not in raw and b"ticket" not in raw


@pytest.mark.django_db(transaction=True)
def test_a_dead_broker_never_fails_the_change_and_logs_a_warning(caplog):
    dead = f"redis://127.0.0.1:{spare_port()}/0"
    with (
        celery_broker(dead),
        caplog.at_level(logging.WARNING, logger="outbox.services"),
        transaction.atomic(),
    ):
        email = services.queue_email(kind="prerendered", recipient="a@example.org")

    assert OutgoingEmail.objects.get(pk=email.pk).status == Status.QUEUED
    assert f"outgoing e-mail {email.pk}, and any other" in caplog.text
    # Publishing must give up instead of retrying for minutes (Celery's default): speed is
    # measured by benchmarks, so here the settings that bound it are asserted.
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert options["max_retries"] <= 1
    assert options["socket_connect_timeout"] <= 5


@pytest.mark.django_db(transaction=True)
def test_after_a_broker_failure_a_process_waits_a_while_before_trying_again(
    caplog, monkeypatch, settings
):
    """Twenty messages written in one change while the broker is down cost one connect
    time-out, not twenty; the sweep still tries, and a success ends the pause."""
    from outbox.tasks import send_email

    settings.OUTBOX_BROKER_PAUSE = 60
    tried = []
    real_apply_async = send_email.apply_async
    monkeypatch.setattr(
        send_email,
        "apply_async",
        lambda *args, **kwargs: (
            tried.append(kwargs["args"][0]) or real_apply_async(*args, **kwargs)
        ),
    )
    dead = f"redis://127.0.0.1:{spare_port()}/0"
    with (
        celery_broker(dead),
        caplog.at_level(logging.WARNING, logger="outbox.services"),
    ):
        with transaction.atomic():
            rows = [
                services.queue_email(kind="prerendered", recipient=f"p{n}@example.org")
                for n in range(20)
            ]
        assert tried == [rows[0].pk]
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
        assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {Status.QUEUED}

        # The sweep tries even so (it runs in a worker, whose broker may be back).
        assert services.publish_email(email_id=rows[1].pk, even_if_broker_failed=True) is False
        assert tried == [rows[0].pk, rows[1].pk]

    # The broker answers again: the sweep's success ends the pause for everyone.
    assert services.publish_email(email_id=rows[2].pk, even_if_broker_failed=True) is True
    assert services.publish_email(email_id=rows[3].pk) is True
    assert tried == [rows[0].pk, rows[1].pk, rows[2].pk, rows[3].pk]


@pytest.mark.django_db(transaction=True)
def test_the_pause_after_a_broker_failure_ends_by_itself(monkeypatch, settings):
    settings.OUTBOX_BROKER_PAUSE = 60
    email = OutgoingEmailFactory()
    services._broker_failed_at = services.time.monotonic() - 61

    assert services.publish_email(email_id=email.pk) is True
    assert services._broker_failed_at is None
