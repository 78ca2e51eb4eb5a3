"""Which e-mails a registration change produces (writes outbox rows).

Every function here writes rows through `outbox.services.queue_email` and must be called
inside the transaction of the change that causes the message, so the message exists if and
only if the change commits. Rows carry ids only; `events.emails` renders them at send time in
the registration's language. De-duplication keys make each one-time message (one
confirmation per registration, one reminder, …) impossible to write twice.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from outbox.models import OutgoingEmail
from outbox.services import queue_email, requeue_email

from .models import Event, Registration

CONFIRMATION = "events.confirmation"
WAITLISTED = "events.waitlisted"
PROMOTED = "events.promoted"
CANCELLED = "events.cancelled"
REMINDER = "events.reminder"
STAFF_MESSAGE = "events.staff_message"
EVENT_CANCELLED = "events.event_cancelled"
EVENT_RESTORED = "events.event_restored"

KINDS = (
    CONFIRMATION,
    WAITLISTED,
    PROMOTED,
    CANCELLED,
    REMINDER,
    STAFF_MESSAGE,
    EVENT_CANCELLED,
    EVENT_RESTORED,
)


def _dedup_key(registration: Registration, what: str) -> str:
    return f"registration:{registration.pk}:{what}"


def _queue(
    *, kind: str, registration: Registration, dedup_key: str, context: dict | None = None
) -> OutgoingEmail | None:
    return queue_email(
        kind=kind,
        recipient=registration.email,
        language=registration.language or settings.LANGUAGE_CODE,
        context={"registration_id": registration.pk, **(context or {})},
        dedup_key=dedup_key,
        about=registration,
    )


def queue_confirmation(*, registration: Registration) -> OutgoingEmail | None:
    """The confirmation (with ticket and calendar invite); at most one per registration.

    Returns the row, or None when the registration already has its confirmation.
    """
    return _queue(
        kind=CONFIRMATION,
        registration=registration,
        dedup_key=_dedup_key(registration, "confirmation"),
    )


def queue_confirmation_again(*, registration: Registration) -> OutgoingEmail:
    """A fresh copy of the confirmation, asked for by staff ("resend confirmation").

    Its key is unique to this request, so it is always written, once.
    """
    email = _queue(
        kind=CONFIRMATION,
        registration=registration,
        dedup_key=_dedup_key(registration, f"confirmation:again:{uuid.uuid4().hex}"),
    )
    assert email is not None  # a fresh uuid cannot collide  # noqa: S101
    return email


def queue_waitlisted(*, registration: Registration) -> OutgoingEmail | None:
    """The notice that the person is on the waiting list; at most one per registration."""
    return _queue(
        kind=WAITLISTED,
        registration=registration,
        dedup_key=_dedup_key(registration, "waitlisted"),
    )


def queue_promoted(*, registration: Registration) -> OutgoingEmail | None:
    """The notice that a wait-listed person now has a seat; at most one per registration."""
    return _queue(
        kind=PROMOTED,
        registration=registration,
        dedup_key=_dedup_key(registration, "promoted"),
    )


def queue_cancelled(*, registration: Registration) -> OutgoingEmail | None:
    """The confirmation of a cancellation; at most one per registration."""
    return _queue(
        kind=CANCELLED,
        registration=registration,
        dedup_key=_dedup_key(registration, "cancelled"),
    )


def queue_reminder(*, registration: Registration) -> OutgoingEmail | None:
    """The reminder shortly before the event; at most one per registration and start time
    (an event postponed after its reminder went out is reminded of again before the new
    date)."""
    starts_at = registration.event.starts_at.astimezone(datetime.UTC)
    return _queue(
        kind=REMINDER,
        registration=registration,
        dedup_key=_dedup_key(registration, f"reminder:{starts_at:%Y%m%dT%H%M}"),
    )


def _last_event_status_notice(registration: Registration) -> OutgoingEmail | None:
    """The latest notice that the event is cancelled or on again, for the registration."""
    return (
        OutgoingEmail.objects.for_object(registration)
        .filter(kind__in=[EVENT_CANCELLED, EVENT_RESTORED])
        .order_by("-id")
        .first()
    )


def queue_event_cancelled(
    *, registration: Registration, moment: datetime.datetime
) -> OutgoingEmail | None:
    """The notice that the organisers cancelled the event, unless the person already believes
    it is (their last such notice says cancelled, sent or on its way). A notice skipped
    because the event was restored before it went out is queued again rather than written
    anew. `moment` is the cancellation's, which makes the key of each cancellation its own.
    Returns the row written or queued again, or None."""
    last = _last_event_status_notice(registration)
    if last is not None and last.kind == EVENT_CANCELLED:
        if last.status == OutgoingEmail.Status.SKIPPED and requeue_email(email_id=last.pk):
            return last
        if last.status != OutgoingEmail.Status.FAILED:
            return None
    return _queue(
        kind=EVENT_CANCELLED,
        registration=registration,
        dedup_key=_dedup_key(registration, f"event-cancelled:{moment.isoformat()}"),
    )


def queue_event_restored(
    *, registration: Registration, moment: datetime.datetime
) -> OutgoingEmail | None:
    """The notice that a cancelled event goes ahead after all, for a person who was told it
    was cancelled (their notice sent, or being sent). Whoever was not told yet hears nothing:
    their cancellation notice, still queued, is skipped when the worker finds the event on.
    Returns the row written, or None."""
    last = _last_event_status_notice(registration)
    told = (OutgoingEmail.Status.SENT, OutgoingEmail.Status.IN_FLIGHT)
    if last is None or last.kind != EVENT_CANCELLED or last.status not in told:
        return None
    return _queue(
        kind=EVENT_RESTORED,
        registration=registration,
        dedup_key=_dedup_key(registration, f"event-restored:{moment.isoformat()}"),
    )


@transaction.atomic
def queue_staff_message(
    *, event: Event, subject: str, body: str, sent_by, message_id: str | None = None
) -> int:
    """One message from staff to every confirmed attendee of the event; returns how many
    rows this call wrote.

    All rows are written in one transaction (all or none). Each row's key names the message
    and the registration, so nobody is mailed twice for one message: `message_id` (the
    staff's form carries one) makes a second submission of the same message write nothing,
    or only the rows of attendees confirmed since; without one, a fresh id is used. `sent_by`
    is recorded in the context for the staff's history.
    """
    message_id = message_id or uuid.uuid4().hex
    count = 0
    registrations = Registration.objects.filter(event=event).confirmed().order_by("id")
    for registration in registrations.iterator(chunk_size=500):
        email = _queue(
            kind=STAFF_MESSAGE,
            registration=registration,
            dedup_key=f"staff-message:{message_id}:registration:{registration.pk}",
            context={
                "subject": subject,
                "body": body,
                "sent_by_id": getattr(sent_by, "pk", None),
            },
        )
        if email is not None:
            count += 1
    return count


def queue_reminders(*, now: datetime.datetime | None = None, days_before: int | None = None) -> int:
    """Reminders for confirmed attendees of published events starting within the next
    `days_before` days (settings.REMINDER_DAYS_BEFORE by default) who have none yet. Whoever
    got their seat within that time before the start is not reminded: their confirmation
    (or promotion) e-mail, just sent, says it all.

    Idempotent: the per-registration key means a second run (or two runs at once) writes
    nothing new. Returns the number of rows written.
    """
    now = now or timezone.now()
    if days_before is None:
        days_before = settings.REMINDER_DAYS_BEFORE
    # Reminded already: a reminder written since the reminder time of the event's current
    # start. One written before that was for a date the event has since moved from.
    already_reminded = OutgoingEmail.objects.filter(
        content_type=ContentType.objects.get_for_model(Registration),
        object_id=OuterRef("pk"),
        kind=REMINDER,
        created_at__gte=OuterRef("event__starts_at") - datetime.timedelta(days=days_before + 1),
    )
    registrations = (
        Registration.objects.confirmed()
        .filter(
            event__status=Event.Status.PUBLISHED,
            event__starts_at__gt=now,
            event__starts_at__lte=now + datetime.timedelta(days=days_before),
            confirmed_at__lte=F("event__starts_at") - datetime.timedelta(days=days_before),
        )
        .annotate(has_reminder=Exists(already_reminded))
        .filter(has_reminder=False)
        .order_by("id")
    )
    count = 0
    for registration in registrations.iterator(chunk_size=500):
        # One transaction per row: a failure midway keeps the reminders already written.
        with transaction.atomic():
            if queue_reminder(registration=registration) is not None:
                count += 1
    return count
