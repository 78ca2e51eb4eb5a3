"""Requests no page can read get the site's 400 page, never an error page of Django's own."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_client():
    # As browsers meet the site: CSRF checked, exceptions turned into responses.
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


@pytest.mark.parametrize("charset", ["latin1", "windows-1252", "utf-16", "no-such-charset"])
@pytest.mark.parametrize("path", ["/accounts/login/", "/events/", "/i18n/setlang/"])
def test_a_form_posted_in_another_charset_than_utf_8_is_a_400(strict_client, path, charset):
    # generic(): the body as bytes, whatever charset the header claims.
    response = strict_client.generic(
        "POST",
        path,
        b"login=a%40b.se&password=x",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()


@pytest.mark.parametrize("charset", ["utf-8", "UTF8", "utf_8"])
def test_utf_8_by_any_name_is_read(strict_client, charset):
    response = strict_client.generic(
        "POST",
        "/accounts/login/",
        b"login=a%40b.se&password=x",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 403  # read, then refused for the missing CSRF token


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
