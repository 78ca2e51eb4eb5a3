"""The site's frame around every page: skip link, language, navigation, error pages."""

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def html_lang(response):
    match = re.search(r'<html lang="([^"]*)"', response.content.decode())
    assert match, "no <html lang>"
    return match.group(1)


def switch_language(client, language, next_url="/accounts/login/"):
    return client.post(reverse("set_language"), {"language": language, "next": next_url})


# --- skip link, landmarks, language attribute -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/", "/events/", "/accounts/login/", "/accounts/signup/", "/privacy/"],
)
def test_every_page_has_a_skip_link_to_the_main_content_and_a_language(client, url):
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert html_lang(response) == "en"
    # The skip link is the first thing in the body, and its target exists.
    body = html[html.index("<body") :]
    first_link = re.search(r"<a [^>]*>", body).group(0)
    assert 'class="skip-link"' in first_link
    assert 'href="#main"' in first_link
    assert '<main id="main"' in html
    assert html.count("<h1") == 1
    assert "<title>" in html


def test_the_language_switcher_is_a_labelled_form_offering_the_three_languages(client):
    html = client.get("/").content.decode()

    form = html[html.index('class="language-switcher"') :]
    form = form[: form.index("</form>")]
    assert '<label for="language-select">' in form
    assert 'name="csrfmiddlewaretoken"' in form
    assert re.findall(r'<option value="(\w+)"', form) == ["en", "sv", "da"]
    assert f'action="{reverse("set_language")}"' in html


# --- switching language -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "password_label"),
    [("sv", "Lösenord"), ("da", "Adgangskode"), ("en", "Password")],
)
def test_switching_language_answers_in_that_language(client, language, password_label):
    response = switch_language(client, language)

    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    page = client.get(response.url)
    assert html_lang(page) == language
    html = page.content.decode()
    assert f'<option value="{language}" lang="{language}" selected>' in html
    # allauth ships Swedish and Danish: the log-in form's labels follow the choice.
    assert f">{password_label}<" in html
    # The choice sticks for the next page too.
    assert html_lang(client.get("/events/")) == language


def test_the_chosen_language_is_the_language_of_the_account_created(client):
    switch_language(client, "da")
    client.post(
        reverse("account_signup"),
        {
            "first_name": "Mette",
            "last_name": "Jensen",
            "email": "mette@ku.dk",
            "password1": "correct-horse-battery-staple",
            "password2": "correct-horse-battery-staple",
        },
    )
    from members.models import User
    from outbox.models import OutgoingEmail

    assert User.objects.get(email="mette@ku.dk").language == "da"
    assert OutgoingEmail.objects.get(recipient="mette@ku.dk").language == "da"


@pytest.mark.parametrize(
    ("language", "next_url", "expected_lang", "expected_redirect"),
    [
        ("xx", "/events/", "en", "/events/"),
        ("", "/events/", "en", "/events/"),
        ("sv", "https://evil.example/", "sv", "/"),
        ("sv", "//evil.example/", "sv", "/"),
    ],
    ids=["unknown-language", "no-language", "foreign-next", "scheme-relative-next"],
)
def test_bad_language_switches_change_nothing_dangerous(
    client, language, next_url, expected_lang, expected_redirect
):
    response = switch_language(client, language, next_url)

    assert response.status_code == 302
    assert response.url == expected_redirect
    assert html_lang(client.get("/events/")) == expected_lang


def test_switching_language_without_csrf_token_is_refused():
    client = Client(enforce_csrf_checks=True)
    assert switch_language(client, "sv").status_code == 403


# --- navigation ---------------------------------------------------------------------------------


def nav(response):
    html = response.content.decode()
    start = html.index('<nav aria-label="Main">')
    return html[start : html.index("</nav>", start)]


def test_anonymous_visitors_are_offered_sign_in_and_sign_up(client):
    menu = nav(client.get("/events/"))

    assert f'href="{reverse("account_login")}">Sign in<' in menu
    assert f'href="{reverse("account_signup")}">Sign up<' in menu
    assert "Sign out" not in menu
    assert reverse("admin:index") not in menu


def test_signed_in_people_are_offered_sign_out_as_a_post_form(client, user):
    client.force_login(user)

    menu = nav(client.get("/events/"))

    assert "Sign in<" not in menu
    assert f'<form method="post" action="{reverse("account_logout")}"' in menu
    assert ">Sign out</button>" in menu
    assert 'name="csrfmiddlewaretoken"' in menu
    assert f'href="{reverse("account_email")}"' in menu
    assert reverse("admin:index") not in menu


def test_staff_see_the_back_office_link(client, staff_user):
    client.force_login(staff_user)
    assert f'href="{reverse("admin:index")}"' in nav(client.get("/events/"))


def test_the_cached_navigation_follows_each_visitors_role_and_language(user, staff_user):
    """The navigation is rendered once per language and role and kept in the process; one
    process serving an anonymous visitor, staff, an attendee and other languages in turn
    gives each their own menu."""
    anonymous, staff, attendee = Client(), Client(), Client()
    staff.force_login(staff_user)
    attendee.force_login(user)
    back_office = f'href="{reverse("admin:index")}"'
    for _round in range(2):
        assert "Sign in<" in nav(anonymous.get("/events/"))
        assert back_office in nav(staff.get("/events/"))
        menu = nav(attendee.get("/events/"))
        assert back_office not in menu
        assert "Sign in<" not in menu
        assert "Sign out" in menu
    switch_language(attendee, "sv", next_url="/events/")
    swedish = attendee.get("/events/")
    assert html_lang(swedish) == "sv"
    assert ">Evenemang</a>" in swedish.content.decode()
    assert ">Events</a>" not in swedish.content.decode()
    assert '<option value="sv" lang="sv" selected>' in swedish.content.decode()
    assert '<option value="en" lang="en" selected>' in staff.get("/events/").content.decode()


def test_account_pages_show_the_account_navigation_with_the_current_page(client, user):
    client.force_login(user)

    html = client.get(reverse("account_email")).content.decode()

    assert '<nav class="account-nav" aria-label="Your account">' in html
    assert f'<a href="{reverse("account_email")}" aria-current="page">' in html
    assert f'<a href="{reverse("mfa_index")}">' in html


def test_messages_are_announced(client, user):
    client.force_login(user)
    response = client.post(reverse("account_logout"), follow=True)
    html = response.content.decode()
    assert '<div class="messages" role="status">' in html
    assert "signed out" in html


# --- error pages --------------------------------------------------------------------------------


def test_404_page_is_friendly_and_in_the_layout(client, settings):
    settings.DEBUG = False

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "We cannot find that page" in html
    assert 'class="skip-link"' in html
    assert f'href="{reverse("events:list")}"' in html


def test_404_page_follows_the_chosen_language(client, settings):
    settings.DEBUG = False
    switch_language(client, "sv")
    assert html_lang(client.get("/no-such-page/")) == "sv"


def test_403_page_tells_a_signed_in_person_who_they_are(client, user):
    client.force_login(user)

    response = client.get("/admin/", follow=True)

    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot open this page" in html
    assert user.email in html


def test_500_page_renders_without_a_request_context_or_the_database(django_assert_num_queries):
    request = RequestFactory().get("/broken/")

    with django_assert_num_queries(0):
        response = server_error(request)

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert '<html lang="en">' in html
    assert "csrfmiddlewaretoken" not in html


def test_privacy_page_is_linked_from_every_page(client):
    assert f'href="{reverse("privacy")}"' in client.get("/events/").content.decode()
    response = client.get(reverse("privacy"))
    assert response.status_code == 200
    assert "<h1>" in response.content.decode()


def test_every_page_names_its_icon_and_the_icon_exists(client, staff_user):
    from django.contrib.staticfiles import finders

    client.force_login(staff_user)
    for url in ["/", "/admin/"]:
        html = client.get(url).content.decode()
        match = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
        assert match, f"no icon link on {url} (browsers then ask for /favicon.ico: a 404)"
        path = match.group(1).removeprefix("/static/")
        assert finders.find(path), path
