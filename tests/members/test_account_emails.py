"""allauth's mails and pages as people meet them: every mail the site sends with its settings
names MVA Events, comes as HTML with a plain-text alternative in the site's style and carries
its link in both; the account pages speak in sentence case."""

import datetime
import re
import zoneinfo
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from outbox.models import OutgoingEmail
from outbox.services import PRERENDERED
from tests.factories import PASSWORD, UserFactory, signup_data

pytestmark = pytest.mark.django_db

NEW_EMAIL = "astrid.lindqvist@med.lu.se"
NEW_PASSWORD = "a-fresh-and-long-passphrase-42"


def the_mail_to(recipient: str) -> OutgoingEmail:
    [row] = OutgoingEmail.objects.filter(recipient=recipient)
    return row


# --- how each mail is set off -------------------------------------------------------------------


def sign_up(client):
    client.post(reverse("account_signup"), signup_data())
    return NEW_EMAIL


def add_an_address(client):
    client.force_login(UserFactory(email="private@example.com", first_name="Astrid"))
    client.post(reverse("account_email"), {"action_add": "", "email": "astrid@med.lu.se"})
    return "astrid@med.lu.se"


def reset_a_password(client):
    UserFactory(email="forgetful@lu.se", first_name="Karin")
    client.post(reverse("account_reset_password"), {"email": "forgetful@lu.se"})
    return "forgetful@lu.se"


def reset_the_password_of_nobody(client):
    client.post(reverse("account_reset_password"), {"email": "stranger@lu.se"})
    return "stranger@lu.se"


def sign_up_with_a_taken_address(client):
    UserFactory(email="taken@lu.se")
    client.post(reverse("account_signup"), signup_data(email="taken@lu.se"))
    return "taken@lu.se"


# trigger, subject, the path its link leads to, whether the link expires
MAILS = {
    "sign-up confirmation": (
        sign_up,
        "Confirm your e-mail address",
        "/accounts/confirm-email/",
        True,
    ),
    "added address confirmation": (
        add_an_address,
        "Confirm your e-mail address",
        "/accounts/confirm-email/",
        True,
    ),
    "password reset": (
        reset_a_password,
        "Reset your password",
        "/accounts/password/reset/key/",
        True,
    ),
    "reset for an unknown address": (
        reset_the_password_of_nobody,
        "No account with this e-mail address",
        "/accounts/signup/",
        False,
    ),
    "sign-up with an address that has an account": (
        sign_up_with_a_taken_address,
        "You already have an account",
        "/accounts/password/reset/",
        False,
    ),
}


def link_in_text(body: str, path: str) -> str:
    match = re.search(rf"^https?://\S+{re.escape(path)}\S*$", body, re.MULTILINE)
    assert match, f"no bare {path} link on a line of its own in:\n{body}"
    return match.group(0)


@pytest.mark.parametrize("mail", list(MAILS))
def test_every_account_mail_names_the_site_and_carries_its_link_in_text_and_html(client, mail):
    trigger, subject, path, _expires = MAILS[mail]

    row = the_mail_to(trigger(client))

    assert row.kind == PRERENDERED
    assert row.subject == f"[MVA Events] {subject}"
    for body in (row.body_text, row.body_html):
        assert "MVA Events" in body
        assert "Hello from" not in body
        assert "Thank you for using" not in body
        assert " !" not in body
        assert " on ." not in body
    link = link_in_text(row.body_text, path)
    assert f'<a href="{link}"' in row.body_html
    # The signature, as in the registration e-mails.
    assert "\n-- \nMVA Events · Medicon Valley Alliance\n" in row.body_text
    assert row.body_html.startswith("<!DOCTYPE html>")
    assert f"<title>[MVA Events] {subject}</title>" in row.body_html


@pytest.mark.parametrize("mail", [name for name, spec in MAILS.items() if spec[2]])
def test_account_links_lead_to_the_sites_public_address_whatever_the_host(client, mail, settings):
    settings.SITE_URL = "https://events.mva.org"
    settings.ALLOWED_HOSTS = ["internal.example", "testserver"]
    trigger, _subject, path, _expires = MAILS[mail]
    client.defaults["HTTP_HOST"] = "internal.example"

    row = the_mail_to(trigger(client))

    link = link_in_text(row.body_text, path)
    assert link.startswith(f"https://events.mva.org{path}")


def assert_expires(row: OutgoingEmail, expected: datetime.datetime):
    """The mail says, in text and HTML, that its link works until about `expected`."""
    match = re.search(
        r"The link works (?:once, )?until (\d{1,2} \w+ \d{4}, \d\d:\d\d) CES?T\.", row.body_text
    )
    assert match, row.body_text
    assert match.group(0) in row.body_html
    written = datetime.datetime.strptime(match.group(1), "%d %B %Y, %H:%M")  # noqa: DTZ007
    expires = written.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
    assert abs(expires - expected) < datetime.timedelta(minutes=2)


@pytest.mark.parametrize("mail", [name for name, spec in MAILS.items() if spec[3]])
def test_a_link_that_expires_says_until_when(client, mail):
    trigger, _subject, _path, _expires = MAILS[mail]
    before = timezone.localtime()

    row = the_mail_to(trigger(client))

    # Both links last three days with the settings (allauth's and Django's defaults).
    assert_expires(row, before + datetime.timedelta(days=3))


def test_the_reset_link_expiry_follows_password_reset_timeout(client, settings):
    settings.PASSWORD_RESET_TIMEOUT = 2 * 60 * 60
    before = timezone.localtime()

    row = the_mail_to(reset_a_password(client))

    assert_expires(row, before + datetime.timedelta(hours=2))


def test_the_reset_mail_greets_the_account_holder_by_name(client):
    row = the_mail_to(reset_a_password(client))
    assert row.body_text.startswith("Dear Karin,\n")
    assert "Dear Karin," in row.body_html


def test_a_name_typed_at_sign_up_does_not_go_to_an_unconfirmed_address(client):
    # Whoever signs up types the name; the address may be somebody else's.
    row = the_mail_to(sign_up(client))
    assert row.body_text.startswith("Hello,\n")
    assert "Astrid" not in row.body_text
    assert "Astrid" not in row.body_html


def test_each_mail_says_what_to_do_if_you_did_not_ask_for_it(client):
    expected = {
        sign_up: "If you did not sign up, you can ignore this e-mail.",
        add_an_address: "If you did not add this address to an account on MVA Events",
        reset_a_password: "If you did not ask for this, you can ignore this e-mail.",
        reset_the_password_of_nobody: "If you did not ask for this, you can ignore this e-mail.",
        sign_up_with_a_taken_address: "If you did not try to sign up, you can ignore this e-mail.",
    }
    for trigger, sentence in expected.items():
        client.logout()
        row = the_mail_to(trigger(client))
        assert sentence in row.body_text
        assert sentence in row.body_html


def test_the_html_mail_escapes_the_address(client):
    # Allowed by the address syntax, and shown in the mail about an unknown account.
    client.post(reverse("account_reset_password"), {"email": "o'brien@lu.se"})
    row = the_mail_to("o'brien@lu.se")
    assert "o&#x27;brien@lu.se" in row.body_html
    assert "o'brien@lu.se" in row.body_text


def test_an_allauth_mail_without_a_template_of_ours_still_names_the_site(client, settings, user):
    """The security notifications are off (ACCOUNT_EMAIL_NOTIFICATIONS), so they have no
    templates here; turned on, they still get the site's greeting and signature."""
    settings.ACCOUNT_EMAIL_NOTIFICATIONS = True
    client.force_login(user)

    client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    row = the_mail_to(user.email)
    assert row.subject.startswith("[MVA Events] ")
    assert "MVA Events · Medicon Valley Alliance" in row.body_text
    assert "Hello from" not in row.body_text


# --- in Swedish ---------------------------------------------------------------------------------


def test_a_visitor_who_signs_up_in_swedish_gets_the_mail_in_swedish(in_language):
    client = in_language("sv")

    row = the_mail_to(sign_up(client))

    assert row.language == "sv"
    assert row.subject == "[MVA Events] Bekräfta din e-postadress"
    for body in (row.body_text, row.body_html):
        assert body.count("Tack för att du skapade ett konto på MVA Events.") == 1
        assert "Thank you for signing up" not in body
    assert 'lang="sv"' in row.body_html


# --- pages --------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """The texts of a page's title, headings and buttons."""

    def __init__(self):
        super().__init__()
        self.texts: dict[str, list[str]] = {"title": [], "h1": [], "h2": [], "button": []}
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.texts:
            self._open.append(tag)
            self.texts[tag].append("")

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            tag = self._open[-1]
            self.texts[tag][-1] += data


def headings_and_buttons(html: str) -> list[str]:
    page = _Page()
    page.feed(html)
    texts = [" ".join(text.split()) for texts in page.texts.values() for text in texts]
    # Every title ends in the site's name, which is a name.
    return [text.removesuffix(" · MVA Events") for text in texts if text]


# Words that keep their capital inside a sentence.
PROPER = {"MVA", "Events"}


def assert_sentence_case(html: str):
    for text in headings_and_buttons(html):
        words = re.findall(r"[\w-]+", text)
        capitalised = [word for word in words[1:] if word[0].isupper() and word not in PROPER]
        assert not capitalised, f"Title Case in {text!r}"


def test_the_password_reset_page_speaks_in_sentence_case_and_asks_for_no_contact(client):
    response = client.get(reverse("account_reset_password"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Reset your password</h1>" in html
    assert "Password Reset" not in html
    assert "Reset My Password" not in html
    assert "contact us" not in html
    assert f'href="{reverse("account_login")}"' in html
    assert_sentence_case(html)


@pytest.mark.parametrize(
    ("url_name", "heading"),
    [
        ("account_reset_password_done", "Check your e-mail"),
        ("account_reset_password_from_key_done", "Your password is changed"),
        ("account_inactive", "Account not active"),
    ],
)
def test_anonymous_account_pages_speak_in_sentence_case(client, url_name, heading):
    response = client.get(reverse(url_name))

    html = response.content.decode()
    assert f"<h1>{heading}</h1>" in html
    assert "contact us" not in html
    assert_sentence_case(html)


def test_the_pages_behind_the_mails_links_speak_in_sentence_case(client):
    client.post(reverse("account_signup"), signup_data())
    UserFactory(email="forgetful@lu.se")
    client.post(reverse("account_reset_password"), {"email": "forgetful@lu.se"})
    confirm_link = link_in_text(the_mail_to(NEW_EMAIL).body_text, "/accounts/confirm-email/")
    reset_link = link_in_text(the_mail_to("forgetful@lu.se").body_text, "/accounts/password/")

    confirm = client.get(confirm_link).content.decode()
    assert "<h1>Confirm your e-mail address</h1>" in confirm
    assert f"<strong>{NEW_EMAIL}</strong> is your e-mail address" in confirm
    assert_sentence_case(confirm)

    reset = client.get(reset_link, follow=True).content.decode()
    assert "<h1>Choose a new password</h1>" in reset
    assert_sentence_case(reset)

    broken = client.get("/accounts/password/reset/key/1-not-a-key/", follow=True)
    assert "<h1>This link does not work</h1>" in broken.content.decode()
    assert_sentence_case(broken.content.decode())
    expired = client.get("/accounts/confirm-email/not-a-key/").content.decode()
    assert "expired or is invalid" in expired
    assert_sentence_case(expired)


def reauthenticate(client):
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302


@pytest.mark.parametrize(
    ("url_name", "heading"),
    [
        ("account_change_password", "Change your password"),
        ("account_logout", "Sign out"),
        ("account_email", "E-mail addresses"),
        ("mfa_index", "Two-factor authentication"),
        ("mfa_activate_totp", "Activate an authenticator app"),
        ("mfa_generate_recovery_codes", "Recovery codes"),
    ],
)
def test_signed_in_account_pages_speak_in_sentence_case(client, user, url_name, heading):
    client.force_login(user)
    reauthenticate(client)

    html = client.get(reverse(url_name)).content.decode()

    assert f"<h1>{heading}</h1>" in html
    assert_sentence_case(html)


def test_the_reauthentication_page_speaks_in_sentence_case(client, user):
    client.force_login(user)
    html = client.get(reverse("account_reauthenticate")).content.decode()
    assert "<h1>Confirm it is you</h1>" in html
    assert_sentence_case(html)


def test_the_two_factor_pages_of_a_user_with_an_app_speak_in_sentence_case(client, user):
    from tests.test_accounts import activate_totp, current_totp_code

    activate_totp(user)
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    sign_in = client.get(reverse("mfa_authenticate")).content.decode()
    assert "<h1>Two-factor authentication</h1>" in sign_in
    assert_sentence_case(sign_in)
    client.post(reverse("mfa_authenticate"), {"code": current_totp_code()})
    reauthenticate(client)

    for url_name, heading in [
        ("mfa_index", "Two-factor authentication"),
        ("mfa_deactivate_totp", "Deactivate the authenticator app"),
        ("mfa_view_recovery_codes", "Recovery codes"),
    ]:
        html = client.get(reverse(url_name)).content.decode()
        assert f"<h1>{heading}</h1>" in html, url_name
        assert_sentence_case(html)
    assert "Unused recovery codes: 10 of 10." in client.get(reverse("mfa_index")).content.decode()
