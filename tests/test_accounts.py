"""Accounts (django-allauth) as people meet them: signing up, confirming, signing in and out,
resetting a password, adding an address, the admin behind allauth's log-in, two-factor
authentication, and every bad input a form can get."""

import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from members.middleware import staff_must_activate_two_factor
from members.models import User
from outbox.models import OutgoingEmail
from outbox.services import PRERENDERED, send_queued_email
from tests.factories import PASSWORD, UserFactory, signup_data

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-and-long-passphrase-42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


# --- helpers ------------------------------------------------------------------------------------


def send_outbox_to(recipient, mailoutbox):
    """Send every queued outbox row for `recipient` as the Celery task would, and return the
    messages that left (the web request itself never sends)."""
    rows = OutgoingEmail.objects.filter(
        recipient=recipient, status=OutgoingEmail.Status.QUEUED
    ).order_by("id")
    assert rows, f"nothing queued for {recipient}"
    before = len(mailoutbox)
    for row in rows:
        assert send_queued_email(email_id=row.pk).sent
    return mailoutbox[before:]


def link_in(message, path_prefix):
    match = re.search(rf"https?://[^\s]+{re.escape(path_prefix)}[^\s]*", message.body)
    assert match, f"no {path_prefix} link in: {message.body}"
    return urlsplit(match.group(0)).path


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def log_in(client, email, password=PASSWORD, **extra):
    return client.post(reverse("account_login"), {"login": email, "password": password, **extra})


class _Controls(HTMLParser):
    """Collects the form controls, the labels and every id of a page."""

    def __init__(self):
        super().__init__()
        self.controls, self.label_for, self.ids = [], set(), set()
        self.form_controls, self._in_account_form = [], False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._in_account_form = "account-form" in (attributes.get("class") or "")
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "label" and attributes.get("for"):
            self.label_for.add(attributes["for"])
        if tag in ("input", "select", "textarea") and attributes.get("type") not in (
            "hidden",
            "submit",
            "button",
        ):
            self.controls.append(attributes)
            if self._in_account_form:
                self.form_controls.append(attributes)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_account_form = False


def controls_of(html):
    parser = _Controls()
    parser.feed(html)
    return parser


def assert_accessible_form(response):
    """Every control has a label; whatever aria-describedby names exists on the page."""
    page = controls_of(response.content.decode())
    for control in page.controls:
        assert control.get("id") in page.label_for, f"unlabelled control {control}"
        for described_by in (control.get("aria-describedby") or "").split():
            assert described_by in page.ids, f"{control} names missing {described_by}"
    return page


def control(response, name):
    matches = [
        c
        for c in controls_of(response.content.decode()).controls
        if c.get("name") == name and c.get("type") != "radio"
    ]
    assert len(matches) == 1, f"expected one control named {name}"
    return matches[0]


def assert_field_error(response, field, message=None):
    """A 200 with the error beside the field, tied to its control, and summarised at the top."""
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors.get(field), f"no error on {field}: {form.errors}"
    if message is not None:
        assert any(message in error for error in form.errors[field]), form.errors[field]
    html = response.content.decode()
    widget = control(response, field)
    assert widget.get("aria-invalid") == "true"
    error_id = f"{widget['id']}_error"
    assert error_id in widget.get("aria-describedby", "").split()
    assert f'id="{error_id}"' in html
    assert 'class="error-summary" role="alert"' in html


def reauthenticate(client):
    """Confirm the password again, as allauth asks before two-factor changes."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302


def activate_totp(user):
    TOTP.activate(user, TOTP_SECRET)
    RecoveryCodes.activate(user)


def current_totp_code():
    return format_hotp_value(hotp_value(TOTP_SECRET, int(time.time()) // 30))


# --- signing up ---------------------------------------------------------------------------------


def test_sign_up_sends_one_verification_mail_through_the_outbox_and_the_link_signs_in(
    client, mailoutbox
):
    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get(email="astrid.lindqvist@med.lu.se")
    assert (user.first_name, user.last_name, user.job_title) == (
        "Astrid",
        "Lindqvist",
        "Associate professor",
    )
    assert user.language == "en"
    assert not EmailAddress.objects.get(user=user).verified
    assert signed_in_user_id(client) is None
    # The request wrote the mail to the outbox and sent nothing itself.
    assert mailoutbox == []
    row = OutgoingEmail.objects.get()
    assert (row.kind, row.recipient, row.status) == (
        PRERENDERED,
        "astrid.lindqvist@med.lu.se",
        OutgoingEmail.Status.QUEUED,
    )

    [message] = send_outbox_to("astrid.lindqvist@med.lu.se", mailoutbox)
    row.refresh_from_db()
    assert row.status == OutgoingEmail.Status.SENT
    assert message.to == ["astrid.lindqvist@med.lu.se"]
    assert message.subject.startswith("[MVA Events] ")
    confirm_path = link_in(message, "/accounts/confirm-email/")

    # The link shows a confirmation page (a GET changes nothing) …
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert not EmailAddress.objects.get(user=user).verified
    # … and its button confirms the address and signs the person in.
    response = client.post(confirm_path)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert signed_in_user_id(client) == str(user.pk)
    assert OutgoingEmail.objects.count() == 1


def test_sign_up_page_explains_the_institutional_address_and_labels_every_field(client):
    response = client.get(reverse("account_signup"))

    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "Staff of member universities attend free — sign up with your institutional address, "
        "or add it later" in html
    )
    page = assert_accessible_form(response)
    names = [c.get("name") for c in page.form_controls]
    assert names == ["first_name", "last_name", "job_title", "email", "password1", "password2"]
    # The password rules are read out with the password field.
    assert control(response, "password1")["aria-describedby"] == "id_password1_helptext"


def test_a_confirmation_link_that_is_wrong_says_so(client):
    response = client.get("/accounts/confirm-email/not-a-real-key/")
    assert response.status_code == 200
    assert "expired or is invalid" in response.content.decode()
    assert client.post("/accounts/confirm-email/not-a-real-key/").status_code == 404


def test_signing_up_with_an_address_already_taken_reveals_nothing_and_mails_the_owner(
    client, mailoutbox
):
    UserFactory(email="taken@lu.se")
    response = client.post(reverse("account_signup"), signup_data(email="taken@lu.se"))

    # Same answer as for a new address, so the form cannot be used to find out who has one.
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert User.objects.filter(email="taken@lu.se").count() == 1
    [message] = send_outbox_to("taken@lu.se", mailoutbox)
    assert "/accounts/confirm-email/" not in message.body


# --- signing in and out -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["researcher@lu.se", "Researcher@LU.se", "  researcher@lu.se  "],
    ids=["as-registered", "other-case", "surrounding-spaces"],
)
def test_log_in_by_email_address(client, typed):
    user = UserFactory(email="researcher@lu.se")

    response = log_in(client, typed)

    assert response.status_code == 302
    assert response.url == reverse("events:list")
    assert signed_in_user_id(client) == str(user.pk)


def test_log_in_goes_on_to_next(client):
    UserFactory(email="researcher@lu.se")
    response = log_in(client, "researcher@lu.se", next="/registrations/")
    assert response.url == "/registrations/"


@pytest.mark.parametrize(
    ("email", "password"),
    [("researcher@lu.se", "wrong-password"), ("nobody@lu.se", PASSWORD)],
    ids=["wrong-password", "unknown-address"],
)
def test_a_failed_log_in_says_so_at_the_top_of_the_form(client, email, password):
    UserFactory(email="researcher@lu.se")

    response = log_in(client, email, password)

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    errors = response.context["form"].non_field_errors()
    assert errors
    html = response.content.decode()
    summary = html[html.index('class="error-summary" role="alert"') :]
    assert str(errors[0]) in summary
    assert html.index("error-summary") < html.index('name="login"')
    # No field is marked, so the summary does not point at marked fields.
    assert "Please check and try again:" in summary.split("</div>", 1)[0]
    assert "Please correct the marked fields" not in html


def test_an_unverified_user_cannot_log_in_and_is_sent_a_new_link(client, mailoutbox):
    UserFactory(email="unverified@lu.se", verified=False)

    response = log_in(client, "unverified@lu.se")

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert signed_in_user_id(client) is None
    page = client.get(response.url)
    assert page.status_code == 200
    assert "Confirm your e-mail address" in page.content.decode()
    [message] = send_outbox_to("unverified@lu.se", mailoutbox)
    assert "/accounts/confirm-email/" in message.body


def test_an_inactive_user_cannot_log_in(client):
    UserFactory(email="gone@lu.se", is_active=False)
    response = log_in(client, "gone@lu.se")
    assert signed_in_user_id(client) is None
    assert response.status_code == 302
    assert response.url == reverse("account_inactive")
    assert client.get(response.url).status_code == 200


def test_log_out_asks_then_signs_out_on_post(client, user):
    client.force_login(user)

    page = client.get(reverse("account_logout"))
    assert page.status_code == 200
    assert signed_in_user_id(client) == str(user.pk)

    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert signed_in_user_id(client) is None


def test_failed_logins_are_rate_limited_even_for_the_right_password_afterwards(client):
    UserFactory(email="target@lu.se")

    limited = False
    for _attempt in range(12):
        response = log_in(client, "target@lu.se", "not-the-password")
        if response.status_code == 429 or "Too many failed login attempts" in (
            response.content.decode()
        ):
            limited = True
            break
    assert limited, "allauth's login rate limit is off"

    response = log_in(client, "target@lu.se", PASSWORD)
    assert signed_in_user_id(client) is None
    assert response.status_code in (200, 429)


# --- password reset and change ------------------------------------------------------------------


def test_password_reset_mail_goes_through_the_outbox_and_its_link_sets_a_new_password(
    client, mailoutbox
):
    UserFactory(email="forgetful@lu.se")

    response = client.post(reverse("account_reset_password"), {"email": "forgetful@lu.se"})

    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_done")
    assert client.get(response.url).status_code == 200
    assert mailoutbox == []
    [message] = send_outbox_to("forgetful@lu.se", mailoutbox)
    key_path = link_in(message, "/accounts/password/reset/key/")

    response = client.get(key_path)
    assert response.status_code == 302  # allauth moves the key out of the address
    form_path = response.url
    page = client.get(form_path)
    assert page.status_code == 200
    assert_accessible_form(page)

    mismatch = client.post(form_path, {"password1": NEW_PASSWORD, "password2": "different"})
    assert_field_error(mismatch, "password2", "same password")

    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_from_key_done")
    assert client.get(response.url).status_code == 200

    assert log_in(Client(), "forgetful@lu.se", NEW_PASSWORD).status_code == 302
    old = Client()
    assert log_in(old, "forgetful@lu.se", PASSWORD).status_code == 200
    # The link works once.
    used = client.get(key_path, follow=True)
    assert used.status_code == 200
    assert "invalid" in used.content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same_and_carries_no_link(
    client, mailoutbox
):
    response = client.post(reverse("account_reset_password"), {"email": "stranger@lu.se"})

    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_done")
    for message in send_outbox_to("stranger@lu.se", mailoutbox):
        assert "/accounts/password/reset/key/" not in message.body


def test_password_change_needs_the_old_password(client, user):
    log_in(client, user.email)
    url = reverse("account_change_password")

    page = client.get(url)
    assert page.status_code == 200
    assert_accessible_form(page)

    wrong = client.post(
        url, {"oldpassword": "nope", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert_field_error(wrong, "oldpassword")

    response = client.post(
        url, {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


# --- more than one address ----------------------------------------------------------------------


def test_a_second_address_can_be_added_and_counts_only_once_confirmed(client, mailoutbox):
    user = UserFactory(email="private@example.com")
    client.force_login(user)

    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "Second@Med.LU.se"}
    )

    assert response.status_code == 302
    added = EmailAddress.objects.get(user=user, email="second@med.lu.se")
    assert not added.verified
    assert not added.primary
    page = client.get(reverse("account_email"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "second@med.lu.se" in html
    assert "Unverified" in html
    assert_accessible_form(page)

    [message] = send_outbox_to("second@med.lu.se", mailoutbox)
    confirm_path = link_in(message, "/accounts/confirm-email/")
    assert client.post(confirm_path).status_code == 302
    added.refresh_from_db()
    assert added.verified


def test_an_address_of_another_account_cannot_be_added(client):
    UserFactory(email="owner@lu.se")
    user = UserFactory(email="someone@example.com")
    client.force_login(user)

    response = client.post(reverse("account_email"), {"action_add": "", "email": "owner@lu.se"})

    # allauth does not reveal the other account: it answers as for a new address, but the
    # address never lands on this account verified.
    assert response.status_code == 302
    assert not EmailAddress.objects.filter(user=user, email="owner@lu.se", verified=True).exists()


# --- the admin behind allauth's log-in ----------------------------------------------------------


def test_admin_sends_anonymous_visitors_to_allauths_login(client):
    response = client.get("/admin/", follow=True)

    final_path, status = response.redirect_chain[-1]
    assert status == 302
    assert urlsplit(final_path).path == reverse("account_login")
    assert response.status_code == 200
    assert response.context["form"].__class__.__name__ == "LoginForm"


def test_admin_login_round_trip_brings_staff_back_to_the_admin(client, staff_user):
    response = client.get("/admin/", follow=True)
    next_url = parse_qs(urlsplit(response.redirect_chain[-1][0]).query)["next"][0]
    assert next_url == "/admin/"

    response = log_in(client, staff_user.email, next=next_url)
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_signed_in_non_staff_user_gets_403_at_the_admin(client, user):
    client.force_login(user)

    response = client.get("/admin/", follow=True)

    assert response.status_code == 403
    assert "You cannot open this page" in response.content.decode()
    # Where to turn to, not only that one could.
    contact = settings.EVENTS_CONTACT_EMAIL
    assert (
        f'write to the MVA events team at <a href="mailto:{contact}">' in response.content.decode()
    )


def test_staff_reach_the_admin(client, staff_user):
    response = log_in(client, staff_user.email, next="/admin/")
    assert response.url == "/admin/"

    response = client.get("/admin/")

    assert response.status_code == 200
    assert b"Back office" in response.content


# --- two-factor authentication for staff --------------------------------------------------------


@pytest.mark.parametrize(
    ("required", "is_staff", "has_authenticator", "expected"),
    [
        (False, True, False, False),
        (False, True, True, False),
        (True, True, False, True),
        (True, True, True, False),
        (True, False, False, False),
        (False, False, False, False),
    ],
)
def test_staff_must_activate_two_factor(settings, required, is_staff, has_authenticator, expected):
    settings.MFA_REQUIRED_FOR_STAFF = required
    person = UserFactory(is_staff=is_staff)
    if has_authenticator:
        activate_totp(person)
    assert staff_must_activate_two_factor(user=person) is expected


def test_anonymous_users_never_need_two_factor(settings):
    from django.contrib.auth.models import AnonymousUser

    settings.MFA_REQUIRED_FOR_STAFF = True
    assert staff_must_activate_two_factor(user=AnonymousUser()) is False


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/members/user/"], ids=["admin-index", "admin-changelist"]
)
def test_staff_without_two_factor_are_sent_to_activate_it_when_required(
    client, settings, staff_user, path
):
    settings.MFA_REQUIRED_FOR_STAFF = True
    client.force_login(staff_user)

    response = client.get(path)

    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")
    page = client.get(response.url, follow=True)
    assert "requires two-factor authentication" in page.content.decode()


def test_staff_without_two_factor_reach_the_admin_when_not_required(client, settings, staff_user):
    settings.MFA_REQUIRED_FOR_STAFF = False
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200


def test_staff_with_two_factor_reach_the_admin_when_required(client, settings, staff_user):
    settings.MFA_REQUIRED_FOR_STAFF = True
    activate_totp(staff_user)
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200


def test_the_two_factor_requirement_leaves_other_pages_alone(client, settings, staff_user, user):
    settings.MFA_REQUIRED_FOR_STAFF = True
    client.force_login(staff_user)
    assert client.get(reverse("events:list")).status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200
    other = Client()
    other.force_login(user)
    assert other.get("/admin/", follow=True).status_code == 403


def test_staff_with_totp_sign_in_with_a_code_and_reach_the_admin(client, settings, staff_user):
    settings.MFA_REQUIRED_FOR_STAFF = True
    activate_totp(staff_user)

    response = log_in(client, staff_user.email, next="/admin/")

    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert signed_in_user_id(client) is None
    page = client.get(response.url)
    assert page.status_code == 200
    assert_accessible_form(page)

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert_field_error(wrong, "code")

    response = client.post(reverse("mfa_authenticate"), {"code": current_totp_code()})
    assert response.status_code == 302
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


# --- every account page renders, labelled -------------------------------------------------------


@pytest.mark.parametrize(
    "url_name",
    [
        "account_login",
        "account_signup",
        "account_reset_password",
        "account_reset_password_done",
        "account_reset_password_from_key_done",
        "account_email_verification_sent",
        "account_inactive",
    ],
)
def test_anonymous_account_pages_render(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert response.content.count(b"<h1") == 1
    assert_accessible_form(response)


@pytest.mark.parametrize(
    "url_name",
    [
        "account_email",
        "account_change_password",
        "account_logout",
        "account_reauthenticate",
        "mfa_index",
        "mfa_activate_totp",
        "mfa_generate_recovery_codes",
    ],
)
def test_signed_in_account_pages_render(client, user, url_name):
    log_in(client, user.email)
    reauthenticate(client)  # two-factor pages want the password confirmed again
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1
    assert 'aria-label="Your account"' in html or url_name == "account_reauthenticate"
    assert_accessible_form(response)


@pytest.mark.parametrize(
    "url_name",
    ["mfa_index", "mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes"],
)
def test_two_factor_pages_render_for_a_user_with_an_authenticator(client, user, url_name):
    activate_totp(user)
    log_in(client, user.email)
    client.post(reverse("mfa_authenticate"), {"code": current_totp_code()})
    assert signed_in_user_id(client) == str(user.pk)
    reauthenticate(client)

    response = client.get(reverse(url_name))

    assert response.status_code == 200
    assert_accessible_form(response)


def test_activating_totp_with_a_wrong_code_is_a_field_error(client, user):
    log_in(client, user.email)
    reauthenticate(client)
    response = client.post(reverse("mfa_activate_totp"), {"code": "123"})
    assert_field_error(response, "code")
    assert not Authenticator.objects.filter(user=user).exists()


def test_pages_that_need_an_account_send_anonymous_visitors_to_log_in(client):
    for url_name in ["account_email", "account_change_password", "mfa_index"]:
        response = client.get(reverse(url_name))
        assert response.status_code == 302
        assert urlsplit(response.url).path == reverse("account_login")


# --- bad input ----------------------------------------------------------------------------------

MALFORMED_ADDRESSES = [
    pytest.param("plainaddress", id="no-at"),
    pytest.param("a@b", id="no-dot-in-domain"),
    pytest.param("@lu.se", id="no-local-part"),
    pytest.param("x@lu..se", id="double-dot"),
    pytest.param("x" * 249 + "@lu.se", id="255-characters"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("address", MALFORMED_ADDRESSES)
def test_sign_up_refuses_a_malformed_address_beside_the_field(client, address):
    response = client.post(reverse("account_signup"), signup_data(email=address))

    assert_field_error(response, "email")
    assert not User.objects.exists()
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize("address", MALFORMED_ADDRESSES)
def test_adding_a_malformed_address_is_a_field_error(client, user, address):
    client.force_login(user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": address})
    assert_field_error(response, "email")
    assert EmailAddress.objects.filter(user=user).count() == 1


@pytest.mark.parametrize("address", MALFORMED_ADDRESSES)
def test_password_reset_refuses_a_malformed_address(client, address):
    response = client.post(reverse("account_reset_password"), {"email": address})
    assert_field_error(response, "email")
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize("address", MALFORMED_ADDRESSES)
def test_log_in_with_a_malformed_address_is_an_error_not_a_crash(client, address):
    response = log_in(client, address)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert signed_in_user_id(client) is None


def test_an_address_of_254_characters_is_accepted(client):
    address = "x" * 248 + "@lu.se"
    assert len(address) == 254
    response = client.post(reverse("account_signup"), signup_data(email=address))
    assert response.status_code == 302
    assert User.objects.filter(email=address).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": "A" * 151}, "first_name", "at most 150"),
        ({"last_name": "B" * 151}, "last_name", "at most 150"),
        ({"job_title": "C" * 201}, "job_title", "at most 200"),
        ({"first_name": ""}, "first_name", "required"),
        ({"last_name": "   "}, "last_name", "required"),
        ({"password2": "something-else-entirely"}, "password2", "same password"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password1": "12345678901", "password2": "12345678901"}, "password1", "numeric"),
    ],
    ids=[
        "long-first-name",
        "long-last-name",
        "long-job-title",
        "no-first-name",
        "blank-last-name",
        "mismatched-passwords",
        "short-password",
        "numeric-password",
    ],
)
def test_sign_up_bad_input_is_a_clear_field_error(client, overrides, field, message):
    response = client.post(reverse("account_signup"), signup_data(**overrides))

    assert_field_error(response, field, message)
    assert not User.objects.exists()


def test_a_failed_sign_up_keeps_what_was_typed_except_passwords(client):
    response = client.post(
        reverse("account_signup"), signup_data(email="x@lu..se", password2="mismatch")
    )
    assert control(response, "first_name")["value"] == "Astrid"
    assert "value" not in control(response, "password1")


@pytest.mark.parametrize(
    ("url_name", "data"),
    [
        ("account_login", {"login": "someone@lu.se", "password": PASSWORD}),
        ("account_signup", signup_data()),
        ("account_reset_password", {"email": "someone@lu.se"}),
    ],
)
def test_a_post_without_csrf_token_is_refused(url_name, data):
    UserFactory(email="someone@lu.se")
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse(url_name), data)

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert not OutgoingEmail.objects.exists()
    # The site's own page, saying what happened and the way back, not Django's bare one.
    html = response.content.decode()
    assert "<h1>This form has expired</h1>" in html
    assert f'href="{reverse(url_name)}">Open the page again</a>' in html
    assert "CSRF" not in html and "DEBUG" not in html
    assert "allow cookies" in html  # the client never had the cookie


def test_a_form_with_its_cookie_but_no_token_does_not_blame_cookies():
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("account_login"))  # sets the cookie

    response = client.post(reverse("account_login"), {"login": "a@lu.se", "password": "x"})

    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>This form has expired</h1>" in html
    assert "allow cookies" not in html


def test_a_form_sent_without_the_cookie_says_to_allow_cookies():
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("set_language"), {"language": "sv"})

    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>This form has expired</h1>" in html
    assert "If this keeps happening, allow cookies for this site" in html


# --- one mailbox, one spelling ------------------------------------------------------------------
# An internationalised domain has a Unicode and a punycode spelling, and invisible characters
# make yet more; each must not become an account of its own. Unit cases of the adapter are in
# tests/members/test_address_normalisation.py.

UNICODE_SPELLING = "user@bücher.example"
PUNYCODE_SPELLING = "user@xn--bcher-kva.example"
INVISIBLE_CHARACTER = "This e-mail address contains a space or an invisible character"


@pytest.mark.parametrize(
    "typed",
    [UNICODE_SPELLING, PUNYCODE_SPELLING, "User@XN--BCHER-KVA.example", "user@BÜCHER.example"],
    ids=["unicode", "punycode", "punycode-upper-case", "unicode-upper-case"],
)
def test_sign_up_stores_the_domain_in_its_canonical_spelling(client, typed):
    response = client.post(reverse("account_signup"), signup_data(email=typed))

    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == UNICODE_SPELLING
    assert list(EmailAddress.objects.values_list("email", flat=True)) == [UNICODE_SPELLING]
    assert OutgoingEmail.objects.get().recipient == UNICODE_SPELLING


@pytest.mark.parametrize(
    ("first", "second"),
    [(UNICODE_SPELLING, PUNYCODE_SPELLING), (PUNYCODE_SPELLING, UNICODE_SPELLING)],
    ids=["unicode-then-punycode", "punycode-then-unicode"],
)
def test_signing_up_again_under_the_other_spelling_is_refused_as_already_taken(
    first, second, mailoutbox
):
    assert Client().post(reverse("account_signup"), signup_data(email=first)).status_code == 302
    # allauth mails one address at most once in three minutes; start that count over, so the
    # owner's notice below is not held back.
    caches["default"].clear()

    response = Client().post(
        reverse("account_signup"), signup_data(email=second, first_name="Mallory")
    )

    # The answer of an address already taken (see above): nothing revealed, no second
    # account, and the owner is told instead of sent a link.
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert User.objects.count() == 1
    assert EmailAddress.objects.count() == 1
    first_mail, second_mail = send_outbox_to(UNICODE_SPELLING, mailoutbox)
    assert "/accounts/confirm-email/" in first_mail.body
    assert "/accounts/confirm-email/" not in second_mail.body


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("evil@med.lu.se\u200b", INVISIBLE_CHARACTER),
        ("evil@med.lu.se\u202e", INVISIBLE_CHARACTER),
        ("evil@med.l\u00adu.se", INVISIBLE_CHARACTER),
        ("evil@med.lu.se\ufeff", INVISIBLE_CHARACTER),
        # Django's own checks answer first for these two.
        ("evil@med.lu.se\x00", "Null characters are not allowed."),
        ("evil@med.lu\t.se", "Enter a valid email address."),
        ("user@straße.de", "Enter a valid e-mail address."),
    ],
    ids=["zero-width-space", "rlo", "soft-hyphen", "byte-order-mark", "nul", "tab", "ß"],
)
def test_sign_up_refuses_an_address_that_is_not_one_clear_mailbox(client, address, message):
    UserFactory(email="evil@med.lu.se")

    response = client.post(reverse("account_signup"), signup_data(email=address))

    assert_field_error(response, "email", message)
    assert User.objects.count() == 1
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("second@med.lu.se\u200b", INVISIBLE_CHARACTER),
        ("second@med.lu.se\u202e", INVISIBLE_CHARACTER),
        ("second@med.l\u00adu.se", INVISIBLE_CHARACTER),
    ],
    ids=["zero-width-space", "rlo", "soft-hyphen"],
)
def test_adding_an_address_with_an_invisible_character_is_a_field_error(
    client, user, address, message
):
    client.force_login(user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": address})
    assert_field_error(response, "email", message)
    assert EmailAddress.objects.filter(user=user).count() == 1


def test_an_address_added_in_punycode_is_stored_in_its_canonical_spelling(client, user):
    client.force_login(user)
    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "Second@XN--S-5GA.dk"}
    )
    assert response.status_code == 302
    assert EmailAddress.objects.filter(user=user, email="second@sø.dk", verified=False).exists()


def test_the_other_spelling_of_an_address_of_ones_own_is_already_there(client):
    user = UserFactory(email=UNICODE_SPELLING)
    client.force_login(user)

    response = client.post(reverse("account_email"), {"action_add": "", "email": PUNYCODE_SPELLING})

    assert_field_error(response, "email", "This e-mail address is already on this account.")
    assert EmailAddress.objects.filter(user=user).count() == 1


def test_the_other_spelling_of_another_accounts_address_cannot_be_added(client):
    UserFactory(email=UNICODE_SPELLING)
    user = UserFactory(email="someone@example.com")
    client.force_login(user)

    client.post(reverse("account_email"), {"action_add": "", "email": PUNYCODE_SPELLING})

    assert not EmailAddress.objects.filter(user=user, email=PUNYCODE_SPELLING).exists()
    assert not EmailAddress.objects.filter(
        user=user, email=UNICODE_SPELLING, verified=True
    ).exists()


@pytest.mark.parametrize(
    "typed",
    [UNICODE_SPELLING, PUNYCODE_SPELLING, "USER@XN--BCHER-KVA.EXAMPLE", "user@ｂücher.example"],
    ids=["as-stored", "punycode", "punycode-upper-case", "full-width-letter"],
)
def test_either_spelling_signs_in_to_the_one_account(client, typed):
    user = UserFactory(email=UNICODE_SPELLING)

    response = log_in(client, typed)

    assert response.status_code == 302
    assert response.url == reverse("events:list")
    assert signed_in_user_id(client) == str(user.pk)
    # Not taken for a new, unconfirmed address of the account.
    assert list(EmailAddress.objects.values_list("email", "verified")) == [(UNICODE_SPELLING, True)]
    assert not OutgoingEmail.objects.exists()


def test_an_unconfirmed_account_signed_into_under_the_other_spelling_gets_one_new_link(
    client, mailoutbox
):
    UserFactory(email=UNICODE_SPELLING, verified=False)

    response = log_in(client, PUNYCODE_SPELLING)

    assert response.url == reverse("account_email_verification_sent")
    assert signed_in_user_id(client) is None
    assert list(EmailAddress.objects.values_list("email", flat=True)) == [UNICODE_SPELLING]
    [message] = send_outbox_to(UNICODE_SPELLING, mailoutbox)
    assert "/accounts/confirm-email/" in message.body


def test_an_address_stored_before_normalisation_still_signs_in_as_typed(client):
    user = UserFactory(email=PUNYCODE_SPELLING)
    log_in(client, PUNYCODE_SPELLING)
    assert signed_in_user_id(client) == str(user.pk)


def test_an_invisible_character_at_log_in_reaches_no_account(client):
    UserFactory(email="evil@med.lu.se")
    response = log_in(client, "evil@med.lu.se\u200b")
    assert response.status_code == 200
    assert signed_in_user_id(client) is None


def test_failed_log_ins_under_both_spellings_count_against_one_limit(client):
    UserFactory(email=UNICODE_SPELLING)
    for attempt in range(5):  # allauth allows five failures per address
        log_in(client, (UNICODE_SPELLING, PUNYCODE_SPELLING)[attempt % 2], "not-the-password")

    response = log_in(client, UNICODE_SPELLING)

    assert signed_in_user_id(client) is None
    assert response.status_code == 429 or "Too many failed login attempts" in (
        response.content.decode()
    )


def test_a_password_reset_under_the_other_spelling_finds_the_account(client, mailoutbox):
    UserFactory(email=UNICODE_SPELLING)

    response = client.post(reverse("account_reset_password"), {"email": PUNYCODE_SPELLING})

    assert response.status_code == 302
    [row] = OutgoingEmail.objects.all()
    [message] = send_outbox_to(row.recipient, mailoutbox)
    assert "/accounts/password/reset/key/" in message.body


def test_the_authenticator_key_is_shown_whole_as_text_to_type_on_a_phone(client):
    person = UserFactory()
    log_in(client, person.email)
    # allauth asks for the password again before a security change.
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})

    response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 200
    secret = response.context["form"].secret
    html = response.content.decode()
    assert f'<code class="secret" id="authenticator_secret">{secret}</code>' in html
    assert 'id="authenticator_secret" type="text"' not in html


def test_a_wrong_password_is_told_in_the_sites_words(client):
    UserFactory(email="someone@lu.se")

    response = log_in(client, "someone@lu.se", password="not-the-password")

    assert "The e-mail address and/or password you entered are not correct." in (
        response.content.decode()
    )


def test_the_authenticator_qr_code_is_named_for_what_it_is_not_by_the_secret(client, user):
    client.force_login(user)
    reauthenticate(client)

    html = client.get(reverse("mfa_activate_totp")).content.decode()

    assert 'alt="QR code to scan with your authenticator app"' in html
