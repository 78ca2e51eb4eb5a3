"""events.notifications: which outbox rows a registration change writes, exactly once."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from events import notifications
from events.models import Event, Registration
from outbox.models import OutgoingEmail
from tests.factories import EventFactory, RegistrationFactory, UserFactory

pytestmark = pytest.mark.django_db


DAY = datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("function", "kind", "suffix"),
    [
        (notifications.queue_confirmation, "events.confirmation", "confirmation"),
        (notifications.queue_waitlisted, "events.waitlisted", "waitlisted"),
        (notifications.queue_promoted, "events.promoted", "promoted"),
        (notifications.queue_cancelled, "events.cancelled", "cancelled"),
        (notifications.queue_reminder, "events.reminder", "reminder"),
    ],
)
def test_one_time_messages_are_written_once(function, kind, suffix):
    registration = RegistrationFactory(email="Ida@Example.org", language="da")
    email = function(registration=registration)
    assert email is not None
    email.refresh_from_db()
    assert email.kind == kind
    assert email.recipient == "Ida@Example.org"
    assert email.language == "da"
    assert email.context == {"registration_id": registration.pk}
    if kind == "events.reminder":  # one per start time: a postponed event is reminded of
        starts = registration.event.starts_at.astimezone(datetime.UTC)
        suffix = f"reminder:{starts:%Y%m%dT%H%M}"
    assert email.dedup_key == f"registration:{registration.pk}:{suffix}"
    assert email.about == registration
    assert email.status == OutgoingEmail.Status.QUEUED
    assert function(registration=registration) is None
    assert OutgoingEmail.objects.for_object(registration).count() == 1


def test_a_message_exists_only_if_the_change_commits():
    registration = RegistrationFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        notifications.queue_confirmation(registration=registration)
        raise RuntimeError("the change failed")
    assert not OutgoingEmail.objects.exists()
    assert notifications.queue_confirmation(registration=registration) is not None


def test_staff_can_send_the_confirmation_again():
    registration = RegistrationFactory()
    notifications.queue_confirmation(registration=registration)
    first = notifications.queue_confirmation_again(registration=registration)
    second = notifications.queue_confirmation_again(registration=registration)
    assert first.pk != second.pk
    assert first.kind == second.kind == "events.confirmation"
    assert OutgoingEmail.objects.for_object(registration).count() == 3


def test_staff_message_goes_to_every_confirmed_attendee_once():
    event = EventFactory()
    confirmed = [RegistrationFactory(event=event) for _ in range(3)]
    RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
    RegistrationFactory(event=event, status=Registration.Status.CANCELLED)
    RegistrationFactory()  # another event
    staff = UserFactory(is_staff=True)

    count = notifications.queue_staff_message(
        event=event, subject="Room change", body="We meet in room 2.", sent_by=staff
    )

    assert count == 3
    rows = OutgoingEmail.objects.filter(kind="events.staff_message")
    assert sorted(row.context["registration_id"] for row in rows) == sorted(r.pk for r in confirmed)
    for row in rows:
        assert row.context["subject"] == "Room change"
        assert row.context["body"] == "We meet in room 2."
        assert row.context["sent_by_id"] == staff.pk
        assert row.dedup_key.startswith("staff-message:")
        assert row.dedup_key.endswith(f":registration:{row.context['registration_id']}")
        assert row.about.event == event
    # The same text sent again is a new message, written again.
    assert (
        notifications.queue_staff_message(
            event=event, subject="Room change", body="We meet in room 2.", sent_by=staff
        )
        == 3
    )
    assert OutgoingEmail.objects.filter(kind="events.staff_message").count() == 6


def test_one_message_sent_twice_reaches_each_attendee_once():
    """The form's token names the message: a second submission writes nothing, except for
    an attendee confirmed in between."""
    event = EventFactory()
    RegistrationFactory(event=event)
    message = {"event": event, "subject": "Hi", "body": "Hello", "sent_by": None}
    token = "0123456789abcdef0123456789abcdef"

    assert notifications.queue_staff_message(**message, message_id=token) == 1
    assert notifications.queue_staff_message(**message, message_id=token) == 0
    RegistrationFactory(event=event)
    assert notifications.queue_staff_message(**message, message_id=token) == 1
    assert OutgoingEmail.objects.filter(kind="events.staff_message").count() == 2


def test_staff_message_to_an_event_without_attendees_writes_nothing():
    assert (
        notifications.queue_staff_message(
            event=EventFactory(), subject="Hi", body="Hello", sent_by=None
        )
        == 0
    )
    assert not OutgoingEmail.objects.exists()


NOW = timezone.now()


def event_starting(starts, **fields):
    """A day-long event starting then, without a registration window or deadline."""
    return EventFactory(
        starts_at=starts,
        ends_at=starts + fields.pop("lasting", DAY),
        registration_opens_at=None,
        registration_closes_at=None,
        cancellation_deadline=None,
        **fields,
    )


@pytest.mark.parametrize(
    ("starts_in", "event_status", "registration_status", "days_before", "reminded"),
    [
        (DAY, Event.Status.PUBLISHED, Registration.Status.CONFIRMED, 2, True),
        (2 * DAY, Event.Status.PUBLISHED, Registration.Status.CONFIRMED, 2, True),  # edge
        (2 * DAY + datetime.timedelta(minutes=1), "published", "confirmed", 2, False),
        (5 * DAY, Event.Status.PUBLISHED, Registration.Status.CONFIRMED, 7, True),
        (-datetime.timedelta(hours=1), "published", "confirmed", 2, False),  # started
        (DAY, Event.Status.DRAFT, Registration.Status.CONFIRMED, 2, False),
        (DAY, Event.Status.CANCELLED, Registration.Status.CONFIRMED, 2, False),
        (DAY, Event.Status.PUBLISHED, Registration.Status.WAITLISTED, 2, False),
        (DAY, Event.Status.PUBLISHED, Registration.Status.CANCELLED, 2, False),
    ],
)
def test_reminders(starts_in, event_status, registration_status, days_before, reminded):
    starts = NOW + starts_in
    event = event_starting(starts, lasting=datetime.timedelta(hours=3), status=event_status)
    registration = RegistrationFactory(
        event=event, status=registration_status, confirmed_at=NOW - 30 * DAY
    )

    count = notifications.queue_reminders(now=NOW, days_before=days_before)

    assert count == int(reminded)
    rows = OutgoingEmail.objects.filter(kind="events.reminder")
    assert rows.count() == int(reminded)
    if reminded:
        key = (
            f"registration:{registration.pk}:reminder:{starts.astimezone(datetime.UTC):%Y%m%dT%H%M}"
        )
        assert rows.get().dedup_key == key
    # Idempotent: a second run writes nothing new.
    assert notifications.queue_reminders(now=NOW, days_before=days_before) == 0
    assert OutgoingEmail.objects.filter(kind="events.reminder").count() == int(reminded)


@pytest.mark.parametrize(
    ("seated_before_start", "reminded"),
    [
        (10 * DAY, True),
        (2 * DAY, True),  # seated exactly when the reminders begin
        (2 * DAY - datetime.timedelta(minutes=1), False),  # the confirmation just went out
        (DAY, False),
    ],
)
def test_nobody_seated_within_the_reminder_time_is_reminded(seated_before_start, reminded):
    starts = NOW + DAY
    event = event_starting(starts)
    RegistrationFactory(event=event, confirmed_at=starts - seated_before_start)

    assert notifications.queue_reminders(now=NOW, days_before=2) == int(reminded)


def test_reminders_default_to_the_setting(settings):
    settings.REMINDER_DAYS_BEFORE = 3
    starts = NOW + 2.5 * DAY
    event = event_starting(starts)
    RegistrationFactory(event=event, confirmed_at=NOW - 30 * DAY)
    RegistrationFactory(event=event, confirmed_at=NOW - 30 * DAY)
    assert notifications.queue_reminders(now=NOW) == 2
    settings.REMINDER_DAYS_BEFORE = 1
    other = event_starting(starts)
    RegistrationFactory(event=other, confirmed_at=NOW - 30 * DAY)
    assert notifications.queue_reminders(now=NOW) == 0


def test_reminders_run_a_fixed_number_of_queries(django_assert_max_num_queries):
    starts = NOW + DAY
    event = event_starting(starts)
    for _ in range(3):
        RegistrationFactory(event=event, confirmed_at=NOW - 30 * DAY)
    assert notifications.queue_reminders(now=NOW) == 3
    # With everyone reminded, a run is a single query, however many attendees there are.
    with django_assert_max_num_queries(1):
        assert notifications.queue_reminders(now=NOW) == 0
