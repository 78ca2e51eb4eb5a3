"""Requests no page can read get the site's 400 page, never an error page of Django's own."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_client():
    # As browsers meet the site: CSRF checked, exceptions turned into responses.
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


def post_form(client, path, charset, **fields):
    """A form posted as a browser does (CSRF cookie and token), declaring `charset`; the
    body as bytes, whatever charset the header claims."""
    from urllib.parse import urlencode

    client.get("/accounts/login/")  # the CSRF cookie
    token = client.cookies["csrftoken"].value
    body = urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    return client.generic(
        "POST",
        path,
        body,
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )


@pytest.mark.parametrize(
    "charset", ["latin1", "windows-1252", "utf-16", "UTF8", "utf_8", "no-such-charset"]
)
@pytest.mark.parametrize("path", ["/accounts/login/", "/events/", "/i18n/setlang/"])
def test_a_form_posted_in_another_charset_than_utf_8_is_a_400(strict_client, path, charset):
    response = post_form(strict_client, path, charset, login="a@b.se", password="x")
    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8"])
def test_a_form_posted_in_utf_8_is_read(strict_client, charset):
    response = post_form(
        strict_client, "/accounts/login/", charset, login="nobody@b.se", password="wrong"
    )
    assert response.status_code == 200  # read, and answered: the log-in failed
    assert "Please check and try again:" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["network=%00", "%00=1", "q=a%00b", "network=lab&o=%00"],
)
@pytest.mark.parametrize("path", ["/events/", "/admin/events/registration/", "/"])
def test_a_nul_byte_in_the_query_string_is_a_400(client, staff_user, path, query):
    client.force_login(staff_user)
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()


def test_a_bad_host_gets_the_site_s_400_page():
    response = Client(raise_request_exception=False).get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/admin/events/registration/?email__regex=(", None),
        ("get", "/admin/members/user/?email__regex=(", None),
        ("get", "/admin/outbox/outgoingemail/?recipient__regex=[", None),
        (
            "post",
            "/admin/events/registration/",
            {"action": "check_in_selected", "_selected_action": ["abc"]},
        ),
        (
            "post",
            "/admin/members/institution/",
            {"action": "export_admin_action", "_selected_action": ["1x"]},
        ),
    ],
)
def test_admin_input_the_database_refuses_is_a_400(method, path, data):
    from tests.factories import UserFactory

    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = getattr(client, method)(path, data) if data else getattr(client, method)(path)

    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()
