"""Users that staff create or change in the admin: the address they enter is vouched for, so
the person signs in straight away (members/admin.py UserAdmin, members/affiliation.py
record_address_vouched_for_by_staff)."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import translation

from members.affiliation import (
    AddressOfAnotherAccount,
    record_address_vouched_for_by_staff,
    verified_affiliations,
)
from members.models import User
from tests.factories import (
    PASSWORD,
    InstitutionDomainFactory,
    InstitutionFactory,
    MembershipFactory,
    UserFactory,
    add_email,
)

NEW_PASSWORD = "a-fresh-and-long-passphrase-42"
TAKEN = "Another account already uses this e-mail address."


@pytest.fixture(autouse=True)
def _messages_in_english():
    with translation.override("en"):
        yield


def add_user(client, email: str):
    return client.post(
        reverse("admin:members_user_add"),
        {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def change_user(client, user: User, **changes):
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "job_title": user.job_title,
        "language": user.language,
        "is_active": "on",
        "date_joined_0": "2024-05-02",
        "date_joined_1": "09:30:00",
        "last_login_0": "",
        "last_login_1": "",
    } | changes
    return client.post(reverse("admin:members_user_change", args=[user.pk]), data)


def addresses(user: User) -> list[tuple[str, bool, bool]]:
    """The user's addresses as (address, verified, primary), by address."""
    return sorted(
        EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")
    )


def log_in(client, email: str, password: str):
    client.logout()
    return client.post(reverse("account_login"), {"login": email, "password": password})


# -- adding a user ----------------------------------------------------------------------------


def test_a_user_added_in_the_admin_signs_in_straight_away(staff_client):
    response = add_user(staff_client, "new.person@example.org")
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.person@example.org")
    assert addresses(user) == [("new.person@example.org", True, True)]

    response = log_in(staff_client, "new.person@example.org", NEW_PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("events:list")  # not "Confirm your e-mail address"
    assert staff_client.session["_auth_user_id"] == str(user.pk)


def test_the_address_is_kept_in_the_spelling_of_sign_up(staff_client):
    response = add_user(staff_client, " Anna.Berg@Med.LU.SE ")
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(is_staff=False)
    assert user.email == "anna.berg@med.lu.se"
    assert addresses(user) == [("anna.berg@med.lu.se", True, True)]


def test_an_institutional_address_staff_enter_gives_the_institutions_rate(staff_client):
    # Intended: staff vouch for the address, as the person's confirming it would.
    lund = InstitutionFactory(name="Lund University")
    InstitutionDomainFactory(institution=lund, domain="lu.se", include_subdomains=True)
    MembershipFactory(institution=lund, starts_on=datetime.date(2020, 1, 1), ends_on=None)

    add_user(staff_client, "anna.berg@med.lu.se")

    user = User.objects.get(email="anna.berg@med.lu.se")
    assert [a.institution for a in verified_affiliations(user=user)] == [lund]


@pytest.mark.parametrize(
    "email",
    ["Taken@Example.org", "second@example.org"],
    ids=["another account's sign-in address", "another account's confirmed address"],
)
def test_an_address_of_another_account_cannot_be_added(staff_client, email):
    other = UserFactory(email="taken@example.org")
    add_email(other, "second@example.org")
    response = add_user(staff_client, email)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [TAKEN]
    assert User.objects.count() == 2  # the staff member and the other account
    assert addresses(other) == [
        ("second@example.org", True, False),
        ("taken@example.org", True, True),
    ]


# -- changing a user's address ----------------------------------------------------------------


def test_changing_the_address_in_the_admin_keeps_allauth_in_step(staff_client):
    user = UserFactory(email="old@example.org")
    add_email(user, "other@example.org", verified=False)

    response = change_user(staff_client, user, email="New@Example.org")
    assert response.status_code == 302, response.context["adminform"].form.errors

    user.refresh_from_db()
    assert user.email == "new@example.org"
    assert addresses(user) == [
        ("new@example.org", True, True),
        ("old@example.org", True, False),  # still theirs; they may remove it themselves
        ("other@example.org", False, False),
    ]
    response = log_in(staff_client, "new@example.org", PASSWORD)
    assert response.url == reverse("events:list")


def test_changing_to_an_unconfirmed_address_of_the_same_person_confirms_it(staff_client):
    user = UserFactory(email="old@example.org", verified=False)
    add_email(user, "new@example.org", verified=False)

    response = change_user(staff_client, user, email="new@example.org")
    assert response.status_code == 302, response.context["adminform"].form.errors

    assert addresses(user) == [
        ("new@example.org", True, True),
        ("old@example.org", False, False),
    ]


def test_changing_to_an_address_of_another_account_is_refused(staff_client):
    user = UserFactory(email="mine@example.org")
    other = UserFactory(email="theirs@example.org")

    response = change_user(staff_client, user, email="THEIRS@example.org")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [TAKEN]
    user.refresh_from_db()
    assert user.email == "mine@example.org"
    assert addresses(user) == [("mine@example.org", True, True)]
    assert addresses(other) == [("theirs@example.org", True, True)]


def test_changing_something_else_leaves_the_addresses_alone(staff_client):
    # Staff vouch for an address they enter, not for one the person typed and never confirmed.
    user = UserFactory(email="Unconfirmed@Example.org", verified=False)

    response = change_user(staff_client, user, first_name="Karin")
    assert response.status_code == 302, response.context["adminform"].form.errors

    user.refresh_from_db()
    assert (user.first_name, user.email) == ("Karin", "Unconfirmed@Example.org")
    assert addresses(user) == [("Unconfirmed@Example.org", False, True)]


# -- the rule ---------------------------------------------------------------------------------


def test_recording_a_vouched_address_makes_it_the_only_primary_one(db):
    user = UserFactory(email="old@example.org")
    add_email(user, "second@example.org")

    address = record_address_vouched_for_by_staff(user=user, email="second@example.org")

    assert (address.email, address.verified, address.primary) == ("second@example.org", True, True)
    user.refresh_from_db()
    assert user.email == "second@example.org"
    assert addresses(user) == [
        ("old@example.org", True, False),
        ("second@example.org", True, True),
    ]


def test_an_address_another_account_confirmed_is_not_recorded(db):
    user = UserFactory(email="mine@example.org")
    other = UserFactory(email="theirs@example.org")
    add_email(other, "shared@example.org")

    with pytest.raises(AddressOfAnotherAccount):
        record_address_vouched_for_by_staff(user=user, email="Shared@example.org")

    user.refresh_from_db()
    assert user.email == "mine@example.org"
    assert addresses(user) == [("mine@example.org", True, True)]
