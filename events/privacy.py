"""A person's rights over their data: a copy of everything we hold (GDPR Art. 15 and 20) and
the deletion of their account (Art. 17). DESIGN.md section 5.

These live in `events` because they touch registrations as well as the account, and events
may depend on members and outbox, never the other way round. Cancelling goes through
events.services, so the waiting list and the event's counters behave exactly as when a
person cancels by hand.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Cast, Concat, Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from members.affiliation import verified_addresses
from outbox.models import OutgoingEmail

from . import services
from .models import Event, Registration

# Bumped when the layout of the export changes, so a reader of an old file can tell.
EXPORT_FORMAT_VERSION = 1

# The outbox rows about a registration carry its content type; matching it through a join
# keeps the export to one query for all of a person's e-mails, however many registrations.
_ABOUT_A_REGISTRATION = Q(
    content_type__app_label=Registration._meta.app_label,
    content_type__model=Registration._meta.model_name,
)


class AccountDeletionRefused(Exception):
    """An account that cannot be deleted by its owner (staff accounts: an administrator
    removes those, so the back office never loses its last administrator by accident).

    `message` is user-facing and translated."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# --- Export -----------------------------------------------------------------------------------


def _when(value: datetime.datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in the site's time zone (with its offset), or None."""
    return timezone.localtime(value).isoformat() if value is not None else None


def _amount(value: Decimal | None) -> str | None:
    # A string, not a float: 1200.00 must stay 1200.00.
    return str(value) if value is not None else None


def _text_or_none(value: str) -> str | None:
    return value or None


def _addresses_of(user, email_addresses: list[EmailAddress]) -> set[str]:
    """The person's addresses, lower-cased: those they have verified, and the account's own
    unless it is known to be unverified (an account made with createsuperuser has no allauth
    row). An address only added, never confirmed, may be someone else's: what was sent to it
    is not this person's to see or to delete."""
    addresses = {address.email.lower() for address in email_addresses if address.verified}
    unverified = {address.email.lower() for address in email_addresses if not address.verified}
    if user.email and user.email.lower() not in unverified:
        addresses.add(user.email.lower())
    return addresses


def _emails_to(*, addresses: set[str], registration_ids: list[int]):
    """Outgoing e-mails addressed to any of `addresses` (allauth's mails, staff messages) or
    about any of the registrations (the events' mails, whatever address they went to)."""
    match = Q(recipient_lower__in=addresses) if addresses else Q(pk__in=[])
    if registration_ids:
        match |= _ABOUT_A_REGISTRATION & Q(object_id__in=registration_ids)
    return OutgoingEmail.objects.annotate(recipient_lower=Lower("recipient")).filter(match)


def _registration_record(registration: Registration) -> dict[str, Any]:
    event = registration.event
    needs_erased = registration.special_needs_erased_at is not None
    return {
        "event": {
            "title": event.title,
            "starts_at": _when(event.starts_at),
            "ends_at": _when(event.ends_at),
            "venue": event.venue,
        },
        "status": registration.status,
        "first_name": registration.first_name,
        "last_name": registration.last_name,
        "email": registration.email,
        "job_title": registration.job_title,
        "institution": registration.institution_name,
        "admission_category": registration.category,
        "price": _amount(registration.price),
        "currency": registration.currency,
        "price_reason": registration.price_reason,
        "price_override": (
            {
                "at": _when(registration.price_overridden_at),
                "reason": registration.price_override_reason,
            }
            if registration.price_overridden_at is not None
            else None
        ),
        "language": registration.language,
        # After the erasure the needs are gone; the file says so rather than showing blanks.
        "dietary_needs": None if needs_erased else registration.dietary_needs,
        "accessibility_needs": None if needs_erased else registration.accessibility_needs,
        "special_needs_erased_at": _when(registration.special_needs_erased_at),
        "listed_as_participant": registration.listed_as_participant,
        "billing": {
            "organisation": registration.billing_organisation,
            "address": registration.billing_address,
            "vat_number": registration.billing_vat_number,
            "purchase_order_reference": registration.billing_po_reference,
            "ean_number": registration.billing_ean_number,
        },
        "registered_at": _when(registration.created_at),
        "confirmed_at": _when(registration.confirmed_at),
        "cancelled_at": _when(registration.cancelled_at),
        "checked_in_at": _when(registration.checked_in_at),
        "ticket_code": registration.ticket_code,
    }


def export_personal_data(*, user) -> dict[str, Any]:
    """Everything MVA Events holds about `user`, as a JSON-serialisable dict.

    Guarantees: the account's fields; every e-mail address with its verified and primary
    flags; the two-factor methods in use (kind and dates, never their secrets); every
    registration of the account, cancelled ones included, and those staff entered as a
    guest's for one of the person's verified addresses; every outgoing e-mail addressed to
    one of the person's addresses or about one of their registrations. Datetimes are ISO 8601
    strings in Europe/Copenhagen with their offset; amounts are strings. Dietary and
    accessibility needs already erased are null. A constant number of queries (four),
    however many registrations and e-mails.
    """
    email_addresses = list(EmailAddress.objects.filter(user=user).order_by("-primary", "email"))
    authenticators = list(
        Authenticator.objects.filter(user=user)
        .order_by("created_at", "id")
        .only("type", "created_at", "last_used_at")
    )
    verified = [address.email for address in email_addresses if address.verified]
    registrations = list(
        Registration.objects.of_person(user=user, verified_addresses=verified)
        .select_related("event")
        .order_by("event__starts_at", "created_at", "id")
    )
    events_by_registration = {registration.pk: registration.event for registration in registrations}
    emails = list(
        _emails_to(
            addresses=_addresses_of(user, email_addresses),
            registration_ids=list(events_by_registration),
        )
        .select_related("content_type")
        .order_by("created_at", "id")
        .only(
            "kind",
            "recipient",
            "subject",
            "status",
            "created_at",
            "sent_at",
            "object_id",
            "content_type__app_label",
            "content_type__model",
        )
    )

    def about(email: OutgoingEmail) -> str | None:
        content_type = email.content_type
        if content_type is None or (content_type.app_label, content_type.model) != (
            Registration._meta.app_label,
            Registration._meta.model_name,
        ):
            return None
        event = events_by_registration.get(email.object_id)
        return event.title if event is not None else None

    return {
        "format": "mva-events-personal-data",
        "version": EXPORT_FORMAT_VERSION,
        "exported_at": _when(timezone.now()),
        "account": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "job_title": user.job_title,
            "language": user.language,
            "date_joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
        },
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in email_addresses
        ],
        "two_factor_authentication": [
            {
                "type": authenticator.type,
                "added_at": _when(authenticator.created_at),
                "last_used_at": _when(authenticator.last_used_at),
            }
            for authenticator in authenticators
        ],
        "registrations": [_registration_record(registration) for registration in registrations],
        "emails": [
            {
                "kind": email.kind,
                "recipient": email.recipient,
                "subject": _text_or_none(email.subject),
                "about_event": about(email),
                "status": email.status,
                "written_at": _when(email.created_at),
                "sent_at": _when(email.sent_at),
            }
            for email in emails
        ],
    }


# --- Deletion ---------------------------------------------------------------------------------


def account_can_be_deleted(*, user) -> bool:
    """Whether the person may delete this account themselves (everyone but staff)."""
    return not (user.is_staff or user.is_superuser)


@transaction.atomic
def delete_account(*, user, now: datetime.datetime | None = None) -> None:
    """Delete a person's account and everything that identifies them, in one transaction.

    Guarantees, all or nothing:
    - every active registration for an event that has not ended is cancelled through
      events.services.cancel_registration (deadline not enforced), so the freed seats go to
      the waiting list in order and the event's counters stay equal to the real counts;
    - registrations staff entered as a guest's for one of the person's verified addresses
      are linked to the account first (events.services.claim_guest_registrations) and go
      the same way as the account's own;
    - every one of the person's registrations is anonymised: names "Deleted user", address
      `deleted-<id>@invalid` (unique, so the one-active-per-address constraint holds), job
      title, institution, dietary and accessibility needs, billing details and the
      participant-list consent cleared; the event, category, price and its reason, status and
      timestamps stay for the event's statistics and accounts;
    - outgoing e-mails to the person or about their registrations that were not sent (queued,
      awaiting a retry, failed or skipped) are deleted, the cancellation notices just written
      included; sent ones go with the routine clean-up, one in flight stays with its worker;
      e-mails to other people (the promotions of wait-listed people) are kept;
    - the user is deleted; allauth's addresses and two-factor authenticators go with it.
    Calling it for an account already deleted does nothing.
    Raises AccountDeletionRefused for staff accounts, before changing anything.
    """
    if not account_can_be_deleted(user=user):
        raise AccountDeletionRefused(
            _(
                "Staff accounts cannot be deleted here. Please ask an administrator to "
                "remove your account."
            )
        )
    moment = now or timezone.now()
    user_model = get_user_model()
    # The account's row lock makes two deletions at once run one after the other; the second
    # finds no account and stops.
    if not user_model.objects.select_for_update().filter(pk=user.pk).exists():
        return

    # The events of the person's upcoming registrations are locked first, in id order, as
    # cancelling does (event, then registration): claiming below locks registration rows,
    # and a staff member cancelling one of them meanwhile would otherwise deadlock with us.
    upcoming_events = (
        Registration.objects.of_person(user=user, verified_addresses=verified_addresses(user=user))
        .active()
        .filter(event__ends_at__gte=moment)
        .values("event_id")
    )
    list(
        Event.objects.select_for_update(no_key=True)
        .filter(pk__in=upcoming_events)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # What staff entered as a guest's for one of the person's verified addresses is theirs
    # too, and goes the same way.
    services.claim_guest_registrations(user=user)

    # Locks are taken event by event in id order, as any other multi-event writer would.
    upcoming = (
        Registration.objects.active()
        .filter(user=user, event__ends_at__gte=moment)
        .order_by("event_id", "id")
        .values_list("pk", flat=True)
    )
    for registration_id in list(upcoming):
        services.cancel_registration(
            registration_id=registration_id, enforce_deadline=False, now=moment
        )

    registrations = Registration.objects.filter(user=user)
    registration_ids = list(registrations.values_list("pk", flat=True))
    addresses = _addresses_of(user, list(EmailAddress.objects.filter(user=user)))
    # The addresses each registration was made with (a snapshot, possibly an old one).
    addresses |= {email.lower() for email in registrations.values_list("email", flat=True)}

    # Sent rows are the record of what we told the person and go with the routine clean-up; a
    # row in flight belongs to a worker right now. Everything else would only keep the address.
    _emails_to(addresses=addresses, registration_ids=registration_ids).exclude(
        status__in=[OutgoingEmail.Status.SENT, OutgoingEmail.Status.IN_FLIGHT]
    ).delete()

    registrations.update(
        first_name="Deleted",
        last_name="user",
        email=Concat(Value("deleted-"), Cast("pk", CharField()), Value("@invalid")),
        job_title="",
        institution=None,
        institution_name="",
        dietary_needs="",
        accessibility_needs="",
        # Recorded only where there was something to erase, as the scheduled erasure does.
        special_needs_erased_at=Case(
            When(
                Q(special_needs_erased_at__isnull=True)
                & (~Q(dietary_needs="") | ~Q(accessibility_needs="")),
                then=Value(moment),
            ),
            default=F("special_needs_erased_at"),
        ),
        # The reasons name the institution (or, staff's, the person); category and price stay
        # for the accounts.
        price_reason="",
        price_reason_code="",
        # Staff's reason may name the person; an override keeps a neutral mark of itself.
        price_override_reason=Case(
            When(price_overridden_at__isnull=False, then=Value("—")), default=Value("")
        ),
        listed_as_participant=False,
        billing_organisation="",
        billing_address="",
        billing_vat_number="",
        billing_po_reference="",
        billing_ean_number="",
    )
    # Registrations keep their rows (user set to NULL by the foreign key); allauth's
    # EmailAddress and Authenticator rows cascade.
    user.delete()
