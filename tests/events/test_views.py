"""The attendee pages: every outcome a visitor can meet, including the errors."""

import datetime
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from icalendar import Calendar

from events import services
from events.models import Event, Registration, ean_check_digit_is_valid, validate_vat_number
from members.models import Institution
from tests.factories import (
    PASSWORD,
    EventFactory,
    InstitutionDomainFactory,
    InstitutionFactory,
    NetworkFactory,
    ProgrammeItemFactory,
    RegistrationFactory,
    UserFactory,
    add_email,
    event_staff_user,
    member_institution,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def past_event(**fields) -> Event:
    starts_at = fields.pop("starts_at", timezone.now() - 10 * DAY)
    return EventFactory(
        starts_at=starts_at,
        registration_opens_at=starts_at - 30 * DAY,
        registration_closes_at=starts_at - DAY,
        cancellation_deadline=starts_at - 2 * DAY,
        **fields,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text_of(response) -> str:
    """The page's visible text with whitespace collapsed, for phrase assertions."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def lund():
    return member_institution(domain="lu.se", name="Lund University")


@pytest.fixture
def lund_staff(lund):
    return UserFactory(email="anna.andersson@lu.se", first_name="Anna", last_name="Andersson")


@pytest.fixture
def outsider():
    return UserFactory(email="pat@gmail.example")


def register(client, event, **data):
    return client.post(reverse("events:register", args=[event.slug]), data)


BILLING = {
    "billing_organisation": "Acme Pharma A/S",
    "billing_address": "Ørestads Boulevard 1\n2300 København S",
}


# --- Event list -------------------------------------------------------------------------------


def test_list_shows_upcoming_soonest_first_and_past_apart_most_recent_first(client):
    now = timezone.now()
    later = EventFactory(title="Later meeting", starts_at=now + 40 * DAY)
    sooner = EventFactory(title="Sooner meeting", starts_at=now + 5 * DAY)
    long_ago = past_event(title="Long-ago meeting", starts_at=now - 300 * DAY)
    recent = past_event(title="Recent meeting", starts_at=now - 3 * DAY)

    response = client.get(reverse("events:list"))

    assert response.status_code == 200
    assert [e.pk for e in response.context["upcoming"]] == [sooner.pk, later.pk]
    assert [e.pk for e in response.context["past"]] == [recent.pk, long_ago.pk]
    html = response.content.decode()
    assert html.index("Sooner meeting") < html.index("Later meeting")
    assert html.index("Later meeting") < html.index("Past events") < html.index("Recent meeting")


def test_home_is_the_event_list(client):
    EventFactory(title="Annual meeting")
    response = client.get(reverse("events:home"))
    assert response.status_code == 200
    assert "Annual meeting" in text_of(response)


def test_list_never_shows_drafts_and_marks_cancelled_events(client):
    EventFactory(title="Secret draft", status=Event.Status.DRAFT)
    EventFactory(title="Called-off meeting", status=Event.Status.CANCELLED)

    response = client.get(reverse("events:list"))

    text = text_of(response)
    assert "Secret draft" not in text
    assert "Called-off meeting Cancelled" in text


def test_list_limits_past_events(client):
    for days in range(15):
        past_event(starts_at=timezone.now() - (days + 2) * DAY)
    response = client.get(reverse("events:list"))
    assert len(response.context["past"]) == 12


def test_list_filters_by_network(client):
    cancer = NetworkFactory(name="Cancer network", slug="cancer")
    medtech = NetworkFactory(name="Medtech network", slug="medtech")
    EventFactory(title="Tumour biology day", network=cancer)
    EventFactory(title="Device regulation day", network=medtech)
    past_event(title="Old cancer day", network=cancer)

    response = client.get(reverse("events:list"), {"network": "cancer"})

    text = text_of(response)
    assert "Tumour biology day" in text
    assert "Old cancer day" in text
    assert "Device regulation day" not in text
    assert response.context["selected_network"] == cancer
    assert 'href="/events/?network=medtech"' in response.content.decode()
    assert "<h1>Events: Cancer network</h1>" in response.content.decode()


def test_a_networks_description_is_marked_with_its_language(in_language):
    NetworkFactory(slug="cancer", description="Oncology in the region.", content_language="en")
    client = in_language("sv")

    html = client.get(reverse("events:list"), {"network": "cancer"}).content.decode()

    assert '<p class="lead" lang="en">Oncology in the region.</p>' in html


def test_list_with_an_unknown_network_shows_every_event_and_says_why(client):
    cancer = NetworkFactory(name="Cancer network", slug="cancer")
    EventFactory(title="Tumour biology day", network=cancer)
    EventFactory(title="Device regulation day")
    response = client.get(reverse("events:list"), {"network": "renamed-network"})
    assert response.status_code == 200
    text = text_of(response)
    assert "There is no network by that name (any more), so all events are shown." in text
    assert "Tumour biology day" in text and "Device regulation day" in text


@pytest.mark.parametrize(
    ("capacity", "confirmed", "waiting_list", "expected"),
    [
        (100, 0, True, "100 seats left"),
        (10, 9, True, "1 seat left"),
        (10, 10, True, "Waiting list"),
        (10, 10, False, "Full"),
        (None, 50, True, "Places available"),
    ],
)
def test_list_card_shows_seats(client, capacity, confirmed, waiting_list, expected):
    EventFactory(capacity=capacity, confirmed_count=confirmed, has_waiting_list=waiting_list)
    response = client.get(reverse("events:list"))
    assert expected in text_of(response)


def test_list_card_shows_time_in_copenhagen_venue_network_and_free_note(client):
    network = NetworkFactory(name="Microbiome network", slug="microbiome")
    EventFactory(
        network=network,
        venue="Bella Center",
        starts_at=datetime.datetime(2099, 6, 12, 7, 30, tzinfo=datetime.UTC),
        ends_at=datetime.datetime(2099, 6, 12, 15, 0, tzinfo=datetime.UTC),
        registration_opens_at=timezone.now() - DAY,
        member_university_staff_free=True,
    )
    text = text_of(client.get(reverse("events:list")))
    assert "Friday 12 June 2099, 09:30 – 17:00 CEST" in text  # 07:30 UTC in summer
    assert "Bella Center" in text
    assert "Microbiome network" in text
    assert "Free for staff of member universities" in text


def test_an_event_across_a_change_of_the_clocks_names_the_zone_of_each_end(client):
    event = EventFactory(
        starts_at=datetime.datetime(2099, 10, 24, 7, 0, tzinfo=datetime.UTC),  # 09:00 CEST
        ends_at=datetime.datetime(2099, 10, 26, 16, 0, tzinfo=datetime.UTC),  # 17:00 CET
        registration_opens_at=timezone.now() - DAY,
    )
    text = text_of(client.get(event.get_absolute_url()))
    assert "Saturday 24 October 2099, 09:00 CEST – Monday 26 October 2099, 17:00 CET" in text


def test_an_open_event_says_until_when_one_can_register(client):
    starts = datetime.datetime(2099, 3, 10, 8, 0, tzinfo=datetime.UTC)
    event = EventFactory(
        starts_at=starts,
        ends_at=starts + DAY,
        registration_opens_at=timezone.now() - DAY,
        registration_closes_at=datetime.datetime(2099, 3, 1, 11, 0, tzinfo=datetime.UTC),
    )
    text = text_of(client.get(event.get_absolute_url()))
    assert "Registration is open until Sunday 1 March 2099, 12:00 CET." in text


def test_deadlines_on_the_pages_name_their_time_zone(client, user):
    opens = datetime.datetime(2099, 1, 5, 14, 0, tzinfo=datetime.UTC)
    not_yet = EventFactory(
        registration_opens_at=opens, starts_at=opens + 30 * DAY, ends_at=opens + 31 * DAY
    )
    assert "Registration opens on Monday 5 January 2099, 15:00 CET." in text_of(
        client.get(not_yet.get_absolute_url())
    )
    deadline = datetime.datetime(2098, 7, 1, 10, 0, tzinfo=datetime.UTC)
    event = EventFactory(
        cancellation_deadline=deadline, starts_at=deadline + DAY, ends_at=deadline + 2 * DAY
    )
    registration = RegistrationFactory(event=event, user=user)
    client.force_login(user)
    page = text_of(client.get(registration.get_absolute_url()))
    assert "You can cancel until Tuesday 1 July 2098, 12:00 CEST." in page


def test_list_card_omits_free_note_when_the_event_charges_everyone(client):
    EventFactory(member_university_staff_free=False)
    assert "Free for staff of member universities" not in text_of(
        client.get(reverse("events:list"))
    )


def test_list_tells_a_signed_in_person_where_they_are_registered(client, user):
    event = EventFactory(title="Booked")
    RegistrationFactory(event=event, user=user)
    client.force_login(user)
    assert "You are registered" in text_of(client.get(reverse("events:list")))


def test_empty_list_says_so(client):
    assert "No upcoming events" in text_of(client.get(reverse("events:list")))


# --- Event detail -----------------------------------------------------------------------------


def test_detail_shows_details_programme_venue_and_prices(client):
    event = EventFactory(
        title="Annual meeting",
        description="A day of talks.",
        venue="Medicon Village",
        address="Scheelevägen 2\n223 81 Lund",
        starts_at=datetime.datetime(2099, 3, 5, 8, 0, tzinfo=datetime.UTC),
        ends_at=datetime.datetime(2099, 3, 5, 16, 0, tzinfo=datetime.UTC),
        registration_opens_at=timezone.now() - DAY,
        member_price=Decimal("500.00"),
        standard_price=Decimal("1200.00"),
        currency="DKK",
    )
    ProgrammeItemFactory(
        event=event,
        title="Closing panel",
        speakers="Minister X",
        starts_at=event.starts_at + datetime.timedelta(hours=6),
    )
    ProgrammeItemFactory(
        event=event, title="Welcome", speakers="Dr. Jane Doe", starts_at=event.starts_at
    )

    response = client.get(event.get_absolute_url())

    assert response.status_code == 200
    text = text_of(response)
    assert "Thursday 5 March 2099, 09:00" in text  # 08:00 UTC is 09:00 in Copenhagen (CET)
    assert "Medicon Village" in text
    assert "Scheelevägen 2" in text
    assert "A day of talks." in text
    assert text.index("Welcome") < text.index("Closing panel")
    assert "Dr. Jane Doe" in text
    assert "15:00" in text  # the panel, in Copenhagen time
    assert "Member-university staff Free" in text
    assert "Member 500 DKK" in text
    assert "Non-member 1,200 DKK" in text
    assert response.content.decode().count("<h1") == 1


def test_detail_for_anonymous_prompts_to_sign_in_and_mentions_free_staff(client):
    event = EventFactory()
    response = client.get(event.get_absolute_url())
    html = response.content.decode()
    register_url = reverse("events:register", args=[event.slug])
    assert f'href="/accounts/login/?next={register_url}"' in html
    text = text_of(response)
    assert "Sign in to register" in text
    assert "Staff of member universities of the Medicon Valley Alliance attend free" in text
    assert "Your price" not in text


def test_detail_for_a_non_member_shows_the_standard_price_and_why(client, outsider):
    event = EventFactory(standard_price=Decimal("1200.00"))
    client.force_login(outsider)
    text = text_of(client.get(event.get_absolute_url()))
    assert "Your price: 1,200 DKK" in text
    assert "none of your verified addresses belongs to a member" in text
    assert "Register" in text


def test_detail_for_member_university_staff_shows_free_and_the_institution(client, lund_staff):
    event = EventFactory()
    client.force_login(lund_staff)
    text = text_of(client.get(event.get_absolute_url()))
    assert "Your price: Free" in text
    assert "you are verified staff of Lund University, a member" in text


def test_detail_for_member_company_staff_shows_the_member_price(client):
    member_institution(domain="novo.example", name="Novo", kind=Institution.Kind.COMPANY)
    event = EventFactory(member_price=Decimal("500.00"))
    client.force_login(UserFactory(email="ole@novo.example"))
    text = text_of(client.get(event.get_absolute_url()))
    assert "Your price: 500 DKK" in text
    assert "verified staff of Novo" in text


def test_detail_with_an_unverified_member_address_gives_no_discount(client, lund):
    client.force_login(UserFactory(email="eve@lu.se", verified=False))
    text = text_of(client.get(EventFactory().get_absolute_url()))
    assert "Your price: 1,200 DKK" in text


@pytest.mark.parametrize("status", ["confirmed", "waitlisted"])
def test_detail_shows_an_existing_registration_instead_of_the_button(client, user, status):
    event = EventFactory()
    registration = RegistrationFactory(event=event, user=user, status=status)
    client.force_login(user)
    response = client.get(event.get_absolute_url())
    html = response.content.decode()
    assert registration.get_absolute_url() in html
    assert reverse("events:register", args=[event.slug]) not in html
    assert "View your registration" in text_of(response)


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("confirmed", "your registration and ticket are no longer valid"),
        ("waitlisted", "its waiting list is closed"),
    ],
)
def test_a_cancelled_events_page_does_not_tell_its_registrants_they_are_coming(
    client, user, status, says
):
    event = EventFactory(status=Event.Status.CANCELLED)
    RegistrationFactory(event=event, user=user, status=status)
    client.force_login(user)

    text = text_of(client.get(event.get_absolute_url()))

    assert f"The organisers have cancelled this event: {says}." in text
    assert "You are registered for this event." not in text
    assert "You are on the waiting list for this event." not in text


def test_detail_offers_the_button_again_after_a_cancelled_registration(client, user):
    event = EventFactory()
    RegistrationFactory(event=event, user=user, status=Registration.Status.CANCELLED)
    client.force_login(user)
    html = client.get(event.get_absolute_url()).content.decode()
    assert reverse("events:register", args=[event.slug]) in html


@pytest.mark.parametrize(
    ("fields", "message", "has_button"),
    [
        ({"registration_opens_at": "future"}, "Registration opens on", False),
        ({"registration_closes_at": "past"}, "Registration for this event is closed.", False),
        ({"status": Event.Status.CANCELLED}, "This event has been cancelled.", False),
        ({"starts_at": "past"}, "This event has taken place.", False),
        (
            {"capacity": 2, "confirmed_count": 2, "has_waiting_list": False},
            "This event is full and keeps no waiting list.",
            False,
        ),
        (
            {"capacity": 2, "confirmed_count": 2, "has_waiting_list": True},
            "If you register, you join the waiting list",
            True,
        ),
        ({}, None, True),
    ],
)
def test_detail_registration_state_messages(client, user, fields, message, has_button):
    now = timezone.now()
    if fields.get("registration_opens_at") == "future":
        fields["registration_opens_at"] = now + 2 * DAY
    if fields.get("registration_closes_at") == "past":
        fields["registration_opens_at"] = now - 10 * DAY
        fields["registration_closes_at"] = now - DAY
    event = past_event() if fields.get("starts_at") == "past" else EventFactory(**fields)
    client.force_login(user)
    response = client.get(event.get_absolute_url())
    text = text_of(response)
    if message:
        assert message in text
    register_url = reverse("events:register", args=[event.slug])
    assert (register_url in response.content.decode()) is has_button
    # Prices of an event that is over or off help nobody.
    gone = fields.get("starts_at") == "past" or fields.get("status") == Event.Status.CANCELLED
    assert ("Price per admission category" in text) is not gone


def test_draft_event_is_404_for_visitors_and_visible_to_staff(client, user, staff_user):
    event = EventFactory(status=Event.Status.DRAFT)
    assert client.get(event.get_absolute_url()).status_code == 404
    client.force_login(user)
    assert client.get(event.get_absolute_url()).status_code == 404
    client.force_login(staff_user)
    response = client.get(event.get_absolute_url())
    assert response.status_code == 200
    assert "only staff can see it" in text_of(response)


def test_unknown_event_is_404(client):
    assert client.get(reverse("events:detail", args=["no-such-event"])).status_code == 404


def test_confirmed_attendee_sees_the_participant_link(client, user):
    event = EventFactory()
    RegistrationFactory(event=event, user=user)
    participants_url = reverse("events:participants", args=[event.slug])
    assert participants_url not in client.get(event.get_absolute_url()).content.decode()
    client.force_login(user)
    assert participants_url in client.get(event.get_absolute_url()).content.decode()


# --- Registering ------------------------------------------------------------------------------


def test_register_requires_sign_in_and_returns_to_the_form_after_it(client, outsider):
    event = EventFactory()
    register_url = reverse("events:register", args=[event.slug])

    response = client.get(register_url)

    assert response.status_code == 302
    login_url = f"{reverse('account_login')}?{urlencode({'next': register_url}, safe='/')}"
    assert response.url == login_url

    response = client.post(
        login_url, {"login": outsider.email, "password": PASSWORD, "next": register_url}
    )
    assert response.status_code == 302
    assert response.url == register_url
    assert client.get(register_url).status_code == 200


def test_register_form_for_free_admission_shows_decision_and_no_billing(client, lund_staff):
    event = EventFactory()
    client.force_login(lund_staff)
    response = client.get(reverse("events:register", args=[event.slug]))
    assert response.status_code == 200
    text = text_of(response)
    assert "Your price Free" in text
    assert "Lund University" in text
    assert "billing_organisation" not in response.content.decode()
    assert "We use this only to arrange catering and access" in text
    assert "erase it after the event" in text
    html = response.content.decode()
    assert 'name="dietary_needs"' in html
    assert 'name="accessibility_needs"' in html
    assert 'name="listed_as_participant"' in html


def test_register_form_asks_for_billing_when_a_fee_is_due(client, outsider):
    event = EventFactory(standard_price=Decimal("1200.00"))
    client.force_login(outsider)
    response = client.get(reverse("events:register", args=[event.slug]))
    html = response.content.decode()
    assert "Your price 1,200 DKK" in text_of(response)
    for field in (
        "billing_organisation",
        "billing_address",
        "billing_vat_number",
        "billing_po_reference",
        "billing_ean_number",
    ):
        assert f'name="{field}"' in html


def test_register_free_confirms_and_redirects_to_the_registration(client, lund_staff):
    event = EventFactory()
    client.force_login(lund_staff)

    response = register(
        client, event, dietary_needs="Vegetarian", listed_as_participant="on", **BILLING
    )

    registration = Registration.objects.get(event=event, user=lund_staff)
    assert response.status_code == 302
    assert response.url == registration.get_absolute_url()
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.price == 0
    assert registration.dietary_needs == "Vegetarian"
    assert registration.listed_as_participant is True
    # Billing details are not asked for, nor kept, when nothing is due.
    assert registration.billing_organisation == ""
    assert any("You are registered for" in m for m in messages_of(response))
    event.refresh_from_db()
    assert event.confirmed_count == 1


def test_register_with_a_fee_stores_the_billing_details(client, outsider):
    event = EventFactory(standard_price=Decimal("1200.00"))
    client.force_login(outsider)

    response = register(
        client,
        event,
        billing_ean_number="5 7900 0123 4560",  # spaces as printed on paper are accepted
        billing_po_reference="PO-77",
        billing_vat_number="DK12345678",
        **BILLING,
    )

    registration = Registration.objects.get(event=event, user=outsider)
    assert response.status_code == 302
    assert registration.price == Decimal("1200.00")
    assert registration.billing_organisation == "Acme Pharma A/S"
    assert registration.billing_ean_number == "5790001234560"
    assert registration.billing_po_reference == "PO-77"
    assert registration.billing_vat_number == "DK12345678"


def test_register_when_full_with_waiting_list_waitlists_and_says_the_position(client, user):
    event = EventFactory(capacity=1)
    first = UserFactory()
    services.register_for_event(
        event_id=event.pk,
        user=first,
        details=services.RegistrationDetails(**BILLING),
    )
    services.register_for_event(
        event_id=event.pk,
        user=UserFactory(),
        details=services.RegistrationDetails(**BILLING),
    )
    client.force_login(user)

    response = register(client, event, **BILLING)

    registration = Registration.objects.get(event=event, user=user)
    assert registration.status == Registration.Status.WAITLISTED
    assert response.url == registration.get_absolute_url()
    assert any("at position 2" in m for m in messages_of(response))
    page = client.get(registration.get_absolute_url())
    assert "You are number 2 on the waiting list." in text_of(page)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"capacity": 1, "confirmed_count": 1, "has_waiting_list": False},
            "This event is full.",
        ),
        ({"registration_closes_at": "past"}, "Registration for this event is closed."),
        ({"registration_opens_at": "future"}, "Registration for this event has not opened yet."),
        ({"status": Event.Status.CANCELLED}, "This event is not open for registration."),
    ],
)
def test_register_refused_shows_the_reason_and_creates_nothing(client, user, fields, message):
    now = timezone.now()
    if fields.get("registration_opens_at") == "future":
        fields["registration_opens_at"] = now + 2 * DAY
    if fields.get("registration_closes_at") == "past":
        fields["registration_opens_at"] = now - 10 * DAY
        fields["registration_closes_at"] = now - DAY
    event = EventFactory(**fields)
    client.force_login(user)

    response = register(client, event, **BILLING)

    assert response.status_code == 409
    assert message in text_of(response)
    assert not Registration.objects.filter(event=event).exists()
    # The form is not offered again: trying again cannot help.
    assert 'name="dietary_needs"' not in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"registration_opens_at": "future"}, "Registration opens on"),
        ({"registration_closes_at": "past"}, "Registration for this event is closed."),
        ({"status": Event.Status.CANCELLED}, "This event has been cancelled."),
        (
            {"capacity": 1, "confirmed_count": 1, "has_waiting_list": False},
            "This event is full and keeps no waiting list.",
        ),
    ],
)
def test_register_form_page_explains_why_registering_is_not_possible(client, user, fields, message):
    now = timezone.now()
    if fields.get("registration_opens_at") == "future":
        fields["registration_opens_at"] = now + 2 * DAY
    if fields.get("registration_closes_at") == "past":
        fields["registration_opens_at"] = now - 10 * DAY
        fields["registration_closes_at"] = now - DAY
    event = EventFactory(**fields)
    client.force_login(user)
    response = client.get(reverse("events:register", args=[event.slug]))
    assert response.status_code == 200
    assert message in text_of(response)
    assert 'name="dietary_needs"' not in response.content.decode()


def test_register_for_a_draft_is_404(client, user):
    event = EventFactory(status=Event.Status.DRAFT)
    client.force_login(user)
    assert client.get(reverse("events:register", args=[event.slug])).status_code == 404
    assert register(client, event, **BILLING).status_code == 404


def test_register_twice_leads_to_the_existing_registration(client, lund_staff):
    event = EventFactory()
    client.force_login(lund_staff)
    register(client, event)
    registration = Registration.objects.get(event=event, user=lund_staff)

    for response in (
        register(client, event),
        client.get(reverse("events:register", args=[event.slug])),
    ):
        assert response.status_code == 302
        assert response.url == registration.get_absolute_url()
        assert "You are already registered for this event." in messages_of(response)
    assert Registration.objects.filter(event=event).count() == 1


def test_sending_the_form_again_after_registration_closed_leads_to_the_registration(
    client, lund_staff
):
    event = EventFactory()
    client.force_login(lund_staff)
    register(client, event)
    registration = Registration.objects.get(event=event, user=lund_staff)
    Event.objects.filter(pk=event.pk).update(registration_closes_at=timezone.now())

    response = register(client, event)  # the form, still open in another tab

    assert response.status_code == 302
    assert response.url == registration.get_absolute_url()
    assert "You are already registered for this event." in messages_of(response)


@pytest.mark.parametrize(
    ("field", "control"),
    [("dietary_needs", "textarea"), ("billing_vat_number", "input")],
)
def test_every_form_field_has_its_label_and_help_tied_to_it(client, outsider, field, control):
    client.force_login(outsider)  # a fee is due: the billing fields are shown too
    html = client.get(reverse("events:register", args=[EventFactory().slug])).content.decode()
    assert f'<label for="id_{field}">' in html
    assert re.search(
        rf'<{control}[^>]*aria-describedby="id_{field}_helptext"[^>]*id="id_{field}"', html
    )
    assert f'<div class="helptext" id="id_{field}_helptext">' in html


def test_register_with_a_fee_and_no_billing_organisation_is_a_field_error(client, outsider):
    event = EventFactory()
    client.force_login(outsider)

    response = register(client, event, billing_address="Somewhere 1")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_billing_organisation_error"' in html
    # The error is described together with the field's help text.
    described = r'aria-describedby="[^"]*\bid_billing_organisation_error\b[^"]*"'
    assert re.search(rf'<input[^>]*name="billing_organisation"[^>]*{described}', html) or (
        re.search(rf'<input[^>]*{described}[^>]*name="billing_organisation"', html)
    )
    assert 'aria-invalid="true"' in html
    assert "This field is required." in text_of(response)
    assert not Registration.objects.exists()


def test_register_when_the_price_rose_since_the_form_asks_for_billing(
    client, lund, lund_staff, monkeypatch
):
    """The service decides the price again under the lock; if a fee is due by then (the
    membership lapsed meanwhile), its refusal comes back with the billing fields, not a 500."""
    event = EventFactory()
    client.force_login(lund_staff)
    form_page = client.get(reverse("events:register", args=[event.slug]))
    assert 'name="billing_organisation"' not in form_page.content.decode()

    def lapsed_meanwhile(**kwargs):
        raise services.RegistrationError("billing_required")

    monkeypatch.setattr(services, "register_for_event", lapsed_meanwhile)
    response = register(client, event)
    assert response.status_code == 400
    assert "please give the organisation and address to invoice" in text_of(response)
    assert 'name="billing_organisation"' in response.content.decode()


@pytest.mark.parametrize(
    ("ean", "message"),
    [
        ("123", "exactly 13 digits"),
        ("57900000000621", "exactly 13 digits"),
        ("579000000006X", "exactly 13 digits"),
        ("５７９００００００００６２", "exactly 13 digits"),  # full-width digits
        ("5790000000068", "last digit does not match"),
    ],
)
def test_register_with_an_invalid_ean_number_is_a_field_error(client, outsider, ean, message):
    event = EventFactory()
    client.force_login(outsider)
    response = register(client, event, billing_ean_number=ean, **BILLING)
    assert response.status_code == 400
    assert 'id="id_billing_ean_number_error"' in response.content.decode()
    assert message in text_of(response)
    assert not Registration.objects.exists()


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("5790001234560", True),
        ("5790000000067", True),
        ("4006381333931", True),
        ("4006381333932", False),
        ("0000000000000", True),
    ],
)
def test_ean_check_digit(digits, valid):
    assert ean_check_digit_is_valid(digits) is valid


@pytest.mark.parametrize(
    ("typed", "valid"),
    [
        ("DK12345678", True),
        ("dk 12 34 56 78", True),
        ("DK1234567", False),  # Danish: eight digits
        ("DK123456789", False),
        ("SE556677889901", True),
        ("SE 556677-8899 01", True),
        ("SE556677889902", False),  # Swedish: ends in 01
        ("SE5566778899", False),
        ("DE123456789", True),
        ("NO123456789MVA", True),
        ("CHE-123.456.789 MWST", True),
        ("GB123456789", True),
        ("not a vat", False),
        ("12345678", False),  # no country code
        ("DK", False),
        ("XX1", False),
    ],
)
def test_vat_number_rule(typed, valid):
    if valid:
        validate_vat_number(typed)
    else:
        with pytest.raises(ValidationError) as refused:
            validate_vat_number(typed)
        assert refused.value.code == "vat_number"


@pytest.mark.parametrize(
    ("typed", "stored"), [("dk 12 34 56 78", "DK12345678"), ("se556677-8899.01", "SE556677889901")]
)
def test_register_stores_the_vat_number_as_written_on_invoices(client, outsider, typed, stored):
    event = EventFactory()
    client.force_login(outsider)
    response = register(client, event, billing_vat_number=typed, **BILLING)
    assert response.status_code == 302
    assert Registration.objects.get(event=event).billing_vat_number == stored


def test_register_with_an_invalid_vat_number_is_a_field_error(client, outsider):
    event = EventFactory()
    client.force_login(outsider)
    response = register(client, event, billing_vat_number="not a vat", **BILLING)
    assert response.status_code == 400
    assert 'id="id_billing_vat_number_error"' in response.content.decode()
    assert "Enter the VAT number with its country code" in text_of(response)
    assert not Registration.objects.exists()


def test_the_billing_organisation_field_helps_people_who_pay_themselves(client, outsider):
    client.force_login(outsider)
    html = client.get(reverse("events:register", args=[EventFactory().slug])).content.decode()
    assert "If you pay yourself, enter your own name." in html
    assert re.search(
        r'<input[^>]*autocomplete="billing organization"[^>]*id="id_billing_organisation"', html
    )


def test_a_form_sent_back_with_errors_says_so_in_the_page_title(client, outsider):
    event = EventFactory()
    client.force_login(outsider)

    page = client.get(reverse("events:register", args=[event.slug])).content.decode()
    failed = register(client, event).content.decode()  # no invoice details for a fee

    assert "<title>Error:" not in page
    assert re.search(r"<title>Error: Register: ", failed)
    assert 'autocomplete="billing street-address"' in failed


def test_network_names_are_marked_with_their_language(in_language):
    network = NetworkFactory(name="Commercialisation of research", content_language="en")
    event = EventFactory(network=network)
    client = in_language("sv")

    listing = client.get(reverse("events:list")).content.decode()
    detail = client.get(event.get_absolute_url()).content.decode()

    assert '<span class="event-network" lang="en">Commercialisation of research</span>' in listing
    assert ' lang="en">Commercialisation of research</a></li>' in listing
    assert ' lang="en">Commercialisation of research</a></dd>' in detail


def test_register_with_overlong_needs_is_a_field_error(client, lund_staff):
    event = EventFactory()
    client.force_login(lund_staff)
    response = register(client, event, dietary_needs="x" * 501)
    assert response.status_code == 400
    assert 'id="id_dietary_needs_error"' in response.content.decode()


def test_register_rejects_other_methods(client, user):
    event = EventFactory()
    client.force_login(user)
    assert client.put(reverse("events:register", args=[event.slug])).status_code == 405


# --- My registrations -------------------------------------------------------------------------


def test_my_registrations_requires_sign_in(client):
    url = reverse("events:my_registrations")
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_my_registrations_lists_upcoming_first_then_past_with_badges(client, user):
    now = timezone.now()
    later = RegistrationFactory(
        user=user, event=EventFactory(title="Later", starts_at=now + 9 * DAY)
    )
    sooner = RegistrationFactory(
        user=user,
        event=EventFactory(title="Sooner", starts_at=now + 2 * DAY),
        status=Registration.Status.WAITLISTED,
    )
    cancelled = RegistrationFactory(
        user=user, event=EventFactory(title="Dropped"), status=Registration.Status.CANCELLED
    )
    old = RegistrationFactory(user=user, event=past_event(title="Old"))
    RegistrationFactory(event=EventFactory(title="Somebody elses"))
    client.force_login(user)

    response = client.get(reverse("events:my_registrations"))

    assert [r.pk for r in response.context["upcoming"]] == [sooner.pk, later.pk]
    assert [r.pk for r in response.context["cancelled"]] == [cancelled.pk]
    assert [r.pk for r in response.context["past"]] == [old.pk]
    text = text_of(response)
    assert "Somebody elses" not in text
    assert "Waiting list, position 1" in text
    assert "Cancelled" in text
    assert "Confirmed" in text
    assert text.index("Sooner") < text.index("Later") < text.index("Dropped") < text.index("Old")


def test_the_same_event_cancelled_twice_is_two_dated_lines_latest_first(client, user):
    event = EventFactory(title="Lab tour")
    now = timezone.now()
    first = RegistrationFactory(
        user=user, event=event, status="cancelled", cancelled_at=now - 9 * DAY
    )
    second = RegistrationFactory(
        user=user, event=event, status="cancelled", cancelled_at=now - 2 * DAY
    )
    RegistrationFactory(user=user, event=event)  # registered a third time
    client.force_login(user)

    response = client.get(reverse("events:my_registrations"))

    assert [r.pk for r in response.context["cancelled"]] == [second.pk, first.pk]
    text = text_of(response)
    for registration in (first, second):
        day = date_format(timezone.localtime(registration.cancelled_at), "DATE_FORMAT")
        assert f"Cancelled on {day}" in text


def test_my_registrations_empty(client, user):
    client.force_login(user)
    assert "You have not registered for any event yet." in text_of(
        client.get(reverse("events:my_registrations"))
    )


# --- One registration -------------------------------------------------------------------------


def test_registration_page_shows_status_price_reason_ticket_and_links(client, user):
    registration = RegistrationFactory(
        user=user,
        price=Decimal("0"),
        price_reason="Free: you are verified staff of Lund University, a member.",
    )
    client.force_login(user)

    response = client.get(registration.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(response)
    assert "Confirmed" in text
    assert "Price Free" in text
    assert "verified staff of Lund University" in text
    assert "<svg" in html
    assert reverse("events:calendar", args=[registration.event.slug]) in html
    assert reverse("events:cancel_registration", args=[registration.ticket_code]) in html
    assert reverse("events:ticket_png", args=[registration.ticket_code]) in html


def test_registration_page_of_someone_else_or_unknown_is_404(client, user):
    registration = RegistrationFactory()
    client.force_login(user)
    assert client.get(registration.get_absolute_url()).status_code == 404
    assert client.get(reverse("events:registration", args=["nope"])).status_code == 404
    assert (
        client.get(reverse("events:ticket_png", args=[registration.ticket_code])).status_code == 404
    )
    cancel_url = reverse("events:cancel_registration", args=[registration.ticket_code])
    assert client.get(cancel_url).status_code == 404
    assert client.post(cancel_url).status_code == 404
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED


def test_registration_page_for_anonymous_redirects_to_sign_in(client):
    registration = RegistrationFactory()
    response = client.get(registration.get_absolute_url())
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_waitlisted_registration_shows_position_and_no_ticket(client, user):
    event = EventFactory()
    RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
    registration = RegistrationFactory(
        event=event, user=user, status=Registration.Status.WAITLISTED
    )
    client.force_login(user)
    response = client.get(registration.get_absolute_url())
    assert "You are number 2 on the waiting list." in text_of(response)
    assert "<svg" not in response.content.decode()
    assert (
        client.get(reverse("events:ticket_png", args=[registration.ticket_code])).status_code == 404
    )


def test_ticket_png_for_the_owner(client, user):
    registration = RegistrationFactory(user=user)
    client.force_login(user)
    response = client.get(reverse("events:ticket_png", args=[registration.ticket_code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_a_cancelled_event_shows_no_ticket_and_serves_none(client, user):
    registration = RegistrationFactory(user=user, event=EventFactory(status=Event.Status.CANCELLED))
    client.force_login(user)
    page = client.get(registration.get_absolute_url()).content.decode()
    png = reverse("events:ticket_png", args=[registration.ticket_code])
    assert png not in page and "<svg" not in page
    assert client.get(png).status_code == 404


def test_cancel_asks_for_confirmation_then_cancels_and_promotes(client, user):
    event = EventFactory(capacity=1)
    registration = services.register_for_event(
        event_id=event.pk, user=user, details=services.RegistrationDetails(**BILLING)
    ).registration
    waiting = services.register_for_event(
        event_id=event.pk, user=UserFactory(), details=services.RegistrationDetails(**BILLING)
    ).registration
    client.force_login(user)
    cancel_url = reverse("events:cancel_registration", args=[registration.ticket_code])

    confirm_page = client.get(cancel_url)
    assert confirm_page.status_code == 200
    assert "Are you sure you want to cancel your registration" in text_of(confirm_page)
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED  # GET changes nothing

    response = client.post(cancel_url)

    assert response.status_code == 302
    assert response.url == registration.get_absolute_url()
    assert any("is cancelled" in m for m in messages_of(response))
    registration.refresh_from_db()
    waiting.refresh_from_db()
    assert registration.status == Registration.Status.CANCELLED
    assert waiting.status == Registration.Status.CONFIRMED
    page = client.get(registration.get_absolute_url())
    assert "You cancelled this registration" in text_of(page)
    assert "<svg" not in page.content.decode()
    assert cancel_url not in page.content.decode()


def test_cancel_after_the_deadline_shows_a_note_instead_of_the_button(client, user):
    event = EventFactory(cancellation_deadline=timezone.now() - datetime.timedelta(hours=1))
    registration = RegistrationFactory(
        event=event, user=user, confirmed_at=timezone.now() - 20 * DAY
    )
    client.force_login(user)
    cancel_url = reverse("events:cancel_registration", args=[registration.ticket_code])

    page = client.get(registration.get_absolute_url())
    assert "The cancellation deadline passed on" in text_of(page)
    assert cancel_url not in page.content.decode()

    confirm_page = client.get(cancel_url)
    assert "The cancellation deadline passed on" in text_of(confirm_page)
    # It says so, instead of asking a question it cannot act on.
    assert "<h1>It is too late to cancel online</h1>" in confirm_page.content.decode()
    assert "Cancel your registration?" not in confirm_page.content.decode()
    assert '<form method="post" action="' + cancel_url not in confirm_page.content.decode()

    response = client.post(cancel_url)
    assert response.status_code == 302
    assert any("cancellation deadline has passed" in m for m in messages_of(response))
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED


def test_cancel_an_already_cancelled_registration_says_so(client, user):
    registration = RegistrationFactory(user=user, status=Registration.Status.CANCELLED)
    client.force_login(user)
    cancel_url = reverse("events:cancel_registration", args=[registration.ticket_code])
    for response in (client.get(cancel_url), client.post(cancel_url)):
        assert response.status_code == 302
        assert "This registration is already cancelled." in messages_of(response)


# --- Calendar file ----------------------------------------------------------------------------


def test_ics_download_parses_back(client):
    event = EventFactory(
        title="Annual meeting",
        slug="annual-meeting-2099",
        starts_at=datetime.datetime(2099, 6, 12, 7, 30, tzinfo=datetime.UTC),
        ends_at=datetime.datetime(2099, 6, 12, 15, 0, tzinfo=datetime.UTC),
    )
    response = client.get(reverse("events:calendar", args=[event.slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"] == 'attachment; filename="annual-meeting-2099.ics"'
    assert reverse("events:calendar", args=[event.slug]) == "/events/annual-meeting-2099.ics"

    calendar = Calendar.from_ical(response.content)
    (entry,) = calendar.walk("VEVENT")
    assert str(entry["summary"]) == "Annual meeting"
    assert entry.decoded("dtstart") == event.starts_at
    assert entry.decoded("dtend") == event.ends_at


def test_ics_of_a_draft_is_404_and_of_a_cancelled_event_says_cancelled(client):
    draft = EventFactory(status=Event.Status.DRAFT)
    assert client.get(reverse("events:calendar", args=[draft.slug])).status_code == 404
    cancelled = EventFactory(status=Event.Status.CANCELLED)
    response = client.get(reverse("events:calendar", args=[cancelled.slug]))
    (entry,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(entry["status"]) == "CANCELLED"


# --- Participant list -------------------------------------------------------------------------


@pytest.fixture
def event_with_people():
    event = EventFactory()
    RegistrationFactory(
        event=event,
        first_name="Listed",
        last_name="Person",
        job_title="Professor",
        institution_name="Lund University",
        listed_as_participant=True,
    )
    RegistrationFactory(
        event=event, first_name="Private", last_name="Person", listed_as_participant=False
    )
    RegistrationFactory(
        event=event,
        first_name="Waiting",
        last_name="Person",
        listed_as_participant=True,
        status=Registration.Status.WAITLISTED,
    )
    RegistrationFactory(
        event=event,
        first_name="Gone",
        last_name="Person",
        listed_as_participant=True,
        status=Registration.Status.CANCELLED,
    )
    return event


def test_participants_visible_to_confirmed_attendees_only_opted_in(client, user, event_with_people):
    RegistrationFactory(event=event_with_people, user=user)
    client.force_login(user)
    response = client.get(reverse("events:participants", args=[event_with_people.slug]))
    assert response.status_code == 200
    text = text_of(response)
    assert "Listed Person Professor Lund University" in text
    for hidden in ("Private", "Waiting", "Gone"):
        assert hidden not in text
    assert "@" not in text.split("Participants of")[1].split("Medicon Valley Alliance —")[0]


def test_a_participant_without_a_name_is_listed_without_their_address(client, user):
    event = EventFactory()
    RegistrationFactory(event=event, user=user)
    RegistrationFactory(
        event=event,
        first_name="",
        last_name="",
        email="noname@example.org",
        job_title="Curator",
        listed_as_participant=True,
    )
    client.force_login(user)

    text = text_of(client.get(reverse("events:participants", args=[event.slug])))

    assert "name not given Curator" in text
    assert "noname@example.org" not in text


def test_participants_visible_to_staff(client, staff_user, event_with_people):
    client.force_login(staff_user)
    response = client.get(reverse("events:participants", args=[event_with_people.slug]))
    assert response.status_code == 200
    assert "Listed Person" in text_of(response)


@pytest.mark.parametrize("own_status", [None, "waitlisted", "cancelled"])
def test_participants_forbidden_to_others(client, user, event_with_people, own_status):
    if own_status:
        RegistrationFactory(event=event_with_people, user=user, status=own_status)
    client.force_login(user)
    response = client.get(reverse("events:participants", args=[event_with_people.slug]))
    assert response.status_code == 403
    text = text_of(response)
    assert "Only confirmed attendees of" in text
    assert "Listed Person" not in text


def test_participants_for_anonymous_redirects_to_sign_in(client, event_with_people):
    response = client.get(reverse("events:participants", args=[event_with_people.slug]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


# --- What the pages offer, fitted to the person and the event ---------------------------------


def test_create_an_account_returns_to_the_registration_form(client):
    event = EventFactory()
    html = client.get(event.get_absolute_url()).content.decode()
    form = reverse("events:register", args=[event.slug])
    assert f'href="{reverse("account_signup")}?next={form}"' in html


def test_the_add_your_work_address_hint_is_only_for_people_without_one(client, outsider, lund):
    event = EventFactory()
    hint = "Add and verify your work e-mail address"
    client.force_login(outsider)
    assert hint in text_of(client.get(event.get_absolute_url()))

    lapsed = InstitutionFactory(name="Lapsed University")
    InstitutionDomainFactory(institution=lapsed, domain="lapsed.example.edu")
    client.force_login(UserFactory(email="carl@lapsed.example.edu"))
    page = text_of(client.get(event.get_absolute_url()))
    assert "Lapsed University is not a member" in page
    assert hint not in page


def test_a_better_price_since_registering_is_pointed_out_not_applied(client, outsider, lund):
    event = EventFactory()
    client.force_login(outsider)
    register(client, event, **BILLING)
    registration = Registration.objects.get(user=outsider)
    assert registration.price == event.standard_price
    add_email(outsider, "pat@lu.se", verified=True)

    page = text_of(client.get(event.get_absolute_url()))

    assert "Your price was set when you registered" in page
    assert "it would now be: Free: you are verified staff of Lund University" in page
    registration.refresh_from_db()
    assert registration.price == event.standard_price  # never recomputed silently


def test_a_past_event_offers_neither_a_price_nor_a_calendar_file(client, outsider):
    event = past_event(member_university_staff_free=True)
    anonymous = client.get(event.get_absolute_url()).content.decode()
    assert "Sign in to see the price" not in anonymous
    assert "attend free of charge" not in anonymous
    client.force_login(outsider)
    html = client.get(event.get_absolute_url()).content.decode()
    assert "Your price" not in html
    assert reverse("events:calendar", args=[event.slug]) not in html
    form = client.get(reverse("events:register", args=[event.slug])).content.decode()
    assert "Your price" not in form


def test_a_cancelled_registration_page_claims_no_listing_and_offers_no_calendar(client, user):
    registration = services.register_for_event(
        event_id=EventFactory().pk,
        user=user,
        details=services.RegistrationDetails(listed_as_participant=True),
        require_billing=False,
    ).registration
    services.cancel_registration(registration_id=registration.pk)
    client.force_login(user)
    html = client.get(registration.get_absolute_url()).content.decode()
    assert "participant list" not in html
    assert reverse("events:calendar", args=[registration.event.slug]) not in html


def test_a_registration_with_a_fee_shows_where_the_invoice_goes(client, outsider):
    event = EventFactory()
    client.force_login(outsider)
    register(client, event, **BILLING, billing_vat_number="DK12345678")
    registration = Registration.objects.get(user=outsider)

    page = text_of(client.get(registration.get_absolute_url()))

    assert "Invoice to Acme Pharma A/S Ørestads Boulevard 1 2300 København S" in page
    assert "VAT number DK12345678" in page

    services.cancel_registration(registration_id=registration.pk)
    assert "Invoice to" not in text_of(client.get(registration.get_absolute_url()))


@pytest.mark.parametrize(
    ("someone_waits", "expected"),
    [
        (True, "Your place goes to the next person on the waiting list"),
        (False, "Your place is freed for someone else"),
    ],
)
def test_the_cancel_page_says_where_the_place_goes(client, user, someone_waits, expected):
    event = EventFactory(capacity=1)
    registration = services.register_for_event(
        event_id=event.pk, user=user, details=services.RegistrationDetails(**BILLING)
    ).registration
    if someone_waits:
        services.register_for_event(
            event_id=event.pk, user=UserFactory(), details=services.RegistrationDetails(**BILLING)
        )
    client.force_login(user)
    page = text_of(
        client.get(reverse("events:cancel_registration", args=[registration.ticket_code]))
    )
    assert expected in page


def test_the_registration_page_gives_the_price_reason_in_the_reader_s_language(client, lund_staff):
    event = EventFactory()
    client.force_login(lund_staff)
    with translation.override("en"):  # the requests switch the thread's language; restore it
        client.post(reverse("set_language"), {"language": "sv", "next": "/"})
        register(client, event)
        registration = Registration.objects.get(user=lund_staff)
        assert registration.price_reason.startswith("Kostnadsfritt: du är verifierad anställd")
        client.post(reverse("set_language"), {"language": "en", "next": "/"})
        page = text_of(client.get(registration.get_absolute_url()))
    assert "Free: you are verified staff of Lund University" in page


def test_registering_and_the_ticket_page_work_while_the_cache_is_unreachable(
    client, lund_staff, settings, caplog
):
    """The cache shares its Redis with the broker by default: an outage must not turn the
    registration into an error page (sessions fall back to the database, affiliations are
    resolved afresh, the ticket drawn afresh)."""
    event = EventFactory()
    client.force_login(lund_staff)
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "mva.cache.RedisCache",
            # Nothing listens on port 1: every cache call fails at once.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }

    response = register(client, event)
    assert response.status_code == 302
    registration = Registration.objects.get(event=event, user=lund_staff)
    page = client.get(registration.get_absolute_url())
    assert page.status_code == 200
    assert "<svg" in page.content.decode()


# --- Whom to ask ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_contact", "expected"),
    [("", "events@mva.example"), ("nordic.cancer@mva.example", "nordic.cancer@mva.example")],
)
def test_event_and_registration_pages_say_whom_to_ask(client, settings, event_contact, expected):
    settings.EVENTS_CONTACT_EMAIL = "events@mva.example"
    registration = RegistrationFactory(event=EventFactory(contact_email=event_contact))
    client.force_login(registration.user)

    for url in (registration.event.get_absolute_url(), registration.get_absolute_url()):
        response = client.get(url)
        assert f"Questions {expected}" in text_of(response)
        assert f'href="mailto:{expected}"' in response.content.decode()


def test_after_the_cancellation_deadline_the_page_says_whom_to_write_to(client, settings):
    settings.EVENTS_CONTACT_EMAIL = "events@mva.example"
    now = timezone.now()
    event = EventFactory(
        starts_at=now + DAY, registration_closes_at=now - DAY, cancellation_deadline=now - DAY
    )
    registration = RegistrationFactory(event=event, confirmed_at=now - 20 * DAY)
    client.force_login(registration.user)

    for name in ("events:registration", "events:cancel_registration"):
        response = client.get(reverse(name, args=[registration.ticket_code]))
        assert "If you cannot come, please write to events@mva.example" in text_of(response)
        assert 'href="mailto:events@mva.example"' in response.content.decode()


# --- Leaving the waiting list ------------------------------------------------------------------


def test_a_waiting_person_can_leave_after_the_cancellation_deadline_until_the_start(client):
    now = timezone.now()
    event = EventFactory(
        starts_at=now + DAY,
        registration_closes_at=now - DAY,
        cancellation_deadline=now - DAY,
        capacity=1,
    )
    RegistrationFactory(event=event)
    waiting = RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
    Event.objects.filter(pk=event.pk).update(confirmed_count=1, waitlisted_count=1)
    client.force_login(waiting.user)

    page = client.get(waiting.get_absolute_url())
    confirm = client.get(reverse("events:cancel_registration", args=[waiting.ticket_code]))
    response = client.post(reverse("events:cancel_registration", args=[waiting.ticket_code]))

    assert "You can leave the waiting list until the event starts" in text_of(page)
    assert "Leave the waiting list?" in text_of(confirm)
    assert "Yes, leave the waiting list" in text_of(confirm)
    assert messages_of(response) == [f"You have left the waiting list for {event.title}."]
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CANCELLED


@pytest.mark.parametrize(
    ("status", "starts_in", "allowed"),
    [
        (Registration.Status.WAITLISTED, DAY, True),
        (Registration.Status.WAITLISTED, -DAY, False),  # the event has started
        (Registration.Status.CONFIRMED, DAY, False),  # a seat: the deadline holds
    ],
)
def test_who_may_cancel_after_the_cancellation_deadline(status, starts_in, allowed):
    now = timezone.now()
    event = EventFactory(
        starts_at=now + starts_in,
        registration_opens_at=now - 10 * DAY,
        registration_closes_at=now - 2 * DAY,
        cancellation_deadline=now - 2 * DAY,
    )
    registration = RegistrationFactory(event=event, status=status, confirmed_at=now - 20 * DAY)

    assert services.can_cancel(registration=registration, now=now) is allowed


def test_a_cancelled_registration_replaced_by_a_new_one_points_to_it(client, user):
    event = EventFactory()
    old = RegistrationFactory(
        event=event, user=user, status=Registration.Status.CANCELLED, cancelled_at=timezone.now()
    )
    client.force_login(user)
    before = text_of(client.get(old.get_absolute_url()))
    new = RegistrationFactory(event=event, user=user)

    after = client.get(old.get_absolute_url())

    assert "Register again" in before
    assert "Register again" not in text_of(after)
    assert f'href="{new.get_absolute_url()}"' in after.content.decode()


def test_once_registration_has_closed_no_seats_are_offered(client):
    now = timezone.now()
    event = EventFactory(
        capacity=100,
        registration_opens_at=now - 10 * DAY,
        registration_closes_at=now - DAY,
        cancellation_deadline=now - DAY,
    )
    open_event = EventFactory(capacity=100)

    listing = text_of(client.get(reverse("events:list")))
    detail = text_of(client.get(event.get_absolute_url()))

    assert listing.count("100 seats left") == 1  # the open event's only
    assert "Registration closed" in listing
    assert "seats left" not in detail
    assert "100 seats left" in text_of(client.get(open_event.get_absolute_url()))


@pytest.mark.parametrize(
    "url_of",
    [
        lambda r: reverse("events:my_registrations"),
        lambda r: r.get_absolute_url(),
        lambda r: reverse("events:change_details", args=[r.ticket_code]),
        lambda r: reverse("events:cancel_registration", args=[r.ticket_code]),
        lambda r: reverse("events:ticket_png", args=[r.ticket_code]),
        lambda r: reverse("events:participants", args=[r.event.slug]),
        lambda r: reverse("members:affiliation"),
    ],
    ids=["mine", "registration", "details", "cancel", "ticket", "participants", "affiliation"],
)
def test_pages_with_personal_data_are_kept_by_no_cache(client, url_of):
    registration = RegistrationFactory()
    client.force_login(registration.user)

    response = client.get(url_of(registration))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_public_pages_may_be_cached(client):
    event = EventFactory()
    assert "no-store" not in client.get(event.get_absolute_url()).get("Cache-Control", "")


@pytest.mark.parametrize(
    ("make_visitor", "sees"),
    [
        (lambda: UserFactory(is_staff=True), False),  # staff for nothing here
        (lambda: event_staff_user(), True),
        (lambda: UserFactory(is_staff=True, is_superuser=True), True),
        (lambda: UserFactory(), False),
    ],
    ids=["staff-without-permissions", "event-staff", "superuser", "attendee"],
)
def test_drafts_and_participant_lists_need_the_permission_not_just_staff(
    client, make_visitor, sees
):
    draft = EventFactory(status=Event.Status.DRAFT)
    event = EventFactory()
    RegistrationFactory(event=event, last_name="Lindqvist", listed_as_participant=True)
    client.force_login(make_visitor())

    draft_page = client.get(draft.get_absolute_url())
    participants = client.get(reverse("events:participants", args=[event.slug]))

    assert draft_page.status_code == (200 if sees else 404)
    assert participants.status_code == (200 if sees else 403)
    assert ("Lindqvist" in text_of(participants)) is sees


def test_sending_an_incomplete_form_when_already_registered_leads_to_the_registration(
    client, outsider
):
    event = EventFactory()
    existing = RegistrationFactory(event=event, user=outsider)
    client.force_login(outsider)

    response = register(client, event)  # a fee is due and no billing details are given

    assert response.status_code == 302
    assert response["Location"] == existing.get_absolute_url()
    assert messages_of(response) == ["You are already registered for this event."]
    assert Registration.objects.filter(event=event).count() == 1


def test_registering_decides_the_price_from_the_database_not_a_stale_cache(
    client, monkeypatch, lund
):
    from members import affiliation

    person = UserFactory(email="anna@gmail.example")
    client.force_login(person)
    event = EventFactory()
    assert "Standard price" in text_of(client.get(event.get_absolute_url()))  # now cached
    # The cache reset after the address is verified is lost (Redis away for a moment).
    monkeypatch.setattr(affiliation, "_replace_generation", lambda: None)
    add_email(person, "anna@lu.se")

    response = register(client, event)

    registration = Registration.objects.get(event=event, user=person)
    assert response.status_code == 302
    assert registration.price == 0
    assert registration.category == "member_university_staff"


@pytest.mark.parametrize(
    ("status", "sees"),
    [
        (Registration.Status.CONFIRMED, True),
        (Registration.Status.WAITLISTED, False),
        (Registration.Status.CANCELLED, False),
    ],
)
def test_only_confirmed_attendees_are_offered_and_shown_the_participant_list(
    client, user, status, sees
):
    event = EventFactory()
    RegistrationFactory(event=event, user=user, status=status)
    client.force_login(user)
    url = reverse("events:participants", args=[event.slug])

    page = client.get(event.get_absolute_url()).content.decode()

    assert (f'href="{url}"' in page) is sees
    assert client.get(url).status_code == (200 if sees else 403)


@pytest.mark.parametrize("content_language", ["en", "sv"])
def test_the_event_s_own_texts_are_marked_with_their_language(in_language, content_language):
    event = EventFactory(title="Annual meeting", content_language=content_language)
    ProgrammeItemFactory(event=event, title="Keynote")
    client = in_language("da")

    detail = client.get(event.get_absolute_url()).content.decode()
    listing = client.get(reverse("events:list")).content.decode()

    marked = f'lang="{content_language}"'
    assert f"<span {marked}>Annual meeting</span>" in detail
    assert re.search(rf'<div {marked}>\s*<h3 class="programme-title">Keynote', detail)
    assert f"{marked}>Annual meeting</a>" in listing
    assert '<html lang="da"' in detail  # the page around them is Danish


def test_the_form_says_what_registering_commits_to_when_a_fee_is_due(client, outsider, lund_staff):
    event = EventFactory(standard_price=Decimal("1200.00"))
    client.force_login(outsider)
    paying = text_of(client.get(reverse("events:register", args=[event.slug])))
    client.force_login(lund_staff)
    free = text_of(client.get(reverse("events:register", args=[event.slug])))

    assert "By registering you accept the fee of 1,200 DKK, invoiced to the organisation" in paying
    assert "You can cancel until" in paying
    assert "By registering you accept" not in free


def test_joining_a_paid_waiting_list_says_a_place_comes_with_the_fee(client, outsider, lund_staff):
    event = EventFactory(standard_price=Decimal("1200.00"), capacity=1)
    RegistrationFactory(event=event)
    Event.objects.filter(pk=event.pk).update(confirmed_count=1)
    client.force_login(outsider)
    paying = text_of(client.get(reverse("events:register", args=[event.slug])))
    client.force_login(lund_staff)
    free = text_of(client.get(reverse("events:register", args=[event.slug])))

    assert "Join the waiting list" in paying
    assert (
        "If a place becomes free, it is yours automatically, and the fee of 1,200 DKK is then due"
        in paying
    )
    assert "You can leave the waiting list until" in paying
    assert "By registering you accept" not in paying
    assert "the fee of" not in free


@pytest.mark.parametrize(
    ("status", "created", "confirmed", "deadline", "closes"),
    [
        # (status, registered and confirmed hours before the start, deadline hours before,
        # closes hours before)
        ("confirmed", 100, 100, 48, 48),  # a seat: the deadline
        ("confirmed", 100, 24, 48, 0),  # promoted after the deadline: until the start
        ("confirmed", 24, 24, 48, 48),  # registered after the deadline: the deadline
        ("waitlisted", 100, None, 48, 0),  # waiting: until the start
        ("waitlisted", 100, None, -24, -24),  # a deadline after the start (several days): that
    ],
)
def test_until_when_one_may_cancel(status, created, confirmed, deadline, closes):
    starts = timezone.now() + 10 * DAY
    hours = datetime.timedelta(hours=1)
    event = EventFactory(
        starts_at=starts,
        ends_at=starts + 3 * DAY,
        registration_closes_at=starts - 50 * hours,
        cancellation_deadline=starts - deadline * hours,
    )
    registration = RegistrationFactory(
        event=event,
        status=status,
        created_at=starts - created * hours,
        confirmed_at=starts - confirmed * hours if confirmed is not None else None,
    )

    assert services.cancellation_closes_at(registration=registration) == starts - closes * hours


def test_the_title_is_marked_with_its_language_on_every_registration_page(in_language):
    event = EventFactory(title="Annual meeting", content_language="en")
    client = in_language("sv")
    registration = RegistrationFactory(event=event)
    client.force_login(registration.user)
    marked = '<span lang="en">Annual meeting</span>'

    for url in (
        registration.get_absolute_url(),
        reverse("events:change_details", args=[registration.ticket_code]),
        reverse("events:cancel_registration", args=[registration.ticket_code]),
        reverse("events:my_registrations"),
        reverse("events:participants", args=[event.slug]),
    ):
        assert marked in client.get(url).content.decode(), url
