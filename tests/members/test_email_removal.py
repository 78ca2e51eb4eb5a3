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


def test_the_confirmation_page_wants_a_post_and_a_signed_in_person(client, person):
    assert client.post(REMOVE, {"email": "astrid@lu.se"}).status_code == 302  # to log-in
    client.force_login(person)
    assert client.get(REMOVE).status_code == 405
