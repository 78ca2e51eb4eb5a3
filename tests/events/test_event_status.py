"""Publishing, cancelling and withdrawing an event, and who goes first for a freed seat."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from events import notifications, services
from events.models import Event, Registration
from outbox.models import OutgoingEmail
from outbox.services import build_message
from tests.factories import EventFactory, RegistrationFactory, UserFactory, admin_form_data

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


def register(event, user=None):
    return services.register_for_event(
        event_id=event.pk, user=user or UserFactory(), details=services.RegistrationDetails()
    ).registration


def free_event(**fields):
    fields.setdefault("member_price", 0)
    fields.setdefault("standard_price", 0)
    return EventFactory(**fields)


def event_cancelled_rows(event):
    return OutgoingEmail.objects.filter(
        kind=notifications.EVENT_CANCELLED, object_id__in=event.registrations.values("pk")
    )


# --- Nobody jumps the waiting list -------------------------------------------------------------


def test_a_seat_freed_while_the_event_was_a_draft_goes_to_the_waiting_list_first():
    event = free_event(capacity=1)
    first, waiting = register(event), register(event)
    services.change_event_status(event_id=event.pk, status=Event.Status.DRAFT)
    services.change_capacity(event_id=event.pk, capacity=2)  # nobody promoted: a draft
    Event.objects.filter(pk=event.pk).update(status=Event.Status.PUBLISHED)  # bypassing it

    newcomer = register(event)

    waiting.refresh_from_db()
    assert first.status == Registration.Status.CONFIRMED
    assert waiting.status == Registration.Status.CONFIRMED
    assert newcomer.status == Registration.Status.WAITLISTED
    event.refresh_from_db()
    assert (event.confirmed_count, event.waitlisted_count) == (2, 1)


def test_publishing_again_promotes_into_seats_freed_meanwhile():
    event = free_event(capacity=1)
    register(event)
    waiting = register(event)
    services.change_event_status(event_id=event.pk, status=Event.Status.DRAFT)
    services.change_capacity(event_id=event.pk, capacity=2)

    change = services.change_event_status(event_id=event.pk, status=Event.Status.PUBLISHED)

    assert [registration.pk for registration in change.promoted] == [waiting.pk]
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED
    assert OutgoingEmail.objects.filter(dedup_key=f"registration:{waiting.pk}:promoted").exists()


# --- Cancelling an event -----------------------------------------------------------------------


def test_cancelling_tells_every_registered_and_waiting_person_once():
    event = free_event(capacity=1)
    confirmed, waiting = register(event), register(event)
    withdrawn = register(event)
    services.cancel_registration(registration_id=withdrawn.pk)

    change = services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)
    again = services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)

    assert change.notified == 2 and again.notified == 0
    assert set(event_cancelled_rows(event).values_list("object_id", flat=True)) == {
        confirmed.pk,
        waiting.pk,
    }
    # Registrations keep their status: restoring the event restores them.
    statuses = dict(Registration.objects.filter(event=event).values_list("pk", "status"))
    assert statuses[confirmed.pk] == Registration.Status.CONFIRMED
    assert statuses[waiting.pk] == Registration.Status.WAITLISTED
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED


def test_cancelling_restoring_and_cancelling_again_writes_no_second_notice():
    event = free_event()
    register(event)
    services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)
    services.change_event_status(event_id=event.pk, status=Event.Status.PUBLISHED)

    change = services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)

    assert change.notified == 0
    assert event_cancelled_rows(event).count() == 1


def test_the_notice_says_the_event_is_cancelled_and_is_skipped_if_it_is_on_again():
    from outbox.services import MessageNotNeeded

    event = free_event(title="Microbiome day")
    registration = register(event)
    services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)
    row = event_cancelled_rows(event).get()

    message = build_message(row)

    assert message.subject == "Cancelled by the organisers: Microbiome day"
    assert "the organisers have cancelled Microbiome day" in message.body
    assert registration.get_absolute_url() in message.body
    Event.objects.filter(pk=event.pk).update(status=Event.Status.PUBLISHED)
    with pytest.raises(MessageNotNeeded):
        build_message(row)


def test_an_unknown_status_is_refused():
    event = free_event()
    with pytest.raises(ValueError):
        services.change_event_status(event_id=event.pk, status="postponed")
    event.refresh_from_db()
    assert event.status == Event.Status.PUBLISHED


@pytest.mark.parametrize(
    ("status", "starts_in", "code"),
    [
        (Event.Status.DRAFT, 24 * HOUR, "not_open"),
        (Event.Status.CANCELLED, 24 * HOUR, "not_open"),
        (Event.Status.PUBLISHED, -HOUR, "over"),
        (Event.Status.PUBLISHED, datetime.timedelta(0), "over"),  # at the very start
    ],
)
def test_staff_cannot_promote_into_an_event_that_is_off_or_has_started(status, starts_in, code):
    now = timezone.now()
    event = free_event(
        capacity=1,
        starts_at=now + starts_in,
        registration_opens_at=now - 48 * HOUR,
        registration_closes_at=now - 47 * HOUR,
        cancellation_deadline=now - 47 * HOUR,
    )
    RegistrationFactory(event=event)
    waiting = RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
    Event.objects.filter(pk=event.pk).update(
        status=status, capacity=2, confirmed_count=1, waitlisted_count=1
    )

    with pytest.raises(services.RegistrationError) as refusal:
        services.promote_from_waiting_list(registration_id=waiting.pk, now=now)

    assert refusal.value.code == code
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.WAITLISTED
    assert not OutgoingEmail.objects.filter(kind=notifications.PROMOTED).exists()


def test_staff_can_promote_up_to_the_last_moment_before_the_start():
    now = timezone.now()
    event = free_event(
        capacity=2,
        starts_at=now + datetime.timedelta(seconds=1),
        registration_opens_at=now - 48 * HOUR,
        registration_closes_at=now - 47 * HOUR,
        cancellation_deadline=now - 47 * HOUR,
    )
    waiting = RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
    Event.objects.filter(pk=event.pk).update(waitlisted_count=1)

    services.promote_from_waiting_list(registration_id=waiting.pk, now=now)

    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED


# --- In the admin ------------------------------------------------------------------------------


def test_cancelling_in_the_admin_tells_the_attendees_and_says_how_many(client, staff_user):
    event = free_event()
    register(event)
    register(event)
    client.force_login(staff_user)
    url = reverse("admin:events_event_change", args=[event.pk])
    data = admin_form_data(client.get(url))
    data["status"] = Event.Status.CANCELLED

    # It asks first: cancelling e-mails everyone at once.
    unconfirmed = client.post(url, data)
    assert unconfirmed.status_code == 200
    assert (
        "Cancelling e-mails the 2 people registered or waiting that the event is cancelled. "
        "Tick the box to confirm." in unconfirmed.content.decode()
    )
    assert not event_cancelled_rows(event).exists()
    event.refresh_from_db()
    assert event.status == Event.Status.PUBLISHED

    data["confirm_status_change"] = "on"
    response = client.post(url, data, follow=True)

    assert "2 people were told by e-mail that the event is cancelled." in (
        response.content.decode()
    )
    assert event_cancelled_rows(event).count() == 2
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED


def test_a_notice_skipped_because_the_event_was_restored_goes_out_when_it_is_cancelled_again():
    from outbox.services import send_queued_email

    event = free_event()
    register(event)
    services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)
    services.change_event_status(event_id=event.pk, status=Event.Status.PUBLISHED)
    row = event_cancelled_rows(event).get()
    send_queued_email(email_id=row.pk)  # the worker finds the event on again
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SKIPPED

    change = services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)

    assert change.notified == 1
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.QUEUED
    assert event_cancelled_rows(event).count() == 1


def test_a_page_opened_before_a_colleague_cancelled_cannot_quietly_publish_again(
    client, staff_user
):
    event = free_event()
    register(event)
    client.force_login(staff_user)
    url = reverse("admin:events_event_change", args=[event.pk])
    data = admin_form_data(client.get(url))  # opened while published
    services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)  # a colleague
    data["title"] = "Fixed a typo"

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Someone changed the status to “Cancelled” while this page was open." in (
        response.content.decode()
    )
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED
    assert event.title != "Fixed a typo"

    # Reloaded, the same change saves.
    data = admin_form_data(client.get(url))
    data["title"] = "Fixed a typo"
    assert client.post(url, data).status_code == 302
    event.refresh_from_db()
    assert (event.status, event.title) == (Event.Status.CANCELLED, "Fixed a typo")


def test_cancelling_an_event_that_is_over_tells_nobody():
    now = timezone.now()
    event = free_event(
        starts_at=now - 48 * HOUR,
        ends_at=now - 40 * HOUR,
        registration_opens_at=now - 100 * HOUR,
        registration_closes_at=now - 50 * HOUR,
        cancellation_deadline=now - 50 * HOUR,
    )
    RegistrationFactory(event=event)

    change = services.change_event_status(event_id=event.pk, status=Event.Status.CANCELLED)

    assert change.notified == 0
    assert not event_cancelled_rows(event).exists()


def test_details_of_a_cancelled_event_are_no_longer_editable():
    registration = RegistrationFactory(event=free_event())
    Event.objects.filter(pk=registration.event_id).update(status=Event.Status.CANCELLED)
    registration.refresh_from_db()

    assert services.details_still_editable(registration=registration, now=timezone.now()) is False


def test_cancelling_an_event_nobody_registered_for_needs_no_confirmation(client, staff_user):
    event = free_event()
    client.force_login(staff_user)
    url = reverse("admin:events_event_change", args=[event.pk])
    data = admin_form_data(client.get(url))
    data["status"] = Event.Status.CANCELLED

    assert client.post(url, data).status_code == 302
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED


def test_setting_an_event_people_registered_for_back_to_draft_asks_first(client, staff_user):
    event = free_event()
    register(event)
    client.force_login(staff_user)
    url = reverse("admin:events_event_change", args=[event.pk])
    data = admin_form_data(client.get(url))
    data["status"] = Event.Status.DRAFT

    unconfirmed = client.post(url, data)

    assert "As a draft the event is hidden from the 1 person registered or waiting" in (
        unconfirmed.content.decode()
    )
    event.refresh_from_db()
    assert event.status == Event.Status.PUBLISHED
    data["confirm_status_change"] = "on"
    assert client.post(url, data).status_code == 302
    event.refresh_from_db()
    assert event.status == Event.Status.DRAFT
