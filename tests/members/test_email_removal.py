"""Removing an e-mail address asks first and says what the address gave."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from tests.factories import UserFactory, add_email, member_institution

REMOVE = reverse("confirm_email_removal")


@pytest.fixture
def person(db):
    member_institution(domain="lu.se", name="Lund University")
    person = UserFactory(email="astrid@gmail.com")
    add_email(person, "astrid@lu.se", verified=True)
    return person


def test_the_remove_button_asks_first_on_a_page_of_its_own(client, person):
    client.force_login(person)

    page = client.get(reverse("account_email")).content.decode()

    [button] = re.findall(r"<button[^>]*action_remove[^>]*>", page)
    assert f'formaction="{REMOVE}"' in button


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("astrid@lu.se", "This address shows that you are staff of Lund University."),
        ("astrid@other.example", "You can add the address again later"),
    ],
    ids=["institutional", "private"],
)
def test_the_confirmation_names_the_address_and_what_it_gave(client, person, address, says):
    add_email(person, "astrid@other.example", verified=False)
    client.force_login(person)

    response = client.post(REMOVE, {"email": address.upper()})

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = " ".join(response.content.decode().split())
    assert f'<input type="hidden" name="email" value="{address}">' in html
    assert 'name="action_remove"' in html
    assert says in html
    assert ("keep their price" in html) is (address == "astrid@lu.se")
    assert EmailAddress.objects.filter(user=person, email=address).exists()


@pytest.mark.parametrize(
    ("other_address", "lapsed", "warned"),
    [
        (None, False, True),
        ("astrid@med.lu.se", False, False),  # another address shows the same
        (None, True, False),  # no member today: no rate to lose
    ],
    ids=["the-only-one", "another-shows-the-same", "not-a-member"],
)
def test_the_rate_is_said_to_go_only_when_it_does(client, person, other_address, lapsed, warned):
    from members.models import Membership

    if other_address:
        add_email(person, other_address, verified=True)
    if lapsed:
        Membership.objects.all().delete()
    client.force_login(person)

    html = " ".join(client.post(REMOVE, {"email": "astrid@lu.se"}).content.decode().split())

    assert ("the rate it gives no longer applies" in html) is warned
    assert ("keep their price" in html) is warned


def test_confirming_removes_the_address(client, person):
    client.force_login(person)
    client.post(REMOVE, {"email": "astrid@lu.se"})

    response = client.post(reverse("account_email"), {"action_remove": "", "email": "astrid@lu.se"})

    assert response.status_code == 302
    assert not EmailAddress.objects.filter(user=person, email="astrid@lu.se").exists()


@pytest.mark.parametrize(
    "email",
    ["astrid@gmail.com", "someone.else@lu.se", "", "not an address"],
    ids=["primary", "another-accounts", "empty", "malformed"],
)
def test_an_address_that_cannot_be_removed_goes_back_with_a_word(client, person, email):
    UserFactory(email="someone.else@lu.se")
    client.force_login(person)

    response = client.post(REMOVE, {"email": email}, follow=True)

    assert response.redirect_chain == [(reverse("account_email"), 302)]
    assert "That address is not one you can remove" in response.content.decode()


def test_the_confirmation_page_wants_a_signed_in_person_and_sends_a_link_to_the_addresses(
    client, person
):
    response = client.post(REMOVE, {"email": "astrid@lu.se"})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    client.force_login(person)
    # Reached by a link (the "form has expired" page offers one): the addresses to choose from.
    response = client.get(REMOVE)
    assert (response.status_code, response.url) == (302, reverse("account_email"))
    assert EmailAddress.objects.filter(user=person, email="astrid@lu.se").exists()


def test_each_button_names_its_address_for_screen_readers(client, person):
    add_email(person, "astrid@other.example", verified=False)
    client.force_login(person)

    html = client.get(reverse("account_email")).content.decode()

    for email in ("astrid@lu.se", "astrid@other.example"):
        assert f'Remove<span class="visually-hidden"> ({email})</span></button>' in html
