"""A person's data: the export (GDPR Art. 15/20), the deletion of the account (Art. 17) and the
privacy pages, with every outcome a visitor can meet."""

import datetime
import json
import re
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import Event, Registration
from events.privacy import AccountDeletionRefused, delete_account, export_personal_data
from events.services import RegistrationDetails
from members.models import User
from outbox.models import OutgoingEmail
from outbox.services import queue_email
from tests.factories import (
    PASSWORD,
    EventFactory,
    RegistrationFactory,
    UserFactory,
    add_email,
    member_institution,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)

SETTINGS_URL = "/account/privacy/"
EXPORT_URL = "/account/privacy/export.json"
DELETE_URL = "/account/privacy/delete/"

BILLING = RegistrationDetails(
    billing_organisation="Acme Biotech AB",
    billing_address="Scheelevägen 2, 223 81 Lund",
    billing_vat_number="SE556677889901",
    billing_po_reference="PO-42",
    billing_ean_number="5790001234567",
)


def register(event, user=None, details=BILLING):
    return services.register_for_event(
        event_id=event.pk, user=user or UserFactory(), details=details
    ).registration


def assert_counters_match(event):
    event.refresh_from_db()
    registrations = Registration.objects.filter(event=event)
    assert event.confirmed_count == registrations.confirmed().count()
    assert event.waitlisted_count == registrations.waitlisted().count()


def past_event(**fields) -> Event:
    starts_at = timezone.now() - 10 * DAY
    return EventFactory(
        starts_at=starts_at,
        registration_opens_at=starts_at - 30 * DAY,
        registration_closes_at=starts_at - DAY,
        cancellation_deadline=starts_at - 2 * DAY,
        **fields,
    )


def mail(*, recipient, status=OutgoingEmail.Status.QUEUED, about=None, **fields):
    """An outbox row in a given state (rows are written directly: the state is the point)."""
    now = timezone.now()
    if status == OutgoingEmail.Status.SENT:
        fields.setdefault("sent_at", now)
    if status == OutgoingEmail.Status.IN_FLIGHT:
        fields.setdefault("in_flight_since", now)
    email = queue_email(kind=fields.pop("kind", "prerendered"), recipient=recipient, about=about)
    OutgoingEmail.objects.filter(pk=email.pk).update(status=status, **fields)
    return email


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Export -----------------------------------------------------------------------------------


@pytest.fixture
def person():
    user = UserFactory(
        email="anna.andersson@example.org",
        first_name="Anna",
        last_name="Andersson",
        job_title="Professor",
        language="sv",
    )
    add_email(user, "anna@ku.dk")
    add_email(user, "anna@lu.se", verified=False)
    return user


def test_export_holds_the_account_addresses_registrations_and_emails(person):
    event = EventFactory(title="Annual meeting", venue="Medicon Village")
    checked_in = timezone.now() - HOUR
    registration = RegistrationFactory(
        event=event,
        user=person,
        job_title="Professor",
        institution_name="Lund University",
        price=Decimal("1200.00"),
        price_reason="Standard price: no member institution.",
        dietary_needs="Vegetarian",
        accessibility_needs="Step-free access",
        listed_as_participant=True,
        billing_organisation="Acme Biotech AB",
        billing_address="Scheelevägen 2",
        billing_vat_number="SE556677889901",
        billing_po_reference="PO-42",
        billing_ean_number="5790001234567",
        checked_in_at=checked_in,
    )
    about_registration = mail(
        recipient="old-address@example.org",
        about=registration,
        kind="events.confirmation",
        status=OutgoingEmail.Status.SENT,
    )
    to_second_address = mail(recipient="ANNA@ku.dk", subject="Your password")
    # Added, never confirmed: the address may be someone else's, and so are its mails.
    mail(recipient="anna@lu.se", subject="Confirm your address")
    mail(recipient="someone.else@example.org", subject="Not hers")
    RegistrationFactory(event=event)  # someone else's registration

    data = export_personal_data(user=person)
    data = json.loads(json.dumps(data))  # serialisable as it is

    assert data["account"] == {
        "email": "anna.andersson@example.org",
        "first_name": "Anna",
        "last_name": "Andersson",
        "job_title": "Professor",
        "language": "sv",
        "date_joined": timezone.localtime(person.date_joined).isoformat(),
        "last_login": None,
    }
    assert data["email_addresses"] == [
        {"email": "anna.andersson@example.org", "verified": True, "primary": True},
        {"email": "anna@ku.dk", "verified": True, "primary": False},
        {"email": "anna@lu.se", "verified": False, "primary": False},
    ]
    [exported] = data["registrations"]
    assert exported["event"]["title"] == "Annual meeting"
    assert exported["event"]["venue"] == "Medicon Village"
    assert datetime.datetime.fromisoformat(exported["event"]["starts_at"]) == event.starts_at
    assert exported["status"] == "confirmed"
    assert exported["admission_category"] == "non_member"
    assert exported["price"] == "1200.00"
    assert exported["currency"] == "DKK"
    assert exported["price_reason"] == "Standard price: no member institution."
    assert exported["institution"] == "Lund University"
    assert exported["dietary_needs"] == "Vegetarian"
    assert exported["accessibility_needs"] == "Step-free access"
    assert exported["listed_as_participant"] is True
    assert exported["billing"] == {
        "organisation": "Acme Biotech AB",
        "address": "Scheelevägen 2",
        "vat_number": "SE556677889901",
        "purchase_order_reference": "PO-42",
        "ean_number": "5790001234567",
    }
    assert datetime.datetime.fromisoformat(exported["checked_in_at"]) == checked_in
    assert exported["cancelled_at"] is None
    assert exported["ticket_code"] == registration.ticket_code

    emails = {email["recipient"]: email for email in data["emails"]}
    assert set(emails) == {"old-address@example.org", "ANNA@ku.dk"}
    confirmation = emails[about_registration.recipient]
    assert confirmation["kind"] == "events.confirmation"
    assert confirmation["about_event"] == "Annual meeting"
    assert confirmation["status"] == "sent"
    assert confirmation["sent_at"] is not None
    assert confirmation["subject"] is None  # rendered at send time, nothing stored
    assert emails[to_second_address.recipient]["subject"] == "Your password"
    assert emails[to_second_address.recipient]["status"] == "queued"
    assert emails[to_second_address.recipient]["about_event"] is None


@pytest.mark.parametrize(
    ("erased", "expected_dietary", "expected_accessibility"),
    [(False, "Halal", "Hearing loop"), (True, None, None)],
)
def test_export_shows_needs_unless_erased(person, erased, expected_dietary, expected_accessibility):
    registration = RegistrationFactory(
        user=person, dietary_needs="Halal", accessibility_needs="Hearing loop"
    )
    if erased:
        Registration.objects.filter(pk=registration.pk).update(
            dietary_needs="", accessibility_needs="", special_needs_erased_at=timezone.now()
        )
    [exported] = export_personal_data(user=person)["registrations"]
    assert exported["dietary_needs"] == expected_dietary
    assert exported["accessibility_needs"] == expected_accessibility
    assert (exported["special_needs_erased_at"] is not None) == erased


def test_export_lists_cancelled_registrations_and_two_factor_without_secrets(person):
    RegistrationFactory(
        user=person, status=Registration.Status.CANCELLED, cancelled_at=timezone.now()
    )
    Authenticator.objects.create(user=person, type="totp", data={"secret": "TOPSECRET"})
    data = export_personal_data(user=person)
    assert [r["status"] for r in data["registrations"]] == ["cancelled"]
    assert data["registrations"][0]["cancelled_at"] is not None
    assert [method["type"] for method in data["two_factor_authentication"]] == ["totp"]
    assert "TOPSECRET" not in json.dumps(data)


def test_export_of_a_person_with_nothing_yet():
    user = UserFactory(verified=False)
    data = export_personal_data(user=user)
    assert data["registrations"] == []
    assert data["emails"] == []
    assert data["email_addresses"] == [{"email": user.email, "verified": False, "primary": True}]


@pytest.mark.parametrize("registrations", [2, 20])
def test_export_takes_a_constant_number_of_queries(
    person, registrations, django_assert_num_queries
):
    for _ in range(registrations):
        registration = RegistrationFactory(user=person)
        mail(recipient=person.email, about=registration, kind="events.confirmation")
        mail(recipient=person.email, about=registration, kind="events.reminder")
    # Addresses, two-factor methods, registrations with their events, e-mails.
    with django_assert_num_queries(4):
        data = export_personal_data(user=person)
    assert len(data["registrations"]) == registrations
    assert len(data["emails"]) == 2 * registrations


# --- Deletion ---------------------------------------------------------------------------------


def free_event(**fields) -> Event:
    return EventFactory(member_price=Decimal("0"), standard_price=Decimal("0"), **fields)


def test_deletion_cancels_an_upcoming_place_and_promotes_the_waiting_list():
    event = free_event(capacity=1)
    leaving = UserFactory()
    registration = register(event, leaving)
    waiting = register(event)
    assert waiting.status == Registration.Status.WAITLISTED

    delete_account(user=leaving)

    registration.refresh_from_db()
    waiting.refresh_from_db()
    assert registration.status == Registration.Status.CANCELLED
    assert registration.user is None
    assert waiting.status == Registration.Status.CONFIRMED
    assert_counters_match(event)
    assert (event.confirmed_count, event.waitlisted_count) == (1, 0)
    # The promoted person is told; the deleted person gets nothing more.
    assert list(OutgoingEmail.objects.for_object(waiting).values_list("kind", flat=True)) == [
        "events.promoted",
        "events.waitlisted",
    ]
    assert not OutgoingEmail.objects.for_object(registration).exists()


@pytest.mark.parametrize(
    ("status_before", "when", "status_after"),
    [
        # `when` is the moment of deletion, relative to the event.
        ("confirmed", "before", "cancelled"),
        ("waitlisted", "before", "cancelled"),
        ("confirmed", "after the deadline", "cancelled"),
        ("confirmed", "during", "cancelled"),
        ("confirmed", "after", "confirmed"),
        ("waitlisted", "after", "waitlisted"),
        ("cancelled", "before", "cancelled"),
    ],
)
def test_deletion_cancels_only_what_has_not_ended(status_before, when, status_after):
    event = free_event(capacity=1)
    register(event)  # the seat is taken: the person below is wait-listed when asked
    user = UserFactory()
    if status_before == "confirmed":
        services.change_capacity(event_id=event.pk, capacity=2)
    registration = register(event, user)
    assert registration.status == ("confirmed" if status_before == "confirmed" else "waitlisted")
    if status_before == "cancelled":
        services.cancel_registration(registration_id=registration.pk)
    moment = {
        "before": event.starts_at - 10 * DAY,
        "after the deadline": event.cancellation_deadline + HOUR,
        "during": event.starts_at + HOUR,
        "after": event.ends_at + HOUR,
    }[when]

    delete_account(user=user, now=moment)

    registration.refresh_from_db()
    assert registration.status == status_after
    assert registration.email == f"deleted-{registration.pk}@invalid"
    assert_counters_match(event)
    assert not User.objects.filter(pk=user.pk).exists()


def test_deletion_anonymises_past_attendance_and_keeps_the_statistics():
    user = UserFactory(first_name="Anna", last_name="Andersson", job_title="Professor")
    lund = member_institution(domain="lu.se", name="Lund University")
    checked_in = timezone.now() - 9 * DAY
    event = past_event()
    registration = RegistrationFactory(
        event=event,
        user=user,
        institution=lund,
        institution_name="Lund University",
        job_title="Professor",
        category="member",
        price=Decimal("500.00"),
        price_reason="Member price: staff of Lund University.",
        price_reason_code="member_staff",
        price_override_reason="Speaker: Anna Andersson",
        dietary_needs="Kosher",
        accessibility_needs="Wheelchair",
        listed_as_participant=True,
        billing_organisation="Lund University",
        billing_address="Box 117, Lund",
        billing_vat_number="SE202100321101",
        billing_po_reference="PO-1",
        billing_ean_number="5790001234567",
        checked_in_at=checked_in,
    )
    earlier_cancelled = RegistrationFactory(
        event=event, user=user, status="cancelled", cancelled_at=timezone.now() - 20 * DAY
    )

    delete_account(user=user)

    registration.refresh_from_db()
    assert (registration.first_name, registration.last_name) == ("Deleted", "user")
    assert registration.email == f"deleted-{registration.pk}@invalid"
    assert registration.user is None
    for field in (
        "job_title",
        "institution_name",
        "price_override_reason",
        "dietary_needs",
        "accessibility_needs",
        "billing_organisation",
        "billing_address",
        "billing_vat_number",
        "billing_po_reference",
        "billing_ean_number",
    ):
        assert getattr(registration, field) == "", field
    assert registration.institution is None
    assert registration.listed_as_participant is False
    assert registration.special_needs_erased_at is not None
    # What the event's statistics and accounts need stays.
    assert registration.status == "confirmed"
    assert registration.category == "member"
    assert registration.price == Decimal("500.00")
    # The reasons named the institution; what is left says nothing of the person.
    assert (registration.price_reason, registration.price_reason_code) == ("", "")
    assert registration.checked_in_at == checked_in
    assert registration.confirmed_at is not None
    earlier_cancelled.refresh_from_db()
    assert earlier_cancelled.email == f"deleted-{earlier_cancelled.pk}@invalid"
    assert earlier_cancelled.user is None


@pytest.mark.parametrize(
    ("status", "deleted"),
    [
        (OutgoingEmail.Status.QUEUED, True),
        (OutgoingEmail.Status.AWAITING_RETRY, True),
        (OutgoingEmail.Status.IN_FLIGHT, False),
        (OutgoingEmail.Status.SENT, False),
        (OutgoingEmail.Status.FAILED, True),
        (OutgoingEmail.Status.SKIPPED, True),
    ],
)
def test_deletion_removes_unsent_mails_to_the_person(status, deleted):
    user = UserFactory(email="anna@example.org")
    add_email(user, "anna@lu.se")
    add_email(user, "jonas.berg@ku.dk", verified=False)  # added, never confirmed: not hers
    registration = RegistrationFactory(event=past_event(), user=user, email="anna.old@lu.se")
    to_primary = mail(recipient="Anna@Example.org", status=status)
    to_second = mail(recipient="anna@lu.se", status=status)
    about_registration = mail(recipient="anna.old@lu.se", about=registration, status=status)
    to_someone_else = mail(recipient="bo@example.org", status=status)
    to_an_unconfirmed_address = mail(recipient="jonas.berg@ku.dk", status=status)

    delete_account(user=user)

    remaining = set(OutgoingEmail.objects.values_list("pk", flat=True))
    for email in (to_primary, to_second, about_registration):
        assert (email.pk not in remaining) == deleted
    assert to_someone_else.pk in remaining
    assert to_an_unconfirmed_address.pk in remaining


def test_deletion_removes_the_user_addresses_and_authenticators():
    user = UserFactory()
    add_email(user, "second@example.org")
    Authenticator.objects.create(user=user, type="totp", data={})
    other = UserFactory()

    delete_account(user=user)

    assert not User.objects.filter(pk=user.pk).exists()
    assert not EmailAddress.objects.filter(user_id=user.pk).exists()
    assert not EmailAddress.objects.filter(email="second@example.org").exists()
    assert not Authenticator.objects.filter(user_id=user.pk).exists()
    assert User.objects.filter(pk=other.pk).exists()


def test_the_same_address_may_register_again_after_deletion():
    event = free_event()
    user = UserFactory(email="anna@example.org")
    register(event, user)
    delete_account(user=user)
    newcomer = UserFactory(email="anna@example.org")
    assert register(event, newcomer).status == Registration.Status.CONFIRMED
    assert_counters_match(event)


def test_deleting_an_account_twice_does_nothing_the_second_time():
    user = UserFactory()
    stale_copy = User.objects.get(pk=user.pk)
    delete_account(user=user)
    delete_account(user=stale_copy)
    assert not User.objects.filter(pk=stale_copy.pk).exists()


@pytest.mark.parametrize(
    "fields", [{"is_staff": True}, {"is_superuser": True}, {"is_staff": True, "is_superuser": True}]
)
def test_staff_cannot_delete_their_own_account(fields):
    event = free_event()
    user = UserFactory(**fields)
    registration = register(event, user)
    with pytest.raises(AccountDeletionRefused, match="administrator"):
        delete_account(user=user)
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.user_id == user.pk
    assert User.objects.filter(pk=user.pk).exists()


def test_a_failure_midway_changes_nothing(monkeypatch):
    event = free_event(capacity=1)
    user = UserFactory()
    registration = register(event, user)
    waiting = register(event)

    def broken_delete(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(User, "delete", broken_delete)
    with pytest.raises(RuntimeError):
        delete_account(user=user)

    registration.refresh_from_db()
    waiting.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.email == user.email
    assert waiting.status == Registration.Status.WAITLISTED
    assert_counters_match(event)


# --- Pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", SETTINGS_URL), ("get", EXPORT_URL), ("get", DELETE_URL), ("post", DELETE_URL)],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert "next=" in response.url


def test_urls_are_named():
    assert reverse("events:privacy_settings") == SETTINGS_URL
    assert reverse("events:privacy_export") == EXPORT_URL
    assert reverse("events:privacy_delete") == DELETE_URL


def test_privacy_settings_page_links_to_export_and_deletion(client, user):
    client.force_login(user)
    response = client.get(SETTINGS_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Privacy and your data</h1>" in html
    assert f'href="{EXPORT_URL}"' in html
    assert f'href="{DELETE_URL}"' in html
    assert "Dietary and accessibility needs" in html
    # The account menu marks the page.
    assert f'<a href="{SETTINGS_URL}" aria-current="page">' in html
    assert "no-store" in response["Cache-Control"]


def test_privacy_settings_page_of_staff_has_no_delete_link(client, staff_user):
    client.force_login(staff_user)
    response = client.get(SETTINGS_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{EXPORT_URL}"' in html
    assert f'href="{DELETE_URL}"' not in html
    assert "ask an administrator" in html


def test_account_menu_links_to_the_privacy_page(client, user):
    client.force_login(user)
    html = client.get(reverse("account_email")).content.decode()
    assert f'<a href="{SETTINGS_URL}">' in html


def test_export_download(client, user):
    RegistrationFactory(user=user, price=Decimal("500.00"))
    client.force_login(user)
    response = client.get(EXPORT_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="mva-events-data.json"'
    assert "no-store" in [part.strip() for part in response["Cache-Control"].split(",")]
    data = json.loads(response.content)
    assert data["account"]["email"] == user.email
    assert data["registrations"][0]["price"] == "500.00"


def test_export_keeps_non_ascii_readable(client):
    user = UserFactory(first_name="Søren", last_name="Ødegård")
    client.force_login(user)
    body = client.get(EXPORT_URL).content.decode("utf-8")
    assert "Søren" in body


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_export_only_answers_get(client, user, method):
    client.force_login(user)
    assert getattr(client, method)(EXPORT_URL).status_code == 405


def test_delete_page_explains_the_consequences_and_lists_what_is_cancelled(client, user):
    upcoming = register(free_event(title="Microbiome day"), user)
    RegistrationFactory(user=user, event=past_event(title="Last year's meeting"))
    client.force_login(user)
    response = client.get(DELETE_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Microbiome day" in html
    assert "Last year&#x27;s meeting" not in html
    assert "waiting list" in html
    assert "past attendance is kept without your name" in html
    assert 'name="password"' in html
    assert 'autocomplete="current-password"' in html
    assert 'name="confirm"' in html
    assert f'href="{EXPORT_URL}"' in html
    upcoming.refresh_from_db()
    assert upcoming.status == Registration.Status.CONFIRMED  # a GET changes nothing


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password": "wrong", "confirm": "on"}, "password", "That is not your current password."),
        ({"password": "", "confirm": "on"}, "password", "This field is required."),
        ({"confirm": "on"}, "password", "This field is required."),
        ({"password": PASSWORD}, "confirm", "Tick this box to confirm the deletion."),
        (
            {"password": PASSWORD, "confirm": ""},
            "confirm",
            "Tick this box to confirm the deletion.",
        ),
    ],
)
def test_delete_form_errors_are_tied_to_their_fields(client, user, data, field, message):
    client.force_login(user)
    response = client.post(DELETE_URL, data)
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    assert re.search(rf'<input[^>]*aria-describedby="[^"]*id_{field}_error"', html)
    assert 'class="error-summary"' in html
    assert User.objects.filter(pk=user.pk).exists()


def test_wrong_password_field_is_described_by_its_error(client, user):
    client.force_login(user)
    html = client.post(DELETE_URL, {"password": "wrong", "confirm": "on"}).content.decode()
    assert 'aria-describedby="id_password_helptext id_password_error"' in html
    assert 'aria-invalid="true"' in html


def test_account_without_a_password_is_told_to_set_one(client, user):
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    response = client.post(DELETE_URL, {"password": "anything", "confirm": "on"})
    assert response.status_code == 400
    assert "Set one on the password page first" in response.context["form"].errors["password"][0]


def test_guessing_the_password_is_rate_limited(client, user):
    client.force_login(user)
    statuses = [
        client.post(DELETE_URL, {"password": f"guess-{n}", "confirm": "on"}).status_code
        for n in range(10)
    ]
    assert statuses == [400] * 10
    response = client.post(DELETE_URL, {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 429
    assert "Too many attempts" in response.context["form"].errors["password"][0]
    assert User.objects.filter(pk=user.pk).exists()


def test_deleting_the_account_signs_out_and_says_so(client):
    event = free_event(capacity=1)
    user = UserFactory()
    registration = register(event, user)
    waiting = register(event)
    client.force_login(user)

    response = client.post(DELETE_URL, {"password": PASSWORD, "confirm": "on"})

    assert response.status_code == 302
    assert response.url == reverse("events:home")
    assert "Your account is deleted." in messages_of(response)[0]
    assert not User.objects.filter(pk=user.pk).exists()
    registration.refresh_from_db()
    waiting.refresh_from_db()
    assert registration.status == Registration.Status.CANCELLED
    assert waiting.status == Registration.Status.CONFIRMED
    # Signed out: the account pages ask to sign in again.
    assert client.get(SETTINGS_URL).status_code == 302
    home = client.get(reverse("events:home"))
    assert home.status_code == 200
    assert not home.wsgi_request.user.is_authenticated


def test_deleting_shows_the_message_on_the_home_page(client, user):
    client.force_login(user)
    response = client.post(DELETE_URL, {"password": PASSWORD, "confirm": "on"}, follow=True)
    assert response.status_code == 200
    assert "Your account is deleted." in response.content.decode()


def test_staff_see_a_message_instead_of_the_form(client, staff_user):
    client.force_login(staff_user)
    response = client.get(DELETE_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "ask an administrator" in html
    assert 'name="password"' not in html


def test_staff_posting_the_form_are_refused(client, staff_user):
    client.force_login(staff_user)
    response = client.post(DELETE_URL, {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 403
    assert "ask an administrator" in response.content.decode()
    assert User.objects.filter(pk=staff_user.pk).exists()


def test_public_privacy_page_links_signed_in_people_to_their_privacy_page(client, user):
    client.force_login(user)
    response = client.get(reverse("privacy"))
    assert response.status_code == 200
    assert f'href="{SETTINGS_URL}"' in response.content.decode()


def test_public_privacy_page_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("privacy"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{reverse("account_login")}?next=/account/privacy/"' in html
    assert "Dietary and accessibility needs" in html


@pytest.mark.parametrize("days", [30, 14, 1])
def test_the_privacy_pages_state_how_long_needs_are_kept(client, user, settings, days):
    settings.SPECIAL_NEEDS_KEPT_DAYS = days
    client.force_login(user)
    expected = f"erase them {days} day{'s' if days != 1 else ''} after the event"
    for url in (reverse("privacy"), SETTINGS_URL):
        page = " ".join(client.get(url).content.decode().split())
        assert expected in page, url


def test_needs_are_erased_after_the_configured_time(settings):
    settings.SPECIAL_NEEDS_KEPT_DAYS = 7
    now = timezone.now()
    event = past_event()
    Event.objects.filter(pk=event.pk).update(starts_at=now - 8 * DAY - HOUR, ends_at=now - 8 * DAY)
    kept = RegistrationFactory(event=EventFactory(), dietary_needs="Vegan")
    erased = RegistrationFactory(event=event, dietary_needs="Vegan")

    assert services.erase_special_category_data(now=now) == 1
    erased.refresh_from_db()
    kept.refresh_from_db()
    assert (erased.dietary_needs, kept.dietary_needs) == ("", "Vegan")


def test_staff_deleting_a_person_in_the_admin_delete_them_as_they_would_themselves(client):
    event = EventFactory(capacity=1)
    person = UserFactory(email="gone@example.org")
    seat = services.register_for_event(
        event_id=event.pk,
        user=person,
        details=RegistrationDetails(billing_organisation="X", billing_address="Y"),
    ).registration
    waiting = services.register_for_event(
        event_id=event.pk,
        user=UserFactory(),
        details=RegistrationDetails(billing_organisation="X", billing_address="Y"),
    ).registration
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(reverse("admin:members_user_delete", args=[person.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=person.pk).exists()
    seat.refresh_from_db()
    waiting.refresh_from_db()
    assert seat.status == Registration.Status.CANCELLED
    assert seat.email.endswith("@invalid")
    assert waiting.status == Registration.Status.CONFIRMED  # the seat went to who waited


def test_staff_deleting_people_in_bulk_delete_each_as_they_would_themselves(client):
    people = [UserFactory() for _ in range(2)]
    event = EventFactory()
    registrations = [
        services.register_for_event(
            event_id=event.pk,
            user=person,
            details=RegistrationDetails(billing_organisation="X", billing_address="Y"),
        ).registration
        for person in people
    ]
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    client.post(
        reverse("admin:members_user_changelist"),
        {"action": "delete_selected", "_selected_action": [p.pk for p in people], "post": "yes"},
    )

    for registration in registrations:
        registration.refresh_from_db()
        assert registration.email.endswith("@invalid")
