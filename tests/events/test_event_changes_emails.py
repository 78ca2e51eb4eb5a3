"""What attendees are told when the organisers cancel an event and restore it, or move it
after its reminder went out; and what the e-mails say about cancelling."""

import datetime

import icalendar
import pytest
from django.utils import timezone

from events import notifications, services
from events.models import Event, Registration
from outbox.models import OutgoingEmail
from outbox.services import MessageNotNeeded, build_message, send_queued_email
from tests.factories import EventFactory, RegistrationFactory, UserFactory

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
Status = OutgoingEmail.Status


@pytest.fixture(autouse=True)
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def register(event, user=None):
    return services.register_for_event(
        event_id=event.pk, user=user or UserFactory(), details=services.RegistrationDetails()
    ).registration


def free_event(**fields):
    fields.setdefault("member_price", 0)
    fields.setdefault("standard_price", 0)
    return EventFactory(title="Microbiome day", **fields)


def rows(event, kind):
    return OutgoingEmail.objects.filter(
        kind=kind, object_id__in=event.registrations.values("pk")
    ).order_by("id")


def send_all():
    for pk in OutgoingEmail.objects.filter(status=Status.QUEUED).values_list("pk", flat=True):
        send_queued_email(email_id=pk)


def set_status(event, status):
    return services.change_event_status(event_id=event.pk, status=status)


# --- Cancelled, and on again ---------------------------------------------------------------------


def test_people_told_of_the_cancellation_hear_when_the_event_is_on_again(mailoutbox):
    event = free_event(capacity=1)
    seated, waiting = register(event), register(event)
    set_status(event, Event.Status.CANCELLED)
    send_all()
    mailoutbox.clear()

    change = set_status(event, Event.Status.PUBLISHED)
    send_all()

    assert change.notified == 2
    assert rows(event, notifications.EVENT_RESTORED).count() == 2
    by_recipient = {message.to[0]: message for message in mailoutbox}
    to_seated = by_recipient[seated.email]
    assert to_seated.subject == "Going ahead after all: Microbiome day"
    assert "Your registration is confirmed again, and your ticket is valid." in to_seated.body
    attachments = {part.get_content_type() for part in to_seated.message().walk()}
    assert {"image/png", "text/calendar"} <= attachments
    to_waiting = by_recipient[waiting.email]
    assert "You are on its waiting list again" in to_waiting.body
    assert "Your place in the queue: number 1" in to_waiting.body
    assert "text/calendar" not in {p.get_content_type() for p in to_waiting.message().walk()}


def test_someone_back_on_a_paid_waiting_list_is_reminded_a_place_comes_with_the_fee(mailoutbox):
    event = EventFactory(title="Lab tour", capacity=1, member_price=0, standard_price=400)
    details = services.RegistrationDetails(billing_organisation="X", billing_address="Y")
    services.register_for_event(event_id=event.pk, user=UserFactory(), details=details)
    waiting = services.register_for_event(
        event_id=event.pk, user=UserFactory(), details=details
    ).registration
    set_status(event, Event.Status.CANCELLED)
    send_all()
    mailoutbox.clear()

    set_status(event, Event.Status.PUBLISHED)
    send_all()

    [message] = [m for m in mailoutbox if m.to == [waiting.email]]
    assert "The fee of 400 DKK is then due" in message.body
    assert "The fee of 400 DKK is then due" in message.alternatives[0][0]


def test_nobody_hears_of_a_restoration_who_never_heard_of_the_cancellation(mailoutbox):
    event = free_event()
    register(event)
    send_all()  # the confirmation
    mailoutbox.clear()
    set_status(event, Event.Status.CANCELLED)  # the notice is still queued

    change = set_status(event, Event.Status.PUBLISHED)
    send_all()

    assert change.notified == 0
    assert not rows(event, notifications.EVENT_RESTORED).exists()
    assert rows(event, notifications.EVENT_CANCELLED).get().status == Status.SKIPPED
    assert mailoutbox == []


def test_cancelled_again_after_being_told_it_was_on_again_is_told_again(mailoutbox):
    event = free_event()
    register(event)
    set_status(event, Event.Status.CANCELLED)
    send_all()
    set_status(event, Event.Status.PUBLISHED)
    send_all()
    mailoutbox.clear()

    change = set_status(event, Event.Status.CANCELLED)
    send_all()

    assert change.notified == 1
    assert rows(event, notifications.EVENT_CANCELLED).count() == 2
    assert [m.subject for m in mailoutbox] == ["Cancelled by the organisers: Microbiome day"]


def test_a_restoration_notice_is_skipped_if_the_event_is_cancelled_again_before_it_goes():
    event = free_event()
    register(event)
    set_status(event, Event.Status.CANCELLED)
    send_all()
    set_status(event, Event.Status.PUBLISHED)
    restored = rows(event, notifications.EVENT_RESTORED).get()
    Event.objects.filter(pk=event.pk).update(status=Event.Status.CANCELLED)

    with pytest.raises(MessageNotNeeded):
        build_message(restored)


def test_the_admin_says_how_many_were_told_the_event_is_on_again(client, staff_user):
    from django.urls import reverse

    from tests.factories import admin_form_data

    event = free_event()
    register(event)
    register(event)
    set_status(event, Event.Status.CANCELLED)
    send_all()
    client.force_login(staff_user)
    url = reverse("admin:events_event_change", args=[event.pk])
    data = admin_form_data(client.get(url))
    data["status"] = Event.Status.PUBLISHED

    response = client.post(url, data, follow=True)

    assert (
        "2 people who had been told that the event was cancelled were told by e-mail that it "
        "goes ahead after all." in response.content.decode()
    )


def test_the_cancellation_notice_carries_a_calendar_file_that_cancels_the_entry():
    event = free_event()
    register(event)
    set_status(event, Event.Status.CANCELLED)

    message = build_message(rows(event, notifications.EVENT_CANCELLED).get())

    [calendar] = [
        part for part in message.message().walk() if part.get_content_type() == "text/calendar"
    ]
    [entry] = icalendar.Calendar.from_ical(calendar.get_payload(decode=True)).walk("VEVENT")
    assert str(entry["STATUS"]) == "CANCELLED"
    assert str(entry["UID"]) == f"event-{event.pk}@127.0.0.1"
    assert "marks the event as cancelled in your calendar" in message.body


def test_someone_waiting_who_never_had_a_calendar_file_gets_none_when_it_is_cancelled():
    event = free_event(capacity=1)
    register(event)
    waiting = register(event)
    set_status(event, Event.Status.CANCELLED)

    row = rows(event, notifications.EVENT_CANCELLED).get(object_id=waiting.pk)
    message = build_message(row)

    types = {part.get_content_type() for part in message.message().walk()}
    assert "text/calendar" not in types
    assert "calendar" not in message.body


def test_each_change_of_the_event_raises_the_calendar_files_sequence():
    from events.calendar import event_calendar

    event = free_event()

    def sequence():
        event.refresh_from_db()
        [entry] = icalendar.Calendar.from_ical(event_calendar(event=event)).walk("VEVENT")
        return int(entry["SEQUENCE"])

    # Made an hour ago, last changed half an hour ago.
    Event.objects.filter(pk=event.pk).update(
        created_at=event.created_at - HOUR, updated_at=event.updated_at - HOUR / 2
    )
    first = sequence()
    set_status(event, Event.Status.CANCELLED)
    second = sequence()
    # A later change (a new date typed in the back office, say) saves the event again.
    event.title = "Microbiome day, moved"
    event.save()
    third = sequence()
    assert first < second <= third


# --- Moved after the reminder ---------------------------------------------------------------------


def test_an_event_postponed_after_its_reminder_is_reminded_of_again_before_the_new_date():
    now = timezone.now()
    event = EventFactory(
        starts_at=now + DAY,
        ends_at=now + DAY + 3 * HOUR,
        registration_opens_at=None,
        registration_closes_at=None,
        cancellation_deadline=None,
    )
    RegistrationFactory(event=event, confirmed_at=now - 30 * DAY)
    assert notifications.queue_reminders(now=now, days_before=2) == 1

    week = 7 * DAY
    Event.objects.filter(pk=event.pk).update(
        starts_at=event.starts_at + week, ends_at=event.ends_at + week
    )

    assert notifications.queue_reminders(now=now, days_before=2) == 0  # not yet
    assert notifications.queue_reminders(now=now + week, days_before=2) == 1
    assert notifications.queue_reminders(now=now + week, days_before=2) == 0  # once


def test_a_reminder_not_yet_sent_when_the_event_is_postponed_is_skipped(settings):
    settings.REMINDER_DAYS_BEFORE = 2
    now = timezone.now()
    event = EventFactory(starts_at=now + DAY, ends_at=now + DAY + 3 * HOUR)
    registration = RegistrationFactory(event=event, confirmed_at=now - 30 * DAY)
    reminder = notifications.queue_reminder(registration=registration)
    Event.objects.filter(pk=event.pk).update(
        starts_at=event.starts_at + 30 * DAY, ends_at=event.ends_at + 30 * DAY
    )

    with pytest.raises(MessageNotNeeded, match="later date"):
        build_message(reminder)


# --- What the e-mails say about cancelling --------------------------------------------------------


def test_someone_promoted_after_the_deadline_is_told_the_deadline_that_applies_to_them():
    now = timezone.now()
    event = free_event(
        capacity=1,
        starts_at=now + 3 * DAY,
        ends_at=now + 3 * DAY + 6 * HOUR,
        cancellation_deadline=now + 2 * DAY,
    )
    first = register(event)
    waiting = register(event)
    services.cancel_registration(
        registration_id=first.pk, enforce_deadline=False, now=now + 2 * DAY + HOUR
    )
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED

    message = build_message(rows(event, notifications.PROMOTED).get())

    closes_at = timezone.localtime(services.cancellation_closes_at(registration=waiting))
    assert closes_at == timezone.localtime(event.starts_at)
    assert f"{closes_at:%H:%M}" in message.body.split("You can cancel until")[1].splitlines()[0]


@pytest.mark.parametrize(
    ("deadline_passed", "waiting_list", "says"),
    [
        (False, True, "please cancel, so that the next person on the waiting list gets the place"),
        (False, False, "please cancel, so that someone else can have the place"),
        (True, True, "please tell the organisers at"),
    ],
)
def test_the_reminder_asks_to_cancel_only_where_one_can(deadline_passed, waiting_list, says):
    now = timezone.now()
    starts = now + DAY
    event = free_event(
        starts_at=starts,
        ends_at=starts + 6 * HOUR,
        has_waiting_list=waiting_list,
        cancellation_deadline=starts - (3 * DAY if deadline_passed else HOUR),
        registration_opens_at=now - 30 * DAY,
        registration_closes_at=None,
    )
    registration = RegistrationFactory(event=event, confirmed_at=now - 10 * DAY)

    message = build_message(notifications.queue_reminder(registration=registration))

    assert says in message.body
    html = message.alternatives[0].content
    assert ("View or cancel your registration" in html) is not deadline_passed
    if deadline_passed:
        assert "You can cancel until" not in message.body


def test_message_ids_carry_the_sites_domain(settings):
    settings.SITE_URL = "https://events.mva.org"
    registration = RegistrationFactory()

    email = notifications.queue_confirmation(registration=registration)

    assert email.message_id.endswith("@events.mva.org>")
