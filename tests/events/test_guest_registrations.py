"""Registrations staff entered as a guest's become the person's own once they show, by a
verified address, that the guest is them (events.services.claim_guest_registrations)."""

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.urls import reverse

from events import services
from events.models import Registration
from events.privacy import delete_account, export_personal_data
from events.services import RegistrationDetails, claim_guest_registrations
from tests.factories import PASSWORD, EventFactory, UserFactory, add_email

pytestmark = pytest.mark.django_db


def enter_guest(event, email, **fields):
    return services.register_guest(
        event_id=event.pk,
        first_name="Gus",
        last_name="Guest",
        email=email,
        details=RegistrationDetails(**fields),
        registered_by=None,
        require_billing=False,
    ).registration


@pytest.mark.parametrize(
    ("guest_address", "addresses", "claimed"),
    [
        ("gus@lu.se", [("gus@lu.se", True)], True),
        ("Gus@LU.se", [("gus@lu.se", True)], True),  # case ignored
        ("gus@lu.se", [("gus@gmail.com", True), ("gus@lu.se", True)], True),  # a second address
        ("gus@lu.se", [("gus@gmail.com", True), ("gus@lu.se", False)], False),  # not verified
        ("gus@lu.se", [("gus@gmail.com", True)], False),  # someone else's address
        ("gus@lu.se.evil.com", [("gus@lu.se", True)], False),
    ],
)
def test_only_a_verified_address_of_the_guest_links_the_registration(
    guest_address, addresses, claimed
):
    guest = enter_guest(EventFactory(), guest_address)
    (primary, verified), *others = addresses
    user = UserFactory(email=primary, verified=verified)
    for email, verified in others:
        add_email(user, email, verified=verified)

    linked = claim_guest_registrations(user=user)

    guest.refresh_from_db()
    assert [r.pk for r in linked] == ([guest.pk] if claimed else [])
    assert guest.user == (user if claimed else None)


def test_linking_keeps_the_registration_as_it_was_and_happens_once():
    event = EventFactory()
    guest = enter_guest(event, "gus@lu.se", dietary_needs="Vegan")
    before = Registration.objects.values().get(pk=guest.pk)
    user = UserFactory(email="gus@lu.se")

    assert len(claim_guest_registrations(user=user)) == 1
    assert claim_guest_registrations(user=user) == []

    after = Registration.objects.values().get(pk=guest.pk)
    assert after.pop("user_id") == user.pk
    before.pop("user_id")
    assert after == before
    event.refresh_from_db()
    assert event.confirmed_count == 1


def test_a_guest_registration_for_an_event_the_account_is_registered_for_stays_a_guests():
    """One active registration per account and event: the account's own one stays, the
    guest's (made for another of the person's addresses) is not linked."""
    event = EventFactory()
    user = UserFactory(email="gus@gmail.com")
    own = services.register_for_event(
        event_id=event.pk, user=user, details=RegistrationDetails(), require_billing=False
    ).registration
    guest = enter_guest(event, "gus@lu.se")
    other_event_guest = enter_guest(EventFactory(), "gus@lu.se")
    add_email(user, "gus@lu.se", verified=True)

    linked = claim_guest_registrations(user=user)

    assert [r.pk for r in linked] == [other_event_guest.pk]
    guest.refresh_from_db()
    assert guest.user is None
    assert Registration.objects.filter(user=user).count() == 2
    assert own.pk in Registration.objects.filter(user=user).values_list("pk", flat=True)


def test_staff_entering_a_registered_person_by_another_of_their_addresses_seat_them_once():
    """The address is verified on an account that is registered already (with its other
    address): entering it as a guest's returns that registration instead of a second seat."""
    event = EventFactory(capacity=5)
    bob = UserFactory(email="bob@gmail.com")
    add_email(bob, "bob@lu.se", verified=True)
    own = services.register_for_event(
        event_id=event.pk, user=bob, details=RegistrationDetails(), require_billing=False
    ).registration

    outcome = services.register_guest(
        event_id=event.pk,
        first_name="Bob",
        last_name="Berg",
        email="Bob@LU.se",
        details=RegistrationDetails(),
        registered_by=None,
        require_billing=False,
    )

    assert outcome.created is False
    assert outcome.registration.pk == own.pk
    event.refresh_from_db()
    assert event.confirmed_count == 1
    assert Registration.objects.filter(event=event).count() == 1


def test_a_guest_entered_for_a_verified_address_is_the_accounts_from_the_start():
    bob = UserFactory(email="bob@gmail.com")
    add_email(bob, "bob@lu.se", verified=True)

    guest = enter_guest(EventFactory(), "bob@lu.se")

    assert guest.user == bob


def test_cancelled_guest_registrations_are_linked_as_history():
    guest = enter_guest(EventFactory(), "gus@lu.se")
    services.cancel_registration(registration_id=guest.pk, enforce_deadline=False)
    user = UserFactory(email="gus@lu.se")
    assert [r.pk for r in claim_guest_registrations(user=user)] == [guest.pk]


# --- When it happens ----------------------------------------------------------------------------


def test_signing_in_links_what_staff_entered_meanwhile(client):
    user = UserFactory(email="gus@lu.se")
    guest = enter_guest(EventFactory(), "gus@lu.se")

    response = client.post(reverse("account_login"), {"login": "gus@lu.se", "password": PASSWORD})

    assert response.status_code == 302
    guest.refresh_from_db()
    assert guest.user == user


def test_confirming_an_address_links_what_staff_entered_for_it(client):
    user = UserFactory(email="gus@gmail.com")
    guest = enter_guest(EventFactory(), "gus@lu.se")
    address = add_email(user, "gus@lu.se", verified=False)
    client.force_login(user)

    key = EmailConfirmationHMAC(address).key
    response = client.post(reverse("account_confirm_email", args=[key]))

    assert response.status_code == 302
    assert EmailAddress.objects.get(pk=address.pk).verified
    guest.refresh_from_db()
    assert guest.user == user


def test_the_link_in_a_guest_s_e_mail_opens_the_registration_for_its_owner(client):
    guest = enter_guest(EventFactory(title="Annual meeting"), "gus@lu.se")
    user = UserFactory(email="gus@lu.se")
    client.force_login(user)  # signed in before staff entered them: nothing linked yet

    response = client.get(guest.get_absolute_url())

    assert response.status_code == 200
    assert "Annual meeting" in response.content.decode()
    guest.refresh_from_db()
    assert guest.user == user


def test_the_link_in_a_guest_s_e_mail_is_404_for_anyone_else(client):
    guest = enter_guest(EventFactory(), "gus@lu.se")
    client.force_login(UserFactory(email="mallory@lu.se"))
    assert client.get(guest.get_absolute_url()).status_code == 404
    guest.refresh_from_db()
    assert guest.user is None


def test_registering_where_staff_entered_the_person_leads_to_that_registration(client):
    event = EventFactory(standard_price=0, member_price=0)
    guest = enter_guest(event, "gus@lu.se")
    user = UserFactory(email="gus@lu.se")
    client.force_login(user)
    url = reverse("events:register", args=[event.slug])

    response = client.post(url, {"dietary_needs": "", "accessibility_needs": ""}, follow=True)

    assert response.redirect_chain[-1][0] == guest.get_absolute_url()
    assert response.status_code == 200
    assert Registration.objects.filter(event=event).count() == 1


# --- The person's data ---------------------------------------------------------------------------


def test_the_export_holds_guest_registrations_of_verified_addresses_only():
    user = UserFactory(email="gus@gmail.com")
    add_email(user, "gus@lu.se", verified=True)
    add_email(user, "gus@ku.dk", verified=False)
    enter_guest(EventFactory(title="Entered for lu.se"), "gus@lu.se")
    enter_guest(EventFactory(title="Entered for ku.dk"), "gus@ku.dk")

    exported = export_personal_data(user=user)

    assert [r["event"]["title"] for r in exported["registrations"]] == ["Entered for lu.se"]


def test_deleting_the_account_cancels_and_anonymises_guest_registrations_too():
    user = UserFactory(email="gus@lu.se")
    guest = enter_guest(EventFactory(), "gus@lu.se", dietary_needs="Vegan")

    delete_account(user=user)

    guest.refresh_from_db()
    assert guest.status == Registration.Status.CANCELLED
    assert (guest.first_name, guest.email, guest.dietary_needs) == (
        "Deleted",
        f"deleted-{guest.pk}@invalid",
        "",
    )
