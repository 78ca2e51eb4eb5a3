"""allauth's texts in the site's words: confirming it is you with a code sent by e-mail, the
labels of allauth's forms (sentence case, "E-mail address"), the messages shown after an action,
and allauth's own texts in Swedish and Danish with the site's spelling and terms."""

import re
import time
from pathlib import Path

import allauth
import pytest
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.urls import reverse

from members.allauth_texts import ALLAUTH_TEXTS
from outbox.models import OutgoingEmail
from outbox.services import PRERENDERED
from tests.factories import PASSWORD, UserFactory, add_email
from tests.members.test_account_emails import assert_sentence_case
from tests.test_accounts import activate_totp, controls_of, log_in, reauthenticate

pytestmark = pytest.mark.django_db

NEXT = "/accounts/2fa/totp/activate/"
NEW_PASSWORD = "a-fresh-and-long-passphrase-42"


def main_of(response) -> str:
    """The page's main content, without the layout's navigation and footer."""
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- confirming it is you with a code -----------------------------------------------------------


def ask_for_a_code(client, user):
    """From the two-factor page, through "Confirm it is you", to a code sent by e-mail."""
    client.force_login(user)
    page = client.get(NEXT, follow=True)
    assert page.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    return client.post(
        f"{reverse('account_request_reauthentication_code')}?next={NEXT}",
        {"recipient": user.email},
        follow=True,
    )


def the_code_in(body_text: str) -> str:
    """The code, on a line of its own after the sentence that asks for it."""
    return re.search(r":\n\n(\S+)\n\n", body_text).group(1)


def test_the_reauthentication_page_offers_a_code_by_e_mail_in_the_sites_words(client, user):
    client.force_login(user)

    html = main_of(client.get(f"{reverse('account_reauthenticate')}?next={NEXT}"))

    assert "Get a code by e-mail" in html
    assert "Send me a sign-in code" not in html


def test_with_one_address_the_code_page_names_it_and_asks_nothing(client, user):
    client.force_login(user)

    response = client.get(f"{reverse('account_request_reauthentication_code')}?next={NEXT}")

    html = main_of(response)
    assert f"We will send a code to <strong>{user.email}</strong>." in html
    assert f'<input type="hidden" name="recipient" value="{user.email}">' in html
    assert "<select" not in html
    assert "Recipient" not in html
    assert "Request Code" not in html
    assert ">Send me a code</button>" in html
    assert_sentence_case(response.content.decode())


def test_with_several_addresses_the_code_page_asks_where_to_send_it_in_a_labelled_list(
    client, user
):
    add_email(user, "astrid@med.lu.se")
    client.force_login(user)

    response = client.get(f"{reverse('account_request_reauthentication_code')}?next={NEXT}")

    html = main_of(response)
    assert '<label for="id_recipient">Send the code to</label>' in html
    assert '<select name="recipient" id="id_recipient">' in html
    assert "Recipient" not in html
    page = controls_of(response.content.decode())
    assert "id_recipient" in page.label_for


def test_the_code_mail_is_html_and_text_in_the_sites_words(client, user):
    ask_for_a_code(client, user)

    [row] = OutgoingEmail.objects.filter(recipient=user.email)
    assert row.kind == PRERENDERED
    assert row.subject == "[MVA Events] Your code to confirm it is you"
    code = the_code_in(row.body_text)
    assert code
    assert row.body_html.startswith("<!DOCTYPE html>")
    assert "<title>[MVA Events] Your code to confirm it is you</title>" in row.body_html
    for body in (row.body_text, row.body_html):
        assert "asked for a code to confirm that it is you on MVA Events" in body
        assert code in body
        assert "The code works once, for a few minutes." in body
        assert "If you did not ask for this code, give it to no one" in body
        assert "Sign-In Code" not in body
        assert "This mail can be safely ignored" not in body
        assert "Hello from" not in body
    assert "\n-- \nMVA Events · Medicon Valley Alliance\n" in row.body_text


def test_the_code_confirms_it_is_you_and_goes_on_where_you_were_going(client, user):
    page = ask_for_a_code(client, user)

    html = main_of(page)
    assert "<h1>Enter the code</h1>" in html
    assert f"Enter the code from the e-mail we sent to <strong>{user.email}</strong>." in html
    assert "Enter Sign-In Code" not in html
    assert messages_of(page) == [f"We have sent a code to {user.email}."]
    assert_sentence_case(page.content.decode())
    [row] = OutgoingEmail.objects.filter(recipient=user.email)

    response = client.post(
        f"{reverse('account_confirm_reauthentication_code')}?next={NEXT}",
        {"code": the_code_in(row.body_text)},
    )

    assert response.status_code == 302
    assert response.url == NEXT
    assert "<h1>Activate an authenticator app</h1>" in client.get(NEXT).content.decode()


def test_a_wrong_code_is_an_error_beside_the_field(client, user):
    ask_for_a_code(client, user)

    response = client.post(
        f"{reverse('account_confirm_reauthentication_code')}?next={NEXT}", {"code": "WRONG"}
    )

    html = main_of(response)
    assert "Please correct the marked fields:" in html
    assert 'aria-invalid="true"' in html
    assert "Choose another way" in html


# --- labels of allauth's forms ------------------------------------------------------------------


def labels_and_placeholders(response) -> list[str]:
    html = main_of(response)
    labels = [" ".join(label.split()) for label in re.findall(r"<label[^>]*>(.*?)</label>", html)]
    return labels + re.findall(r'placeholder="([^"]*)"', html)


def test_the_sign_in_page_labels_its_fields_in_sentence_case(client):
    response = client.get(reverse("account_login"))

    texts = labels_and_placeholders(response)
    assert "E-mail address" in texts
    assert "Remember me" in texts
    assert "Remember Me" not in texts
    assert "Email" not in texts
    assert "Email address" not in texts
    login = controls_of(response.content.decode())
    [field] = [control for control in login.controls if control.get("name") == "login"]
    assert field["placeholder"] == "E-mail address"
    assert field["autocomplete"] == "email"


def test_signing_in_still_works_with_the_relabelled_form(client, user):
    response = log_in(client, user.email, remember="on")

    assert response.status_code == 302
    assert messages_of(client.get(response.url)) == [f"You are signed in as {user}."]


@pytest.mark.parametrize(
    ("url_name", "signed_in"),
    [
        ("account_login", False),
        ("account_signup", False),
        ("account_reset_password", False),
        ("account_email", True),
    ],
)
def test_every_e_mail_field_is_labelled_e_mail_address(client, user, url_name, signed_in):
    if signed_in:
        client.force_login(user)

    texts = labels_and_placeholders(client.get(reverse(url_name)))

    assert texts.count("E-mail address") == 2  # the label and the placeholder
    assert "Email" not in texts
    assert "Email address" not in texts


def test_the_change_password_page_labels_its_fields_in_sentence_case(client, user):
    client.force_login(user)

    texts = labels_and_placeholders(client.get(reverse("account_change_password")))

    for label in ("Current password", "New password", "New password (again)"):
        assert texts.count(label) == 2, label  # the label and the placeholder
    for title_case in ("Current Password", "New Password", "New Password (again)"):
        assert title_case not in texts


def test_the_change_password_page_has_one_forgotten_password_link(client, user):
    client.force_login(user)

    html = main_of(client.get(reverse("account_change_password")))

    assert html.count(f'href="{reverse("account_reset_password")}"') == 1
    assert "Forgotten your password?" in html
    assert "Forgot your password?" not in html


def test_the_password_change_still_needs_and_takes_the_current_password(client, user):
    client.force_login(user)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )

    assert messages_of(response) == ["Your password has been changed."]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_the_new_password_page_of_a_reset_link_labels_its_fields_in_sentence_case(client):
    UserFactory(email="forgetful@lu.se")
    client.post(reverse("account_reset_password"), {"email": "forgetful@lu.se"})
    [row] = OutgoingEmail.objects.filter(recipient="forgetful@lu.se")
    link = re.search(r"https?://\S+(/accounts/password/reset/key/\S+)", row.body_text).group(1)

    texts = labels_and_placeholders(client.get(link, follow=True))

    assert "New password" in texts
    assert "New password (again)" in texts
    assert "New Password" not in texts


def test_an_account_form_with_errors_asks_to_correct_the_marked_fields(client):
    response = client.post(reverse("account_reset_password"), {"email": "not an address"})

    html = main_of(response)
    assert '<p class="error-summary-title">Please correct the marked fields:</p>' in html
    assert "Please correct the following:" not in html


# --- messages after an action -------------------------------------------------------------------


def remove_an_address(client, user):
    add_email(user, "old@med.lu.se")
    client.force_login(user)
    return client.post(
        reverse("account_email"), {"action_remove": "", "email": "old@med.lu.se"}, follow=True
    )


def test_removing_an_address_says_it_was_removed(client, user):
    response = remove_an_address(client, user)

    assert messages_of(response) == ["old@med.lu.se has been removed from your account."]


def test_adding_an_address_says_where_the_confirmation_went(client, user):
    client.force_login(user)

    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "astrid@med.lu.se"}, follow=True
    )

    assert messages_of(response) == [
        "We have sent an e-mail to astrid@med.lu.se. Open the link in it to confirm the address."
    ]


# allauth adds this message once the activation is committed, which a test inside a
# transaction never is.
@pytest.mark.django_db(transaction=True)
def test_activating_an_authenticator_app_says_so_in_the_sites_words(client, user):
    client.force_login(user)
    reauthenticate(client)
    client.get(reverse("mfa_activate_totp"))
    # The page keeps the secret it shows in the session until a code from it confirms it.
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))

    response = client.post(reverse("mfa_activate_totp"), {"code": code}, follow=True)

    # allauth makes the first recovery codes along with the app.
    assert messages_of(response) == [
        "Your authenticator app is activated.",
        "You have a new set of recovery codes.",
    ]


# --- in Swedish and Danish ----------------------------------------------------------------------
#
# These read the project's catalog: they pass once the texts of this change are translated in
# locale/ (make messages).


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("sv", "old@med.lu.se har tagits bort från ditt konto."),
        ("da", "old@med.lu.se er fjernet fra din konto."),
    ],
)
def test_removing_an_address_says_so_in_swedish_and_danish(in_language, user, language, message):
    client = in_language(language)

    response = remove_an_address(client, user)

    assert messages_of(response) == [message]


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("sv", "E-postadressen eller lösenordet är fel."),
        ("da", "E-mailadressen eller adgangskoden er forkert."),
    ],
)
def test_a_failed_sign_in_says_so_with_the_sites_spelling(in_language, user, language, error):
    client = in_language(language)

    response = log_in(client, user.email, "not-the-password")

    assert error in main_of(response)


def test_the_danish_pages_call_the_authenticator_app_godkendelsesapp(in_language, user):
    activate_totp(user)
    client = in_language("da")
    client.force_login(user)

    html = main_of(client.get(f"{reverse('account_reauthenticate')}?next={NEXT}"))

    assert "Brug din godkendelsesapp eller en gendannelseskode" in html
    assert "autentificering" not in html.lower()


def test_the_code_mail_in_swedish(in_language, user):
    client = in_language("sv")

    ask_for_a_code(client, user)

    [row] = OutgoingEmail.objects.filter(recipient=user.email)
    assert row.language == "sv"
    assert row.subject == "[MVA Events] Din kod för att bekräfta att det är du"
    assert "Ange den här koden i det öppna webbläsarfönstret:" in row.body_text


# --- allauth's texts marked for the project's catalog -------------------------------------------


def allauth_msgids() -> set[str]:
    """Every text allauth offers for translation (its English catalog lists them all)."""
    catalog = Path(allauth.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
    text = catalog.read_text(encoding="utf-8")
    msgids = set()
    for match in re.finditer(r'^msgid ((?:".*"\n)+)', text + "\n", re.MULTILINE):
        parts = re.findall(r'^"(.*)"$', match.group(1), re.MULTILINE)
        msgids.add("".join(parts).replace('\\"', '"'))
    return msgids


def test_every_marked_text_is_one_of_allauths_own():
    # A text allauth rewords in an upgrade would otherwise stay translated here, unused, while
    # allauth's new wording went back to its own translation.
    known = allauth_msgids()

    missing = [text for text in ALLAUTH_TEXTS if text not in known]

    assert not missing


def test_the_admin_names_allauths_models_in_swedish(in_language, staff_user):
    # Passes once the texts are translated and members.allauth_texts.name_authenticators() is
    # called when the apps are ready: allauth gives Authenticator no translatable name.
    client = in_language("sv")
    client.force_login(staff_user)

    html = client.get(reverse("admin:index")).content.decode()

    assert ">E-postadresser</a>" in html
    assert ">Tvåfaktorsmetoder</a>" in html
    assert "Authenticators" not in html
