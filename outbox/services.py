"""Writing, sending and sweeping outgoing e-mail.

The outbox knows nothing about what a message is about: other apps register a renderer for
each kind of message (`register_renderer`) and write rows with `queue_email` inside the
transaction of the change that causes them.

The life of a row::

    queued ──► in_flight ──► sent
      ▲  ▲         │
      │  │         ├──► awaiting_retry ──► in_flight …   (temporary SMTP or network error)
      │  │         ├──► failed                            (permanent error, renderer bug,
      │  │         │                                        too many attempts)
      │  │         └──► skipped                           (the message no longer applies)
      │  └── sweep: in flight far too long (the worker died mid-send)
      └───── sweep: queued or awaiting retry too long (the broker lost or never got the task)

A row moves to in_flight in a committed transaction under a row lock before the SMTP
conversation starts, so two workers given the same row never both send it. The one case where
a recipient can get a message twice is a worker that dies after the mail server accepted the
message and before the row was marked sent; the sweep then sends it again (at-least-once in
that rare case, exactly once otherwise).
"""

import contextlib
import logging
import random
import re
import smtplib
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, connections, router, transaction
from django.db.models import Model, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from .models import OutgoingEmail

logger = logging.getLogger(__name__)

PRERENDERED = "prerendered"

Renderer = Callable[[OutgoingEmail], EmailMessage]
_renderers: dict[str, Renderer] = {}
# What staff call each kind of message ("Confirmation"), for the admin.
_kind_labels: dict[str, str] = {}


class MessageNotNeeded(Exception):
    """Raised by a renderer when its message no longer applies (a wait-list notice for a person
    promoted meanwhile); the row is marked skipped with the reason instead of being sent."""


def register_renderer(kind: str, renderer: Renderer, *, label: str | None = None) -> None:
    """Make `renderer` build the messages of `kind` at send time; `label` (lazily
    translated) is what the back office calls them."""
    _renderers[kind] = renderer
    if label is not None:
        _kind_labels[kind] = label


def kind_label(kind: str) -> str:
    """What the back office calls a kind of message: its registered label, or the kind."""
    if kind == PRERENDERED:
        return str(_("Account e-mail (sign-up, password)"))
    return str(_kind_labels.get(kind, kind))


def queue_email(
    *,
    kind: str,
    recipient: str,
    language: str = "en",
    context: dict | None = None,
    dedup_key: str | None = None,
    about: Model | None = None,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
) -> OutgoingEmail | None:
    """Write one outgoing message and queue its sending once the transaction commits.

    Guarantees: the row exists if and only if the surrounding transaction commits; a message
    with a `dedup_key` that already exists is not written again (returns None); the broker
    receives only the row's id, and a broker outage never raises here (the sweep sends later).
    """
    email = OutgoingEmail(
        kind=kind,
        recipient=recipient,
        language=language,
        context=context or {},
        dedup_key=dedup_key,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
    )
    if about is not None:
        email.content_type = ContentType.objects.get_for_model(about, for_concrete_model=False)
        email.object_id = about.pk
    if dedup_key is not None:
        if not _insert_unless_duplicate(email):
            return None
    else:
        email.save()
    # Not send_email.delay_on_commit: that publishes with Celery's default retries, so a
    # broker outage would hold the request (or raise in it). publish_email gives up at once
    # and leaves the row to the sweep.
    transaction.on_commit(lambda: publish_email(email_id=email.pk))
    return email


def _insert_unless_duplicate(email: OutgoingEmail) -> bool:
    """Insert the row unless one with its `dedup_key` exists; True when it was written.

    One statement (`INSERT … ON CONFLICT (dedup_key) DO NOTHING RETURNING id`) instead of a
    savepoint, an insert and its release: callers run inside the short transaction that
    holds the event's lock, where every round trip counts. Any other violation (a
    colliding Message-ID) still raises IntegrityError.
    """
    meta = OutgoingEmail._meta
    connection = connections[router.db_for_write(OutgoingEmail)]
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    values = [
        field.get_db_prep_save(field.pre_save(email, add=True), connection) for field in fields
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({quote(meta.get_field('dedup_key').column)}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    email.pk = row[0]
    email._state.adding = False
    email._state.db = connection.alias
    return True


# When the broker last failed to answer (time.monotonic()), per process: for a short while
# after, publishing is not tried at all. A staff message to 500 attendees written while Redis
# is down would otherwise wait for 500 connect time-outs, and the request would time out.
_broker_failed_at: float | None = None
_broker_failed_lock = threading.Lock()


def publish_email(
    *, email_id: int, countdown: float | None = None, even_if_broker_failed: bool = False
) -> bool:
    """Hand a row's id to the broker. Returns False (and logs a warning) when the broker is
    unreachable, within the broker's short connect timeout; the row then stays as it is until
    the periodic sweep publishes it again. Never raises.

    After a failure, calls in the next OUTBOX_BROKER_PAUSE seconds return False at once
    without trying, so one outage costs a request one time-out, not one per message; the
    sweep passes `even_if_broker_failed` and always tries."""
    global _broker_failed_at
    from .tasks import send_email

    failed_at = _broker_failed_at
    if (
        failed_at is not None
        and not even_if_broker_failed
        and time.monotonic() - failed_at < settings.OUTBOX_BROKER_PAUSE
    ):
        logger.debug("Broker failed recently; outgoing e-mail %s waits for the sweep.", email_id)
        return False
    try:
        send_email.apply_async(
            args=[email_id],
            countdown=countdown,
            retry=False,
            # What monitoring shows of the arguments, given: Celery's own safe repr of them
            # costs more CPU than the rest of the publish (0.5 of 1.2 ms, measured).
            argsrepr=f"[{int(email_id)}]",
            kwargsrepr="{}",
        )
    except Exception as error:
        with _broker_failed_lock:
            _broker_failed_at = time.monotonic()
        logger.warning(
            "Broker unreachable (%s); outgoing e-mail %s, and any other written in the next "
            "%s seconds, waits for the sweep.",
            error.__class__.__name__,
            email_id,
            settings.OUTBOX_BROKER_PAUSE,
        )
        return False
    if failed_at is not None:
        with _broker_failed_lock:
            _broker_failed_at = None
    return True


def build_message(email: OutgoingEmail) -> EmailMessage:
    """The message for a row, in the row's language, with its stable Message-ID.

    Raises MessageNotNeeded when the renderer finds the message no longer applies, and
    whatever a faulty renderer raises."""
    with translation.override(email.language or settings.LANGUAGE_CODE):
        if email.kind == PRERENDERED:
            message = EmailMultiAlternatives(
                subject=email.subject,
                body=email.body_text,
                to=[email.recipient],
            )
            if email.body_html:
                message.attach_alternative(email.body_html, "text/html")
        else:
            message = _renderers[email.kind](email)
    message.to = [email.recipient]
    message.extra_headers["Message-ID"] = email.message_id
    # Tells auto-responders (out-of-office) not to answer a machine.
    message.extra_headers.setdefault("Auto-Submitted", "auto-generated")
    return message


def is_temporary_failure(error: BaseException) -> bool:
    """Whether sending may succeed later: 4xx replies, dropped or refused connections and
    time-outs are temporary; 5xx replies about the message (recipient refused, message
    rejected) are permanent. A refusal of our server, our log-in or our sender address (530
    authentication required, 535, a 554 greeting, a refused HELO or MAIL FROM) is temporary
    whatever its code: it is our configuration, not the message, and every message should
    go out once it is fixed."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in error.recipients.values()]
        return bool(codes) and all(code < 500 for code in codes)
    if isinstance(
        error,
        smtplib.SMTPAuthenticationError
        | smtplib.SMTPSenderRefused
        | smtplib.SMTPConnectError
        | smtplib.SMTPHeloError,
    ):
        return True
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code < 500
    # SMTPServerDisconnected, SMTPNotSupportedError and other protocol errors; OSError covers
    # refused connections, resets, socket time-outs and TLS errors.
    return isinstance(error, smtplib.SMTPException | OSError)


def is_temporary_rendering_failure(error: BaseException) -> bool:
    """Whether building a message may succeed later: the database or another service it reads
    from was unreachable (a lost connection, a time-out). A bug in a template or a renderer
    is permanent: retrying would only repeat it."""
    return isinstance(error, OperationalError | InterfaceError | OSError)


def retry_delay(*, attempts: int) -> float:
    """Seconds to wait before attempt `attempts + 1`: exponential back-off from
    OUTBOX_RETRY_BASE_DELAY, capped at OUTBOX_MAX_RETRY_DELAY (well below the broker's
    visibility timeout), with jitter so that a recovering server is not hit by every
    waiting message in the same second."""
    ceiling = min(
        settings.OUTBOX_MAX_RETRY_DELAY,
        settings.OUTBOX_RETRY_BASE_DELAY * 2 ** max(attempts - 1, 0),
    )
    return ceiling * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not security


# Anything shaped like an e-mail address, with or without angle brackets.
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


def describe_error(error: BaseException) -> str:
    """A short reason for staff: the SMTP reply where there is one. Addresses in it (servers
    quote the recipient: "550 5.1.1 <name@example.org> unknown") are replaced by
    "<address>": a row has one recipient, shown beside the error, and this text also goes
    to the logs, which should not collect people's addresses."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = [f"{code} {_decode(reply)}" for code, reply in error.recipients.values()]
        text = "Recipient refused: " + "; ".join(replies)
    elif isinstance(error, smtplib.SMTPResponseException):
        text = f"{error.__class__.__name__}: {error.smtp_code} {_decode(error.smtp_error)}"
    else:
        text = f"{error.__class__.__name__}: {error}"
    return _ADDRESS.sub("<address>", text)


def _decode(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


@dataclass(frozen=True)
class SendResult:
    """What one call of send_queued_email did. `status` is the row's status afterwards as this
    call left it ("" when the row was skipped untouched); `retry_in` is set when the caller
    should try again after that many seconds."""

    status: str = ""
    retry_in: float | None = None

    @property
    def sent(self) -> bool:
        return self.status == OutgoingEmail.Status.SENT

    @property
    def skipped(self) -> bool:
        return self.status == ""


def claim_email(*, email_id: int, now: datetime | None = None) -> OutgoingEmail | None:
    """Take a row for sending: lock it, check it is queued (or awaiting a retry that is due),
    mark it in flight and count the attempt, and commit. Returns None when the row is missing,
    not sendable, not yet due, or locked by another worker claiming it right now.

    Guarantees: at most one caller gets a given row until it leaves in_flight again."""
    now = now or timezone.now()
    with transaction.atomic():
        email = (
            OutgoingEmail.objects.select_for_update(skip_locked=True).filter(pk=email_id).first()
        )
        if email is None or email.status not in OutgoingEmail.SENDABLE:
            return None
        if email.status == OutgoingEmail.Status.AWAITING_RETRY and email.next_attempt_at > now:
            # A copy of the task (the sweep's, say) arrived before the back-off ended.
            return None
        email.status = OutgoingEmail.Status.IN_FLIGHT
        email.in_flight_since = now
        email.attempts += 1
        email.save(update_fields=["status", "in_flight_since", "attempts", "updated_at"])
    return email


def send_queued_email(*, email_id: int, now: datetime | None = None) -> SendResult:
    """Send one row unless it is already sent, failed, not yet due or being sent by another
    worker, and record the outcome.

    Guarantees: two workers given the same row never both send it (claim_email); a temporary
    failure leaves the row awaiting_retry with next_attempt_at set and returns `retry_in`;
    a permanent failure, a renderer error or the last allowed attempt marks it failed with
    the reason; a message that no longer applies is marked skipped. Never raises for a
    failure of the message itself.
    """
    email = claim_email(email_id=email_id, now=now)
    if email is None:
        return SendResult()

    try:
        message = build_message(email)
    except MessageNotNeeded as reason:
        logger.info("Outgoing e-mail %s not needed any more: %s", email.pk, reason)
        return _finish(email, status=OutgoingEmail.Status.SKIPPED, error=str(reason))
    except Exception as error:
        summary = "".join(traceback.format_exception(error, limit=-3))
        if is_temporary_rendering_failure(error):
            # The message is fine; something it is made from (the database, the cache) was
            # unreachable for a moment. Retried like a mail server that said "try later".
            logger.warning(
                "Outgoing e-mail %s could not be rendered for now: %s",
                email.pk,
                error.__class__.__name__,
            )
            return _retry_or_give_up(email, reason=f"Rendering: {summary}")
        logger.exception("Outgoing e-mail %s (%s) could not be rendered.", email.pk, email.kind)
        return _finish(email, status=OutgoingEmail.Status.FAILED, error=f"Rendering: {summary}")

    try:
        deliver(message)
    except Exception as error:
        reason = describe_error(error)
        if not is_temporary_failure(error):
            logger.warning("Outgoing e-mail %s refused for good: %s", email.pk, reason)
            return _finish(email, status=OutgoingEmail.Status.FAILED, error=reason)
        return _retry_or_give_up(email, reason=reason)

    sent_at = timezone.now()
    # Recorded even if the sweep meanwhile took the row back (a very slow send): the message
    # went out, so it must not go out again. A ready-made body may hold a password-reset or
    # confirmation link, a credential until it expires: once delivered it is not kept.
    OutgoingEmail.objects.filter(pk=email.pk).exclude(status=OutgoingEmail.Status.SENT).update(
        status=OutgoingEmail.Status.SENT,
        sent_at=sent_at,
        in_flight_since=None,
        last_error="",
        body_text="",
        body_html="",
        updated_at=sent_at,
    )
    return SendResult(status=OutgoingEmail.Status.SENT)


def _retry_or_give_up(email: OutgoingEmail, *, reason: str) -> SendResult:
    """After a temporary failure: await a retry after the back-off, or, at the last allowed
    attempt, mark the row failed."""
    if email.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        logger.error("Outgoing e-mail %s failed %s times: %s", email.pk, email.attempts, reason)
        return _finish(
            email,
            status=OutgoingEmail.Status.FAILED,
            error=f"Gave up after {email.attempts} attempts. {reason}",
        )
    delay = retry_delay(attempts=email.attempts)
    logger.info("Outgoing e-mail %s: %s; retry in %.0f s.", email.pk, reason, delay)
    return _finish(email, status=OutgoingEmail.Status.AWAITING_RETRY, error=reason, retry_in=delay)


def _finish(
    email: OutgoingEmail, *, status: str, error: str, retry_in: float | None = None
) -> SendResult:
    """Record an outcome other than sent, only if the row is still this attempt's."""
    now = timezone.now()
    changes = {"status": status, "in_flight_since": None, "last_error": error, "updated_at": now}
    if retry_in is not None:
        changes["next_attempt_at"] = now + timedelta(seconds=retry_in)
    updated = OutgoingEmail.objects.filter(
        pk=email.pk, status=OutgoingEmail.Status.IN_FLIGHT, attempts=email.attempts
    ).update(**changes)
    if not updated:
        return SendResult()
    return SendResult(status=status, retry_in=retry_in)


# One SMTP connection per worker process (per thread, for a threaded pool), reused while it is
# fresh: a TLS handshake and log-in per message would cost more than the message.
_smtp = threading.local()
SMTP_MESSAGES_PER_CONNECTION = 100


def deliver(message: EmailMessage) -> None:
    """Hand one message to the mail server over this process's reused connection, opening a
    new one when there is none, it has been idle longer than OUTBOX_SMTP_REUSE_SECONDS or has
    carried SMTP_MESSAGES_PER_CONNECTION messages. A reused connection the server has dropped
    meanwhile is replaced once, at once; any other error closes it and propagates."""
    key = (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)
    now = time.monotonic()
    connection = getattr(_smtp, "connection", None)
    reusable = (
        connection is not None
        and _smtp.key == key
        and now - _smtp.last_used < settings.OUTBOX_SMTP_REUSE_SECONDS
        and _smtp.messages < SMTP_MESSAGES_PER_CONNECTION
    )
    if not reusable:
        close_connection()
        connection = _open_connection(key)
    try:
        connection.send_messages([message])
    except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError):
        close_connection()
        if not reusable:
            raise
        # The server closed the idle connection before we spoke: not an attempt that failed.
        connection = _open_connection(key)
        _send_or_close(connection, message)
    except Exception:
        close_connection()
        raise
    _smtp.last_used = time.monotonic()
    _smtp.messages += 1


def _open_connection(key):
    connection = get_connection(fail_silently=False)
    connection.open()
    _smtp.connection, _smtp.key, _smtp.messages = connection, key, 0
    return connection


def _send_or_close(connection, message) -> None:
    try:
        connection.send_messages([message])
    except Exception:
        close_connection()
        raise


def close_connection() -> None:
    """Close this process's SMTP connection, if any (also at worker shutdown)."""
    connection = getattr(_smtp, "connection", None)
    _smtp.connection = None
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()


@dataclass(frozen=True)
class SweepResult:
    republished: int
    rescued: int


def sweep_outbox(*, now: datetime | None = None, batch_size: int = 1000) -> SweepResult:
    """Publish again what the broker should have delivered by now.

    - Rows queued, or awaiting a retry that was due, for longer than OUTBOX_REQUEUE_AFTER
      seconds: their task was never published (broker down) or got lost.
    - Rows in flight for longer than OUTBOX_IN_FLIGHT_TIMEOUT seconds: their worker died
      mid-send. They go back to queued; the recipient may get that message twice, which is
      accepted for this rare case (at-least-once).

    Guarantees: republishing is harmless (a task for a row that is not sendable does nothing),
    each swept row's next_attempt_at moves to `now` so the next sweep leaves it alone for a
    while, and at most `batch_size` rows are published per call.
    """
    now = now or timezone.now()
    in_flight_cutoff = now - timedelta(seconds=settings.OUTBOX_IN_FLIGHT_TIMEOUT)
    due_cutoff = now - timedelta(seconds=settings.OUTBOX_REQUEUE_AFTER)
    with transaction.atomic():
        stuck = list(
            OutgoingEmail.objects.select_for_update(skip_locked=True)
            .filter(status=OutgoingEmail.Status.IN_FLIGHT, in_flight_since__lt=in_flight_cutoff)
            .order_by("in_flight_since")
            .values_list("pk", flat=True)[:batch_size]
        )
        OutgoingEmail.objects.filter(pk__in=stuck).update(
            status=OutgoingEmail.Status.QUEUED,
            in_flight_since=None,
            next_attempt_at=now,
            last_error="The worker stopped while sending; queued again (may arrive twice).",
            updated_at=now,
        )
        waiting = list(
            OutgoingEmail.objects.select_for_update(skip_locked=True)
            .filter(status__in=OutgoingEmail.SENDABLE, next_attempt_at__lte=due_cutoff)
            .exclude(pk__in=stuck)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[: max(batch_size - len(stuck), 0)]
        )
        OutgoingEmail.objects.filter(pk__in=waiting).update(next_attempt_at=now, updated_at=now)
    if stuck:
        logger.warning("Outbox sweep: %s e-mails were in flight too long; queued again.", stuck)
    for email_id in [*stuck, *waiting]:
        if not publish_email(email_id=email_id, even_if_broker_failed=True):
            break  # the broker is down; the next sweep tries again
    return SweepResult(republished=len(waiting), rescued=len(stuck))


def requeue_email(*, email_id: int) -> bool:
    """Send a failed (or skipped) row again, with a fresh set of attempts: for staff after the
    cause is fixed. Returns False when the row is not failed or skipped."""
    now = timezone.now()
    updated = OutgoingEmail.objects.filter(
        pk=email_id,
        status__in=[OutgoingEmail.Status.FAILED, OutgoingEmail.Status.SKIPPED],
    ).update(status=OutgoingEmail.Status.QUEUED, attempts=0, next_attempt_at=now, updated_at=now)
    if updated:
        transaction.on_commit(lambda: publish_email(email_id=email_id))
    return bool(updated)


def delete_old_sent_emails(*, now: datetime | None = None, days: int | None = None) -> int:
    """Delete sent, skipped and failed rows last changed more than `days`
    (OUTBOX_KEEP_SENT_DAYS) ago: they hold personal data, and a ready-made account mail
    holds a link, that are no longer needed. A failed row stays that long for staff to look
    at and send again. Returns how many rows were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OUTBOX_KEEP_SENT_DAYS if days is None else days)
    deleted, _by_model = OutgoingEmail.objects.filter(
        Q(status=OutgoingEmail.Status.SENT, sent_at__lt=cutoff)
        | Q(
            status__in=[OutgoingEmail.Status.SKIPPED, OutgoingEmail.Status.FAILED],
            updated_at__lt=cutoff,
        )
    ).delete()
    return deleted
