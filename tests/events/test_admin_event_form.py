"""The event's change page: programme items must fit in the event, and the slug stays put
once people may have the event's address."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from events import services
from events.models import Event, ProgrammeItem, Registration
from tests.factories import (
    EventFactory,
    ProgrammeItemFactory,
    RegistrationFactory,
    admin_form_data,
)

pytestmark = pytest.mark.django_db

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
PREFIX = "programme"


def change_url(event):
    return reverse("admin:events_event_change", args=[event.pk])


def at(day: int, hour: int, minute: int = 0, *, month: int = 3, year: int = 2031):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN)


@pytest.fixture
def meeting():
    """1 March 2031, 09:00–17:00 in Copenhagen, with one programme item."""
    event = EventFactory(
        title="Annual meeting",
        slug="annual-meeting-2031",
        starts_at=at(1, 9),
        ends_at=at(1, 17),
        registration_opens_at=None,
        registration_closes_at=None,
        cancellation_deadline=None,
    )
    ProgrammeItemFactory(event=event, title="Keynote", starts_at=at(1, 9, 30), ends_at=at(1, 10))
    return event


def with_item(data: dict, index: int, starts: datetime.datetime, ends=None) -> dict:
    data = dict(data)
    data[f"{PREFIX}-{index}-starts_at_0"] = starts.date().isoformat()
    data[f"{PREFIX}-{index}-starts_at_1"] = starts.strftime("%H:%M")
    data[f"{PREFIX}-{index}-ends_at_0"] = ends.date().isoformat() if ends else ""
    data[f"{PREFIX}-{index}-ends_at_1"] = ends.strftime("%H:%M") if ends else ""
    return data


def item_errors(response, index: int = 0) -> dict[str, list[str]]:
    [inline] = response.context["inline_admin_formsets"]
    return {name: list(errors) for name, errors in inline.formset.forms[index].errors.items()}


# --- Programme items fit in their event ---------------------------------------------------------


@pytest.mark.parametrize(
    ("starts", "ends", "errors"),
    [
        # Typed with the wrong year: a year after the event.
        (
            at(1, 9, 30, year=2032),
            at(1, 10, year=2032),
            {
                "starts_at": [
                    "A programme item cannot start after the event ends "
                    "(Saturday 1 March 2031, 17:00)."
                ],
                "ends_at": [
                    "A programme item cannot end after the event ends "
                    "(Saturday 1 March 2031, 17:00)."
                ],
            },
        ),
        (
            at(1, 8),
            at(1, 9, 30),
            {
                "starts_at": [
                    "A programme item cannot start before the event starts "
                    "(Saturday 1 March 2031, 09:00)."
                ]
            },
        ),
        (
            at(1, 16),
            at(1, 18),
            {
                "ends_at": [
                    "A programme item cannot end after the event ends "
                    "(Saturday 1 March 2031, 17:00)."
                ]
            },
        ),
        (
            at(2, 9),
            None,
            {
                "starts_at": [
                    "A programme item cannot start after the event ends "
                    "(Saturday 1 March 2031, 17:00)."
                ]
            },
        ),
    ],
    ids=["a-year-later", "before-the-start", "ends-after-the-end", "next-day-without-end"],
)
def test_a_programme_item_outside_its_event_is_refused_on_its_field(
    client, staff, meeting, starts, ends, errors
):
    data = with_item(admin_form_data(client.get(change_url(meeting))), 0, starts, ends)

    response = client.post(change_url(meeting), data)

    assert response.status_code == 200
    assert item_errors(response) == errors
    content = response.content.decode()
    for messages in errors.values():
        assert messages[0] in content
    item = meeting.programme.get()
    assert (item.starts_at, item.ends_at) == (at(1, 9, 30), at(1, 10))


@pytest.mark.parametrize(
    ("starts", "ends"),
    [(at(1, 9), at(1, 17)), (at(1, 16, 30), None), (at(1, 17), None)],
    ids=["the-whole-event", "no-end", "at-the-very-end"],
)
def test_a_programme_item_within_its_event_is_saved(client, staff, meeting, starts, ends):
    data = with_item(admin_form_data(client.get(change_url(meeting))), 0, starts, ends)

    response = client.post(change_url(meeting), data)

    assert response.status_code == 302
    item = meeting.programme.get()
    assert (item.starts_at, item.ends_at) == (starts, ends)


def test_a_new_programme_item_is_checked_too(client, staff, meeting):
    data = admin_form_data(client.get(change_url(meeting)))
    data[f"{PREFIX}-TOTAL_FORMS"] = "2"
    data[f"{PREFIX}-1-title"] = "Dinner"
    data = with_item(data, 1, at(1, 19), at(1, 22))

    response = client.post(change_url(meeting), data)

    assert response.status_code == 200
    assert set(item_errors(response, 1)) == {"starts_at", "ends_at"}
    assert item_errors(response, 0) == {}
    assert not ProgrammeItem.objects.filter(title="Dinner").exists()


def test_postponing_the_event_moves_its_programme_with_it(client, staff, meeting):
    """Postponed by a week: the items left as they were move a week too, so nobody retypes
    every date."""
    data = admin_form_data(client.get(change_url(meeting)))
    data["starts_at_0"] = data["ends_at_0"] = "2031-03-08"

    response = client.post(change_url(meeting), data, follow=True)

    assert response.status_code == 200
    assert "1 programme item moved with the event." in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.starts_at == at(8, 9)
    item = ProgrammeItem.objects.get(event=meeting)
    assert (item.starts_at, item.ends_at) == (at(8, 9, 30), at(8, 10))


def test_an_item_edited_while_the_event_moves_stays_as_typed_and_is_checked_so(
    client, staff, meeting
):
    data = admin_form_data(client.get(change_url(meeting)))
    data["starts_at_0"] = data["ends_at_0"] = "2031-03-08"
    typed_on_the_old_day = with_item(data, 0, at(1, 11), at(1, 12))

    response = client.post(change_url(meeting), typed_on_the_old_day)

    assert response.status_code == 200
    assert item_errors(response) == {
        "starts_at": [
            "A programme item cannot start before the event starts (Saturday 8 March 2031, 09:00)."
        ]
    }
    meeting.refresh_from_db()
    assert meeting.starts_at == at(1, 9)

    client.post(change_url(meeting), with_item(data, 0, at(8, 11), at(8, 12)))
    item = ProgrammeItem.objects.get(event=meeting)
    assert (item.starts_at, item.ends_at) == (at(8, 11), at(8, 12))


def test_shortening_the_event_is_checked_against_its_programme(client, staff, meeting):
    data = admin_form_data(client.get(change_url(meeting)))
    data["ends_at_1"] = "09:45"

    response = client.post(change_url(meeting), data)

    assert item_errors(response) == {
        "ends_at": [
            "A programme item cannot end after the event ends (Saturday 1 March 2031, 09:45)."
        ]
    }


def test_an_item_outside_the_event_can_still_be_deleted(client, staff, meeting):
    ProgrammeItem.objects.filter(event=meeting).update(starts_at=at(1, 9, year=2032), ends_at=None)
    data = admin_form_data(client.get(change_url(meeting)))
    data[f"{PREFIX}-0-DELETE"] = "on"

    response = client.post(change_url(meeting), data)

    assert response.status_code == 302
    assert not meeting.programme.exists()


def test_a_new_event_s_programme_is_checked_against_its_dates(client, staff):
    response = client.post(
        reverse("admin:events_event_add"),
        {
            "title": "Annual meeting",
            "slug": "annual-meeting-2031",
            "status": "draft",
            "starts_at_0": "2031-03-01",
            "starts_at_1": "09:00",
            "ends_at_0": "2031-03-01",
            "ends_at_1": "17:00",
            "currency": "DKK",
            "content_language": "en",
            "member_price": "0",
            "standard_price": "0",
            "programme-TOTAL_FORMS": "1",
            "programme-INITIAL_FORMS": "0",
            "programme-0-title": "Keynote",
            "programme-0-starts_at_0": "2030-03-01",
            "programme-0-starts_at_1": "09:30",
        },
    )
    assert response.status_code == 200
    assert item_errors(response) == {
        "starts_at": [
            "A programme item cannot start before the event starts (Saturday 1 March 2031, 09:00)."
        ]
    }
    assert not Event.objects.filter(slug="annual-meeting-2031").exists()


# --- The slug -------------------------------------------------------------------------------------


def slug_is_an_input(response) -> bool:
    return 'name="slug"' in response.content.decode()


def test_a_draft_without_registrations_keeps_an_editable_slug(client, staff, meeting):
    Event.objects.filter(pk=meeting.pk).update(status=Event.Status.DRAFT)
    page = client.get(change_url(meeting))
    assert slug_is_an_input(page)
    assert "It can be changed only while the event is a draft that nobody has registered for." in (
        page.content.decode()
    )
    data = admin_form_data(page)
    data["slug"] = "annual-meeting"

    response = client.post(change_url(meeting), data)

    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.slug == "annual-meeting"


@pytest.mark.parametrize(
    ("status", "registered"),
    [
        (Event.Status.PUBLISHED, False),
        (Event.Status.CANCELLED, False),
        (Event.Status.DRAFT, True),
    ],
    ids=["published", "cancelled", "draft-with-a-registration"],
)
def test_the_slug_is_read_only_once_people_may_have_the_address(
    client, staff, meeting, status, registered
):
    Event.objects.filter(pk=meeting.pk).update(status=status)
    if registered:
        RegistrationFactory(event=meeting, status=Registration.Status.CANCELLED)

    page = client.get(change_url(meeting))

    content = page.content.decode()
    assert not slug_is_an_input(page)
    assert "annual-meeting-2031" in content
    assert "The web address of this event cannot change any more" in content
    # The title no longer fills in the slug as it is typed.
    assert page.context["adminform"].prepopulated_fields == []

    data = admin_form_data(page)
    data["slug"] = "something-else"
    data["title"] = "Annual meeting 2031"
    response = client.post(change_url(meeting), data)

    assert response.status_code == 302
    meeting.refresh_from_db()
    assert (meeting.slug, meeting.title) == ("annual-meeting-2031", "Annual meeting 2031")


def test_a_registration_arriving_while_the_page_is_open_keeps_the_slug(client, staff, meeting):
    Event.objects.filter(pk=meeting.pk).update(status=Event.Status.DRAFT)
    data = admin_form_data(client.get(change_url(meeting)))
    RegistrationFactory(event=meeting)
    data["slug"] = "annual-meeting"
    data["venue"] = "Medicon Village"

    response = client.post(change_url(meeting), data, follow=True)

    assert (
        "The slug was not changed. The web address of this event cannot change any more: it "
        "has been published or has registrations, and links with this address on other pages "
        "and in e-mails already sent (with their calendar files) would stop working."
    ) in [str(message) for message in response.context["messages"]]
    meeting.refresh_from_db()
    assert (meeting.slug, meeting.venue) == ("annual-meeting-2031", "Medicon Village")


@pytest.mark.parametrize(
    ("status", "registered", "fixed"),
    [
        (Event.Status.DRAFT, False, False),
        (Event.Status.DRAFT, True, True),
        (Event.Status.PUBLISHED, False, True),
        (Event.Status.CANCELLED, False, True),
    ],
)
def test_slug_is_fixed(status, registered, fixed):
    event = EventFactory(status=status)
    if registered:
        RegistrationFactory(event=event)
    assert services.slug_is_fixed(event=event) is fixed
