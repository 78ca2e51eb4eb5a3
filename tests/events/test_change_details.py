"""A registrant changing what they told us: needs, participant-list consent, billing details.

The service's rule table first, then every outcome of the page.
"""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import Registration
from outbox.models import OutgoingEmail
from tests.events.test_views import messages_of, past_event, text_of
from tests.factories import EventFactory, RegistrationFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)

BILLING = {
    "billing_organisation": "Acme Pharma A/S",
    "billing_address": "Ørestads Boulevard 1\n2300 København S",
}


def details(**fields) -> services.RegistrationDetails:
    return services.RegistrationDetails(**fields)


def paid_registration(**fields) -> Registration:
    return RegistrationFactory(
        price=Decimal("1200.00"),
        billing_organisation="Old Org",
        billing_address="Old street 1",
        dietary_needs="Vegetarian",
        **fields,
    )


def free_registration(**fields) -> Registration:
    return RegistrationFactory(price=Decimal("0.00"), category="member_university_staff", **fields)


# --- The rule ---------------------------------------------------------------------------------


def test_changes_needs_and_consent_and_nothing_else():
    registration = free_registration(dietary_needs="Vegetarian", listed_as_participant=False)
    before = Registration.objects.values().get(pk=registration.pk)
    emails_before = OutgoingEmail.objects.count()

    changed = services.change_registration_details(
        registration_id=registration.pk,
        details=details(
            dietary_needs="  Vegan  ",
            accessibility_needs="Step-free access",
            listed_as_participant=True,
            language="sv",
        ),
    )

    after = Registration.objects.values().get(pk=registration.pk)
    assert changed.pk == registration.pk
    assert after["dietary_needs"] == "Vegan"
    assert after["accessibility_needs"] == "Step-free access"
    assert after["listed_as_participant"] is True
    untouched = set(before) - {"dietary_needs", "accessibility_needs", "listed_as_participant"}
    assert {name: after[name] for name in untouched} == {name: before[name] for name in untouched}
    assert after["language"] == before["language"]  # not the language of the page used
    assert OutgoingEmail.objects.count() == emails_before


def test_billing_details_of_a_free_place_are_not_stored():
    registration = free_registration()

    services.change_registration_details(
        registration_id=registration.pk, details=details(**BILLING)
    )

    registration.refresh_from_db()
    assert registration.billing_organisation == ""
    assert registration.billing_address == ""


def test_billing_details_of_a_paid_place_are_replaced():
    registration = paid_registration()

    services.change_registration_details(
        registration_id=registration.pk,
        details=details(**BILLING, billing_vat_number="DK12345678", dietary_needs="Vegetarian"),
    )

    registration.refresh_from_db()
    assert registration.billing_organisation == "Acme Pharma A/S"
    assert registration.billing_address == BILLING["billing_address"]
    assert registration.billing_vat_number == "DK12345678"


@pytest.mark.parametrize(
    ("make_registration", "fields", "code"),
    [
        # A fee is due: the invoice needs somewhere to go, as when registering.
        (paid_registration, {"billing_address": "Somewhere"}, "billing_required"),
        (
            paid_registration,
            {"billing_organisation": "Org", "billing_address": "  "},
            "billing_required",
        ),
        # Nothing to change on a cancelled registration.
        (
            lambda: free_registration(
                status=Registration.Status.CANCELLED, cancelled_at=timezone.now()
            ),
            {"listed_as_participant": True},
            "already_cancelled",
        ),
        # After the event, needs and billing details are history.
        (
            lambda: free_registration(event=past_event()),
            {"dietary_needs": "Vegan"},
            "details_closed",
        ),
        (
            lambda: paid_registration(event=past_event()),
            {
                "billing_organisation": "New Org",
                "billing_address": "Old street 1",
                "dietary_needs": "Vegetarian",
            },
            "details_closed",
        ),
    ],
)
def test_refusals(make_registration, fields, code):
    registration = make_registration()
    before = Registration.objects.values().get(pk=registration.pk)

    with pytest.raises(services.RegistrationError) as refusal:
        services.change_registration_details(
            registration_id=registration.pk, details=details(**fields)
        )

    assert refusal.value.code == code
    assert Registration.objects.values().get(pk=registration.pk) == before


@pytest.mark.parametrize("listed", [True, False])
def test_after_the_event_consent_can_still_be_given_or_withdrawn(listed):
    registration = paid_registration(event=past_event(), listed_as_participant=not listed)

    services.change_registration_details(
        registration_id=registration.pk,
        details=details(
            listed_as_participant=listed,
            dietary_needs="Vegetarian",
            billing_organisation="Old Org",
            billing_address="Old street 1",
        ),
    )

    registration.refresh_from_db()
    assert registration.listed_as_participant is listed


@pytest.mark.parametrize(
    ("ends_in", "editable"),
    [
        (datetime.timedelta(minutes=1), True),
        (datetime.timedelta(0), False),  # the moment the event ends
        (-datetime.timedelta(minutes=1), False),
    ],
)
def test_details_are_editable_until_the_event_ends(ends_in, editable):
    now = timezone.now()
    event = EventFactory(starts_at=now - DAY, ends_at=now + ends_in)
    registration = free_registration(event=event)

    assert services.details_still_editable(registration=registration, now=now) is editable


def test_a_cancelled_registration_is_not_editable():
    registration = free_registration(status=Registration.Status.CANCELLED)

    assert services.details_still_editable(registration=registration, now=timezone.now()) is False


# --- The page ---------------------------------------------------------------------------------


def url_of(registration: Registration) -> str:
    return reverse("events:change_details", args=[registration.ticket_code])


def test_registration_page_shows_the_details_and_links_to_change_them(client):
    registration = free_registration(dietary_needs="Halal", listed_as_participant=True)
    client.force_login(registration.user)

    response = client.get(registration.get_absolute_url())

    text = text_of(response)
    assert "Dietary needs Halal" in text
    assert "Accessibility needs None given" in text
    assert "You appear on the participant list." in text
    assert url_of(registration) in response.content.decode()


def test_form_starts_from_what_is_stored(client):
    registration = paid_registration(accessibility_needs="Hearing loop", listed_as_participant=True)
    client.force_login(registration.user)

    response = client.get(url_of(registration))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["dietary_needs"].value() == "Vegetarian"
    assert form["accessibility_needs"].value() == "Hearing loop"
    assert form["listed_as_participant"].value() is True
    assert form["billing_organisation"].value() == "Old Org"
    assert 'name="billing_address"' in response.content.decode()


def test_free_place_form_asks_no_billing_details(client):
    registration = free_registration()
    client.force_login(registration.user)

    response = client.get(url_of(registration))

    assert 'name="billing_organisation"' not in response.content.decode()
    assert 'name="dietary_needs"' in response.content.decode()


def test_saving_changes_the_details_and_says_so(client):
    registration = free_registration(dietary_needs="Vegetarian")
    client.force_login(registration.user)

    response = client.post(
        url_of(registration), {"dietary_needs": "Vegan", "listed_as_participant": "on"}
    )

    assert response.status_code == 302
    assert response["Location"] == registration.get_absolute_url()
    assert messages_of(response) == ["Your details are saved."]
    registration.refresh_from_db()
    assert registration.dietary_needs == "Vegan"
    assert registration.accessibility_needs == ""
    assert registration.listed_as_participant is True


def test_withdrawing_consent_takes_the_person_off_the_participant_list(client):
    registration = free_registration(listed_as_participant=True, last_name="Lindqvist")
    other = free_registration(event=registration.event)
    participants_url = reverse("events:participants", args=[registration.event.slug])
    client.force_login(other.user)
    assert "Lindqvist" in text_of(client.get(participants_url))

    client.force_login(registration.user)
    client.post(url_of(registration), {"dietary_needs": ""})

    client.force_login(other.user)
    assert "Lindqvist" not in text_of(client.get(participants_url))


def test_paid_place_without_billing_organisation_is_a_field_error(client):
    registration = paid_registration()
    client.force_login(registration.user)

    response = client.post(
        url_of(registration), {"billing_organisation": "", "billing_address": "Street 2"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["billing_organisation"]
    registration.refresh_from_db()
    assert registration.billing_address == "Old street 1"


def test_over_long_needs_are_a_field_error(client):
    registration = free_registration()
    client.force_login(registration.user)

    response = client.post(url_of(registration), {"dietary_needs": "x" * 501})

    assert response.status_code == 400
    assert "at most 500 characters" in response.context["form"].errors["dietary_needs"][0]


def test_after_the_event_only_consent_is_asked_and_the_rest_is_kept(client):
    registration = paid_registration(event=past_event(), listed_as_participant=True)
    client.force_login(registration.user)

    page = client.get(url_of(registration))
    response = client.post(
        url_of(registration),
        # A crafted form cannot change what the page no longer asks.
        {"dietary_needs": "Vegan", "billing_organisation": "New Org", "billing_address": "X"},
    )

    content = page.content.decode()
    assert 'name="dietary_needs"' not in content
    assert 'name="billing_organisation"' not in content
    assert "only your choice about the participant list can still be changed" in text_of(page)
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.listed_as_participant is False
    assert registration.dietary_needs == "Vegetarian"
    assert registration.billing_organisation == "Old Org"


def test_cancelled_registration_leads_back_with_a_message(client):
    registration = free_registration(
        status=Registration.Status.CANCELLED, cancelled_at=timezone.now()
    )
    client.force_login(registration.user)

    for response in (client.get(url_of(registration)), client.post(url_of(registration), {})):
        assert response.status_code == 302
        assert response["Location"] == registration.get_absolute_url()
    assert "nothing to change" in messages_of(response)[0]


def test_someone_elses_registration_is_404_and_unchanged(client):
    registration = free_registration(dietary_needs="Vegetarian")
    client.force_login(UserFactory())

    assert client.get(url_of(registration)).status_code == 404
    assert client.post(url_of(registration), {"dietary_needs": "Vegan"}).status_code == 404
    registration.refresh_from_db()
    assert registration.dietary_needs == "Vegetarian"


def test_signed_out_visitor_is_sent_to_sign_in(client):
    registration = free_registration()

    response = client.get(url_of(registration))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_post_without_csrf_token_is_403(client):
    from django.test import Client

    registration = free_registration()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(registration.user)

    assert strict.post(url_of(registration), {"dietary_needs": "Vegan"}).status_code == 403
