"""The language a person last chose is kept on their account and spoken when they sign in
on another browser (members.preferred_language)."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from members.preferred_language import language_for_sign_in, remember_language
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def switch(client, language):
    return client.post(reverse("set_language"), {"language": language, "next": "/events/"})


def html_lang(response) -> str:
    html = response.content.decode()
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def test_a_signed_in_persons_choice_is_kept_on_their_account(client):
    person = UserFactory(language="en")
    client.force_login(person)

    assert switch(client, "sv").status_code == 302

    person.refresh_from_db()
    assert person.language == "sv"


@pytest.mark.parametrize("language", ["xx", ""], ids=["unknown", "empty"])
def test_an_unknown_language_is_not_kept(client, language):
    person = UserFactory(language="da")
    client.force_login(person)

    switch(client, language)

    person.refresh_from_db()
    assert person.language == "da"


def test_an_anonymous_choice_touches_no_account(client):
    person = UserFactory(language="en")
    switch(client, "sv")
    person.refresh_from_db()
    assert person.language == "en"


def test_signing_in_on_a_new_browser_speaks_the_persons_language():
    person = UserFactory(email="ingrid@ku.dk", language="da")
    browser = Client()

    response = browser.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "da"
    assert html_lang(browser.get("/events/")) == "da"


def test_a_choice_made_on_this_browser_before_signing_in_wins():
    person = UserFactory(email="ingrid@ku.dk", language="da")
    browser = Client()
    switch(browser, "sv")

    response = browser.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})

    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert html_lang(browser.get("/events/")) == "sv"


@pytest.mark.parametrize(
    ("preferred", "on_this_browser", "spoken"),
    [
        ("da", None, "da"),
        ("da", "sv", None),  # the browser's own, more recent choice stays
        ("da", "xx", "da"),  # a cookie with no language of ours is no choice
        ("", None, None),  # nothing known: leave the language as it is
        ("xx", None, None),
    ],
)
def test_language_for_sign_in(preferred, on_this_browser, spoken):
    person = UserFactory.build(language=preferred)
    assert language_for_sign_in(user=person, chosen_on_this_browser=on_this_browser) == spoken


def test_remember_language_refuses_anonymous_visitors():
    from django.contrib.auth.models import AnonymousUser

    assert remember_language(user=AnonymousUser(), language="sv") is False
