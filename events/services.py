"""Registering, cancelling, promoting and checking in (DESIGN.md section 3).

Every write that consumes or frees a seat runs in one short transaction that first locks the
event row (`SELECT … FOR NO KEY UPDATE`) and only then reads the counters it decides on, so no
seat is ever given on a stale read. The database backs this up: one active registration per
person and per address (partial unique constraints) and confirmed_count <= capacity (check
constraint). E-mails are written to the outbox inside the same transaction.

Views, admin actions, tasks and commands call these functions; none re-implements them.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from members.affiliation import (
    Affiliation,
    InvalidDomain,
    affiliation_for_address,
    normalise_address,
    resolve_verified_affiliations,
    verified_addresses,
)
from members.models import User

from . import notifications
from .models import AdmissionCategory, Event, ProgrammeItem, Registration
from .pricing import AdmissionDecision, decide_admission

logger = logging.getLogger(__name__)

# Tests switch this off (settings.EVENTS_LOCK_EVENT_ROW = False) to show that the concurrency
# tests catch overbooking without the lock. Never turn it off anywhere else.
LOCK_SETTING = "EVENTS_LOCK_EVENT_ROW"


@dataclass(frozen=True)
class RegistrationDetails:
    """What the registration form collects (all optional)."""

    dietary_needs: str = ""
    accessibility_needs: str = ""
    listed_as_participant: bool = False
    billing_organisation: str = ""
    billing_address: str = ""
    billing_vat_number: str = ""
    billing_po_reference: str = ""
    billing_ean_number: str = ""
    language: str = "en"  # language of the registrant's e-mails


class RegistrationError(Exception):
    """A registration that cannot be made or changed.

    `message` is user-facing and translated; `code` is one of: "not_open" (draft or
    cancelled event), "over" (the event has ended), "not_yet_open" and "closed" (before and
    after the registration window), "full" (full, no waiting list), "cancellation_closed"
    (past the cancellation deadline), "already_cancelled", "not_waitlisted", "not_confirmed",
    "billing_required", "capacity_below_confirmed", "details_closed" (needs or billing
    details changed after the event), "event_cancelled" (checking in a ticket of an event
    the organisers cancelled).
    """

    def __init__(self, code: str, message: str | None = None):
        self.code = code
        self.message = message or _default_message(code)
        super().__init__(self.message)

    def __repr__(self):
        return f"RegistrationError(code={self.code!r})"


class CapacityBelowConfirmed(RegistrationError, ValueError):
    """Capacity cannot go below the number of confirmed registrations."""


def _default_message(code: str) -> str:
    messages = {
        "not_open": _("This event is not open for registration."),
        "closed": _("Registration for this event is closed."),
        "not_yet_open": _("Registration for this event has not opened yet."),
        "over": _("This event is over."),
        "event_cancelled": _("The event is cancelled: this ticket is not valid."),
        "full": _("This event is full."),
        "cancellation_closed": _(
            "The cancellation deadline has passed; please contact the organisers."
        ),
        "already_cancelled": _("This registration is already cancelled."),
        "not_waitlisted": _("This registration is not on the waiting list."),
        "not_confirmed": _("This registration is not confirmed."),
        "billing_required": _("A fee is due: please give the organisation and address to invoice."),
        "capacity_below_confirmed": _(
            "The capacity cannot be lower than the number of confirmed registrations."
        ),
        "details_closed": _(
            "The event is over: only your choice about the participant list can still be changed."
        ),
    }
    return messages.get(code, _("The registration could not be changed."))


@dataclass(frozen=True)
class PriceSetByStaff:
    """A category and price staff set when entering someone (an invited speaker, a guest of
    the house), instead of the one the address would give; recorded as an override."""

    category: str
    price: Decimal
    reason: str
    set_by: User  # the staff member


@dataclass(frozen=True)
class RegistrationOutcome:
    registration: Registration
    # False when the person already had an active registration (registering twice returns
    # the existing one, no error).
    created: bool


# --- Registering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Registrant:
    """Who is registering, as the registration will record them."""

    user: User | None  # None for a guest entered by staff
    first_name: str
    last_name: str
    email: str
    job_title: str
    affiliations: Sequence[Affiliation]


def register_for_event(
    *,
    event_id: int,
    user: User,
    details: RegistrationDetails,
    now: datetime.datetime | None = None,
    require_billing: bool = True,
    affiliations: Sequence[Affiliation] | None = None,
) -> RegistrationOutcome:
    """Register a signed-in person for an event.

    Guarantees: confirmed registrations never exceed the capacity, whatever the concurrency;
    a full event with a waiting list wait-lists in order of arrival; a person has at most one
    active registration (a second call returns the first, created=False, and sends nothing);
    the price is decided once, from the person's verified addresses, on the event's start
    date, and stored with its reason; the confirmation or waiting-list e-mail is written in
    the same transaction; the event's counters always equal the real counts.
    Raises RegistrationError: "not_open", "over", "not_yet_open", "closed", "full",
    "billing_required".

    `affiliations`, when given, must be the person's verified affiliations as resolved from
    the database in this request; otherwise they are resolved here, from the database, not
    the cache: the price decided now is kept for good.
    """
    # Resolved before the lock: nothing under the lock that need not be there.
    if affiliations is None:
        affiliations = resolve_verified_affiliations(user=user)
    registrant = _Registrant(
        user=user,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        job_title=user.job_title,
        affiliations=affiliations,
    )
    return _register(
        registrant=registrant,
        event_id=event_id,
        details=details,
        now=now,
        check_window=True,
        require_billing=require_billing,
    )


def register_guest(
    *,
    event_id: int,
    first_name: str,
    last_name: str,
    email: str,
    details: RegistrationDetails,
    registered_by: User | None,
    ignore_window: bool = True,
    job_title: str = "",
    require_billing: bool = True,
    price_set_by_staff: PriceSetByStaff | None = None,
    beyond_capacity: bool = False,
    now: datetime.datetime | None = None,
) -> RegistrationOutcome:
    """Staff adding a guest or speaker by hand: the same path as `register_for_event`.

    The affiliation comes from the bare address (staff vouch for it). By default the
    registration window is ignored (staff may add people after it closes); the event must
    still be published and not over, and capacity still holds. An active registration for
    the same address is returned with created=False. With `price_set_by_staff` the
    registration gets that category and price as an override (who, when, why), before its
    confirmation is written, so the guest is never told a price that does not apply; billing
    details are then needed only if that price is above zero. With `beyond_capacity` (an
    invited speaker at a full event) the person is confirmed even so, and the capacity grows
    by one in the same transaction, so nobody waiting loses their turn to a seat that was
    never theirs. Once the event has begun nobody waiting is promoted (a seat offered then is
    useless), so a walk-in entered at the door takes a free seat. An account that has verified
    the address gets the registration at once, and one that already has an active
    registration for the event (made with any of its addresses) keeps that one: it is
    returned with created=False.
    Raises RegistrationError: "not_open", "over", "full", "billing_required"; ValueError for a
    malformed address or price.
    """
    email = (email or "").strip()
    local, _at, domain = email.rpartition("@")
    if not local or not domain:
        raise ValueError(_("Enter a valid e-mail address."))
    try:
        # The spelling accounts keep, so the person's account finds the registration.
        email = normalise_address(email)
    except InvalidDomain:
        raise ValueError(_("Enter a valid e-mail address.")) from None
    if price_set_by_staff is not None:
        _check_override(
            category=price_set_by_staff.category,
            price=price_set_by_staff.price,
            reason=price_set_by_staff.reason,
        )
    affiliation = affiliation_for_address(email=email)
    # An account that has verified the address is the person's: the registration is theirs
    # from the start, so that the one-registration-per-account rule holds (else a person
    # registered with another of their addresses would get a second seat).
    owner = _account_with_verified_address(email)
    registrant = _Registrant(
        user=owner,
        first_name=first_name,
        last_name=last_name,
        email=email,
        job_title=job_title,
        affiliations=[affiliation] if affiliation else [],
    )
    outcome = _register(
        registrant=registrant,
        event_id=event_id,
        details=details,
        now=now,
        check_window=not ignore_window,
        require_billing=require_billing,
        price_set_by_staff=price_set_by_staff,
        beyond_capacity=beyond_capacity,
    )
    if outcome.created:
        logger.info(
            "Guest registration %s for event %s entered by user %s",
            outcome.registration.pk,
            event_id,
            getattr(registered_by, "pk", None),
        )
    return outcome


def _account_with_verified_address(email: str) -> User | None:
    from allauth.account.models import EmailAddress

    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .select_related("user")
        .first()
    )
    return address.user if address is not None else None


def claim_guest_registrations(*, user: User) -> list[Registration]:
    """Link the registrations staff entered as a guest's (no account) for one of the
    person's verified addresses to their account, so that they see, cancel and export them
    like their own, and the e-mails' links to them open.

    Guarantees: only addresses the person has verified count, case ignored; a guest's
    registration for an event where the account already has another active one stays a
    guest's (one active registration per account and event); each registration is linked
    at most once, also when called concurrently; nothing else about it changes (its price
    was decided for the address and stays). Returns the registrations linked.
    """
    addresses = verified_addresses(user=user)
    if not addresses:
        return []
    claimed = []
    for registration in Registration.objects.entered_for_guests(addresses=addresses):
        try:
            with transaction.atomic():
                # The condition makes a concurrent second claim update nothing.
                linked = Registration.objects.filter(pk=registration.pk, user__isnull=True).update(
                    user=user
                )
        except IntegrityError:
            continue  # the account has its own active registration for this event
        if linked:
            registration.user = user
            claimed.append(registration)
            logger.info("Registration %s linked to user %s", registration.pk, user.pk)
    return claimed


def _lock_event(event_id: int) -> Event:
    """The event, locked for the rest of the transaction (unless tests switched it off)."""
    if getattr(settings, LOCK_SETTING, True):
        return Event.objects.select_for_update(no_key=True).get(pk=event_id)
    return Event.objects.get(pk=event_id)


def registration_window_state(*, event: Event, now: datetime.datetime) -> str | None:
    """None while the registration window is open at `now`; otherwise why not: "over" (the
    event has ended), "not_yet_open", or "closed" (after the window, or the event started)."""
    if now >= event.ends_at:
        return "over"
    if event.registration_opens_at is not None and now < event.registration_opens_at:
        return "not_yet_open"
    closes_at = event.registration_closes_at
    if (closes_at is not None and now >= closes_at) or now >= event.starts_at:
        return "closed"
    return None


def registration_state(*, event: Event, now: datetime.datetime) -> str:
    """What registering would meet right now, for pages to explain before anyone tries:
    "cancelled", "draft", "over", "not_yet_open", "closed", "full" (no waiting list),
    "waiting_list" or "open". `register_for_event` applies the same rules under its lock."""
    if event.status == Event.Status.CANCELLED:
        return "cancelled"
    if event.status == Event.Status.DRAFT:
        return "draft"
    window = registration_window_state(event=event, now=now)
    if window is not None:
        return window
    if event.is_full:
        return "waiting_list" if event.has_waiting_list else "full"
    return "open"


def waiting_list_position(*, registration: Registration) -> int | None:
    """The registration's place on its event's waiting list, 1 for the next to be promoted;
    None unless it is wait-listed. One COUNT query, only for a wait-listed registration."""
    if registration.status != Registration.Status.WAITLISTED:
        return None
    ahead = Registration.objects.waitlisted_ahead(
        event_id=registration.event_id, created_at=registration.created_at, pk=registration.pk
    )
    return ahead.count() + 1


# Staff who may see registrations see drafts and every participant list; being staff is not
# enough (an account can be staff for another part of the back office).
STAFF_VIEW_PERMISSION = "events.view_registration"
_NOT_LOOKED_UP = object()


def can_see_participant_list(
    *, user: User | AnonymousUser, event: Event, own_registration=_NOT_LOOKED_UP
) -> bool:
    """Whether `user` may see the event's participant list: its confirmed attendees and
    staff allowed to see registrations. `own_registration` is the person's active
    registration for the event (or None) when the caller has it already."""
    if not user.is_authenticated:
        return False
    # is_staff first: permissions cost queries, and only staff use them.
    if user.is_staff and user.has_perm(STAFF_VIEW_PERMISSION):
        return True
    if own_registration is _NOT_LOOKED_UP:
        return Registration.objects.confirmed().filter(event=event, user=user).exists()
    return own_registration is not None and own_registration.status == (
        Registration.Status.CONFIRMED
    )


def has_valid_ticket(*, registration: Registration) -> bool:
    """Whether the registration's ticket admits its holder: confirmed, for an event that is
    still on. Pages show the QR code and let it be downloaded only then."""
    return (
        registration.status == Registration.Status.CONFIRMED
        and registration.event.status == Event.Status.PUBLISHED
    )


def cancellation_closes_at(*, registration: Registration) -> datetime.datetime:
    """Until when the attendee may cancel: a seat until the event's cancellation deadline
    (which protects the organisers' planning), also for someone who registered after it; a
    place on the waiting list, which holds no seat, and a seat given from the waiting list
    after the deadline (a promotion the person did not ask for then), until the event
    starts or the deadline, whichever is later, so nobody is promoted into a place they
    cannot give back."""
    event = registration.event
    deadline = event.cancellation_closes_at
    confirmed_at = registration.confirmed_at
    promoted_after_the_deadline = (
        confirmed_at is not None
        and confirmed_at > registration.created_at
        and confirmed_at > deadline
    )
    if registration.status == Registration.Status.WAITLISTED or promoted_after_the_deadline:
        return max(deadline, event.starts_at)
    return deadline


def can_cancel(*, registration: Registration, now: datetime.datetime) -> bool:
    """Whether the attendee may still cancel (staff may always, see cancel_registration)."""
    return registration.is_active and now <= cancellation_closes_at(registration=registration)


def _active_registration(*, event_id: int, user: User | None, email: str) -> Registration | None:
    """The person's active registration for the event (by account, or by address)."""
    match = Q(email_lower=email.lower())
    if user is not None:
        match |= Q(user=user)
    return (
        Registration.objects.filter(event_id=event_id)
        .active()
        .annotate(email_lower=Lower("email"))
        .filter(match)
        .order_by(F("user_id").asc(nulls_last=True) if user is None else "id")
        .first()
    )


def _billing_missing(details: RegistrationDetails) -> bool:
    return not (details.billing_organisation.strip() and details.billing_address.strip())


def _register(
    *,
    registrant: _Registrant,
    event_id: int,
    details: RegistrationDetails,
    now: datetime.datetime | None,
    check_window: bool,
    require_billing: bool,
    price_set_by_staff: PriceSetByStaff | None = None,
    beyond_capacity: bool = False,
) -> RegistrationOutcome:
    try:
        with transaction.atomic():
            return _register_locked(
                registrant=registrant,
                event_id=event_id,
                details=details,
                now=now,
                check_window=check_window,
                require_billing=require_billing,
                price_set_by_staff=price_set_by_staff,
                beyond_capacity=beyond_capacity,
            )
    except IntegrityError as error:
        # The person (or address) already has an active registration, made earlier or by a
        # concurrent request: the unique constraints stopped this one and rolled its
        # transaction back, so nothing was counted or queued. The existing registration is
        # the answer. Anything else (a capacity check violation) is a real error.
        existing = _active_registration(
            event_id=event_id, user=registrant.user, email=registrant.email
        )
        if existing is None or not _is_duplicate_violation(error):
            raise
        return RegistrationOutcome(registration=existing, created=False)


def _is_duplicate_violation(error: IntegrityError) -> bool:
    diag = getattr(getattr(error, "__cause__", None), "diag", None)
    name = getattr(diag, "constraint_name", None) or str(error)
    return "registration_one_active_per" in name


def _register_locked(
    *,
    registrant: _Registrant,
    event_id: int,
    details: RegistrationDetails,
    now: datetime.datetime | None,
    check_window: bool,
    require_billing: bool,
    price_set_by_staff: PriceSetByStaff | None,
    beyond_capacity: bool = False,
) -> RegistrationOutcome:
    event = _lock_event(event_id)
    moment = now or timezone.now()
    # Registering twice is not looked up first: the partial unique constraints reject the
    # second insert, and _register answers with the first registration. That saves the
    # common path a query under the lock. Only before refusing is it looked up, so someone
    # already registered hears that rather than "closed" or "full".
    decision: AdmissionDecision | None = None
    status = None
    grow_capacity = False
    if event.status != Event.Status.PUBLISHED:
        refusal = "not_open"
    elif event.ends_at <= moment:
        refusal = "over"  # also for staff, who may otherwise register outside the window
    elif check_window and registration_window_state(event=event, now=moment) is not None:
        refusal = registration_window_state(event=event, now=moment)  # not yet open, or closed
    else:
        # The reason is stored as text, so it is written in the registrant's language (not,
        # for a guest entered by staff, in the staff member's).
        with translation.override(details.language or settings.LANGUAGE_CODE):
            decision = decide_admission(event=event, affiliations=registrant.affiliations)
        if event.waitlisted_count and not event.is_full:
            # Seats freed while nobody could be promoted (the event was a draft, say) go to
            # those waiting before anyone new.
            _fill_free_seats(event, moment)
        if event.capacity is None or event.confirmed_count < event.capacity:
            status = Registration.Status.CONFIRMED
        elif beyond_capacity:
            status = Registration.Status.CONFIRMED
            grow_capacity = True
        elif event.has_waiting_list:
            status = Registration.Status.WAITLISTED
        refusal = "full" if status is None else None
        price = decision.price if price_set_by_staff is None else price_set_by_staff.price
        if price > 0 and require_billing and _billing_missing(details):
            refusal = "billing_required"
    if refusal is not None:
        existing = _active_registration(
            event_id=event.pk, user=registrant.user, email=registrant.email
        )
        if existing is not None:
            return RegistrationOutcome(registration=existing, created=False)
        raise RegistrationError(refusal)
    institution = decision.institution
    registration = Registration(
        event=event,
        user=registrant.user,
        first_name=registrant.first_name or "",
        last_name=registrant.last_name or "",
        email=registrant.email,
        job_title=registrant.job_title or "",
        institution=institution,
        institution_name=institution.name if institution else "",
        category=decision.category,
        price=decision.price,
        currency=decision.currency,
        price_reason=decision.reason,
        price_reason_code=decision.reason_code,
        membership_judged_on=decision.judged_on,
        status=status,
        created_at=moment,
        confirmed_at=moment if status == Registration.Status.CONFIRMED else None,
        language=details.language or settings.LANGUAGE_CODE,
        dietary_needs=details.dietary_needs.strip(),
        accessibility_needs=details.accessibility_needs.strip(),
        listed_as_participant=details.listed_as_participant,
    )
    if price_set_by_staff is not None:
        registration.category = price_set_by_staff.category
        registration.price = Decimal(price_set_by_staff.price)
        registration.price_override_reason = price_set_by_staff.reason.strip()
        registration.price_overridden_by = price_set_by_staff.set_by
        registration.price_overridden_at = moment
    if registration.price > 0:
        # Billing details are kept only where a fee is due; for a free place they are dropped.
        registration.billing_organisation = details.billing_organisation.strip()
        registration.billing_address = details.billing_address.strip()
        registration.billing_vat_number = details.billing_vat_number.strip()
        registration.billing_po_reference = details.billing_po_reference.strip()
        registration.billing_ean_number = details.billing_ean_number.strip()
    registration.save(force_insert=True)

    if grow_capacity:
        # Seated beyond the capacity by staff: the capacity grows with the seat.
        Event.objects.filter(pk=event.pk).update(capacity=F("capacity") + 1)
        event.capacity += 1
    if status == Registration.Status.CONFIRMED:
        _change_counts(event, confirmed=+1)
        notifications.queue_confirmation(registration=registration)
    else:
        _change_counts(event, waitlisted=+1)
        notifications.queue_waitlisted(registration=registration)
    return RegistrationOutcome(registration=registration, created=True)


def _change_counts(event: Event, *, confirmed: int = 0, waitlisted: int = 0) -> None:
    """Move the event's counters by the given amounts, in the database and on the instance."""
    changes = {}
    if confirmed:
        changes["confirmed_count"] = F("confirmed_count") + confirmed
    if waitlisted:
        changes["waitlisted_count"] = F("waitlisted_count") + waitlisted
    if not changes:
        return
    Event.objects.filter(pk=event.pk).update(**changes)
    event.confirmed_count += confirmed
    event.waitlisted_count += waitlisted


# --- Cancelling and the waiting list ----------------------------------------------------------


def _waiting_list(event: Event):
    return Registration.objects.filter(event=event).waitlisted().order_by("created_at", "id")


def _promote(event: Event, registration: Registration, moment: datetime.datetime) -> None:
    """Give a locked, wait-listed registration a seat (the caller checked there is one)."""
    registration.status = Registration.Status.CONFIRMED
    registration.confirmed_at = moment
    registration.save(update_fields=["status", "confirmed_at"])
    _change_counts(event, confirmed=+1, waitlisted=-1)
    notifications.queue_promoted(registration=registration)


def _fill_free_seats(event: Event, moment: datetime.datetime) -> list[Registration]:
    """Promote wait-listed people, first come first served, while seats are free.

    Runs under the event lock. Nobody is promoted for an event that is not published or
    has already started: a seat offered then would be useless.
    """
    if event.status != Event.Status.PUBLISHED or moment >= event.starts_at:
        return []
    if event.capacity is None:
        free = None
    else:
        free = event.capacity - event.confirmed_count
        if free <= 0:
            return []
    waiting = _waiting_list(event).select_for_update(no_key=True)
    if free is not None:
        waiting = waiting[:free]
    promoted = []
    for registration in waiting:
        _promote(event, registration, moment)
        promoted.append(registration)
    return promoted


@dataclass(frozen=True)
class Cancellation:
    registration: Registration
    promoted: list[Registration]  # wait-listed people given the freed seat


@transaction.atomic
def cancel_registration(
    *,
    registration_id: int,
    cancelled_by: User | None = None,
    enforce_deadline: bool = True,
    now: datetime.datetime | None = None,
) -> Cancellation:
    """Cancel a registration; if it held a seat, give the seat to the first wait-listed
    person (in order of arrival) in the same transaction. Returns the registration and whom
    its seat went to.

    Guarantees: counters stay equal to the real counts; the cancellation and promotion
    e-mails are written with the change. With `enforce_deadline` (attendees), cancelling
    after `cancellation_closes_at` is refused; staff pass enforce_deadline=False.
    Raises RegistrationError: "already_cancelled", "cancellation_closed";
    Registration.DoesNotExist for an unknown id.
    """
    event_id = (
        Registration.objects.filter(pk=registration_id).values_list("event_id", flat=True).get()
    )
    event = _lock_event(event_id)
    registration = Registration.objects.select_for_update(no_key=True).get(pk=registration_id)
    moment = now or timezone.now()
    if registration.status == Registration.Status.CANCELLED:
        raise RegistrationError("already_cancelled")
    registration.event = event
    if enforce_deadline and moment > cancellation_closes_at(registration=registration):
        raise RegistrationError("cancellation_closed")

    was_confirmed = registration.status == Registration.Status.CONFIRMED
    registration.status = Registration.Status.CANCELLED
    registration.cancelled_at = moment
    registration.save(update_fields=["status", "cancelled_at"])
    if was_confirmed:
        _change_counts(event, confirmed=-1)
    else:
        _change_counts(event, waitlisted=-1)
    notifications.queue_cancelled(registration=registration)
    if cancelled_by is not None:
        logger.info("Registration %s cancelled by user %s", registration.pk, cancelled_by.pk)
    promoted = _fill_free_seats(event, moment) if was_confirmed else []
    return Cancellation(registration=registration, promoted=promoted)


@transaction.atomic
def promote_from_waiting_list(
    *, registration_id: int, promoted_by: User | None = None, now: datetime.datetime | None = None
) -> Registration:
    """Staff giving a seat to a specific wait-listed person (out of turn if they choose).

    Guarantees: never exceeds the capacity; the promotion e-mail is written with the change;
    only for a published event that has not started (a seat offered then is useless).
    Raises RegistrationError: "not_waitlisted", "full" (no free seat), "not_open" (draft or
    cancelled event), "over" (the event has started).
    """
    event_id = (
        Registration.objects.filter(pk=registration_id).values_list("event_id", flat=True).get()
    )
    event = _lock_event(event_id)
    registration = Registration.objects.select_for_update(no_key=True).get(pk=registration_id)
    if registration.status != Registration.Status.WAITLISTED:
        raise RegistrationError("not_waitlisted")
    moment = now or timezone.now()
    if event.status != Event.Status.PUBLISHED:
        raise RegistrationError("not_open")
    if moment >= event.starts_at:
        raise RegistrationError("over")
    if event.capacity is not None and event.confirmed_count >= event.capacity:
        raise RegistrationError("full")
    _promote(event, registration, moment)
    if promoted_by is not None:
        logger.info("Registration %s promoted by user %s", registration.pk, promoted_by.pk)
    return registration


@transaction.atomic
def change_capacity(
    *, event_id: int, capacity: int | None, now: datetime.datetime | None = None
) -> list[Registration]:
    """Set an event's capacity (None: unlimited) and promote as many wait-listed people as
    now fit, first come first served, with their promotion e-mails. Returns them.

    Raises CapacityBelowConfirmed (a RegistrationError and ValueError, code
    "capacity_below_confirmed") when the capacity is below the confirmed count, and
    ValueError for a negative capacity.
    """
    if capacity is not None and capacity < 0:
        raise ValueError("Capacity cannot be negative.")
    event = _lock_event(event_id)
    if capacity is not None and capacity < event.confirmed_count:
        raise CapacityBelowConfirmed("capacity_below_confirmed")
    Event.objects.filter(pk=event.pk).update(capacity=capacity, updated_at=timezone.now())
    event.capacity = capacity
    return _fill_free_seats(event, now or timezone.now())


@dataclass(frozen=True)
class StatusChange:
    promoted: list[Registration]  # wait-listed people given a seat on publishing
    notified: int  # people told by e-mail that the event is cancelled, or on again


@transaction.atomic
def change_event_status(
    *,
    event_id: int,
    status: str,
    changed_by: User | None = None,
    now: datetime.datetime | None = None,
) -> StatusChange:
    """Publish, cancel or withdraw an event to draft, with what follows from it.

    Guarantees, under the event's lock: publishing gives seats freed meanwhile to the waiting
    list first (with their e-mails); cancelling writes, in the same transaction, a notice to
    every confirmed and wait-listed person who does not already believe it cancelled;
    publishing a cancelled event again tells those who were told it was cancelled that it
    goes ahead after all (with their ticket again). Nobody is told anything about an event
    that is over. Registrations keep their status, so restoring the event restores them; a
    cancelled event's tickets are not valid (`has_valid_ticket`). Setting the status the
    event already has changes nothing.
    """
    if status not in Event.Status.values:
        raise ValueError(_("Unknown event status."))
    event = _lock_event(event_id)
    if event.status == status:
        return StatusChange(promoted=[], notified=0)
    moment = now or timezone.now()
    previous = event.status
    Event.objects.filter(pk=event.pk).update(status=status, updated_at=timezone.now())
    event.status = status
    promoted, notified = [], 0
    if status == Event.Status.PUBLISHED:
        promoted = _fill_free_seats(event, moment)
    # An event that is over is cancelled or restored only for the record: nobody is told.
    tell = None
    if status == Event.Status.CANCELLED:
        tell = notifications.queue_event_cancelled
    elif status == Event.Status.PUBLISHED and previous == Event.Status.CANCELLED:
        tell = notifications.queue_event_restored
    if tell is not None and event.ends_at > moment:
        for registration in Registration.objects.filter(event=event).active().order_by("id"):
            if tell(registration=registration, moment=moment) is not None:
                notified += 1
    logger.info("Event %s set to %s by user %s", event.pk, status, getattr(changed_by, "pk", None))
    return StatusChange(promoted=promoted, notified=notified)


# --- Changing one's details -------------------------------------------------------------------


def details_still_editable(*, registration: Registration, now: datetime.datetime) -> bool:
    """Whether the registrant may still change their needs and billing details: while the
    registration is active and the event is on and has not ended. (Consent to the
    participant list can be withdrawn or given as long as the registration is active.)"""
    event = registration.event
    return registration.is_active and event.status == Event.Status.PUBLISHED and now < event.ends_at


@transaction.atomic
def change_registration_details(
    *,
    registration_id: int,
    details: RegistrationDetails,
    now: datetime.datetime | None = None,
) -> Registration:
    """The registrant changing what they told us: dietary and accessibility needs, consent
    to the participant list, and billing details.

    Guarantees: status, category, price and its reason, language and the seat are never
    touched, so nothing is re-decided and no e-mail is sent; billing details are kept only
    where a fee is due, and a change to them must leave an organisation and an address;
    after the event has ended only the participant-list consent changes.
    Raises RegistrationError: "already_cancelled", "billing_required", "details_closed".
    """
    # The row, not the event: no seat is consumed or freed.
    registration = (
        Registration.objects.select_for_update(no_key=True, of=("self",))
        .select_related("event")
        .get(pk=registration_id)
    )
    if not registration.is_active:
        raise RegistrationError("already_cancelled")
    moment = now or timezone.now()
    changed = {
        "listed_as_participant": details.listed_as_participant,
        "dietary_needs": details.dietary_needs.strip(),
        "accessibility_needs": details.accessibility_needs.strip(),
    }
    if registration.price > 0:
        changed.update(
            billing_organisation=details.billing_organisation.strip(),
            billing_address=details.billing_address.strip(),
            billing_vat_number=details.billing_vat_number.strip(),
            billing_po_reference=details.billing_po_reference.strip(),
            billing_ean_number=details.billing_ean_number.strip(),
        )
    changed = {
        field: value for field, value in changed.items() if getattr(registration, field) != value
    }
    if not details_still_editable(registration=registration, now=moment) and (
        set(changed) - {"listed_as_participant"}
    ):
        raise RegistrationError("details_closed")
    # Invoice details, once given, cannot be blanked out; a registration staff entered
    # without them can still change everything else.
    if any(field.startswith("billing_") for field in changed) and _billing_missing(details):
        raise RegistrationError("billing_required")
    for field, value in changed.items():
        setattr(registration, field, value)
    if changed:
        registration.save(update_fields=list(changed))
    return registration


# --- At the door and in the back office -------------------------------------------------------


@transaction.atomic
def check_in(
    *, registration_id: int, checked_in_by: User, now: datetime.datetime | None = None
) -> tuple[Registration, bool]:
    """Mark a confirmed registration present. Returns (registration, newly_checked_in).

    Guarantees: the first check-in time and the staff member who did it are kept; a second
    call (or two at once) returns (registration, False) unchanged; only a valid ticket
    (`has_valid_ticket`) is checked in.
    Raises RegistrationError: "not_confirmed" for a wait-listed or cancelled registration,
    "event_cancelled" when the organisers cancelled the event.
    """
    registration = (
        Registration.objects.select_for_update(no_key=True, of=("self",))
        .select_related("event")
        .get(pk=registration_id)
    )
    if registration.status != Registration.Status.CONFIRMED:
        raise RegistrationError("not_confirmed")
    if not has_valid_ticket(registration=registration):
        raise RegistrationError("event_cancelled")
    if registration.checked_in_at is not None:
        return registration, False
    registration.checked_in_at = now or timezone.now()
    registration.checked_in_by = checked_in_by
    registration.save(update_fields=["checked_in_at", "checked_in_by"])
    return registration, True


@transaction.atomic
def undo_check_in(*, registration_id: int, undone_by: User) -> tuple[Registration, bool]:
    """Take back a check-in made by mistake. Returns (registration, newly_undone).

    Guarantees: under the registration's row lock, the check-in time and the staff member who
    checked the person in are cleared, whatever the registration's status (a mistaken
    check-in stays a mistake after a cancellation); a registration that is not checked in is
    returned unchanged with False, so a second call (or two at once) changes nothing. The
    cleared check-in is logged with who undid it. Seats and counters are not touched: a
    check-in never changed them.
    """
    registration = Registration.objects.select_for_update(no_key=True).get(pk=registration_id)
    if registration.checked_in_at is None:
        return registration, False
    logger.info(
        "Check-in of registration %s (at %s by user %s) undone by user %s",
        registration.pk,
        registration.checked_in_at.isoformat(),
        registration.checked_in_by_id,
        undone_by.pk,
    )
    registration.checked_in_at = None
    registration.checked_in_by = None
    registration.save(update_fields=["checked_in_at", "checked_in_by"])
    return registration, True


def takes_place_on(*, event: Event, day: datetime.date) -> bool:
    """Whether the event runs on `day` in the site's time zone (Europe/Copenhagen): from the
    local date it starts on to the local date it ends on, both included."""
    starts = timezone.localtime(event.starts_at).date()
    ends = timezone.localtime(event.ends_at).date()
    return starts <= day <= ends


def _check_override(*, category: str, price: Decimal, reason: str) -> None:
    if not (reason or "").strip():
        raise ValueError(_("A reason is required to override the price."))
    if Decimal(price) < 0:
        raise ValueError(_("The price cannot be negative."))
    if category not in AdmissionCategory.values:
        raise ValueError(_("Unknown admission category."))


@transaction.atomic
def override_price(
    *,
    registration_id: int,
    category: str,
    price: Decimal,
    reason: str,
    overridden_by: User,
    now: datetime.datetime | None = None,
) -> Registration:
    """Staff overriding a registration's category and price.

    Records who, when and why; the original decision's reason (`price_reason`) is kept
    for the record. Raises ValueError for an empty reason, a negative price or an unknown
    category.
    """
    _check_override(category=category, price=price, reason=reason)
    registration = Registration.objects.select_for_update(no_key=True).get(pk=registration_id)
    registration.category = category
    registration.price = Decimal(price)
    registration.price_override_reason = reason.strip()
    registration.price_overridden_by = overridden_by
    registration.price_overridden_at = now or timezone.now()
    registration.save(
        update_fields=[
            "category",
            "price",
            "price_override_reason",
            "price_overridden_by",
            "price_overridden_at",
        ]
    )
    return registration


def erase_special_category_data(
    *, older_than_days: int | None = None, now: datetime.datetime | None = None
) -> int:
    """Blank dietary and accessibility needs (GDPR Art. 9 data) of registrations whose event
    ended more than `older_than_days` days ago (settings.SPECIAL_NEEDS_KEPT_DAYS by default),
    and record when: also needs written in again after an earlier erasure (staff may edit
    them). Returns how many registrations were erased. Idempotent.
    """
    if older_than_days is None:
        older_than_days = settings.SPECIAL_NEEDS_KEPT_DAYS
    moment = now or timezone.now()
    cutoff = moment - datetime.timedelta(days=older_than_days)
    return (
        Registration.objects.filter(event__ends_at__lt=cutoff)
        .filter(~Q(dietary_needs="") | ~Q(accessibility_needs=""))
        .update(dietary_needs="", accessibility_needs="", special_needs_erased_at=moment)
    )


# --- Events ------------------------------------------------------------------------------------


def _unique_copy_slug(slug: str) -> str:
    base = f"{slug[:90]}-copy"
    candidate, number = base, 1
    while Event.objects.filter(slug=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


@transaction.atomic
def duplicate_event(*, event_id: int) -> Event:
    """A draft copy of an event and its programme, for next year's edition.

    Guarantees: a new unique slug, the title marked "(copy)", status draft, no registrations
    and zero counters; the original is untouched.
    """
    source = Event.objects.get(pk=event_id)
    programme = list(source.programme.all())
    copy = Event.objects.get(pk=event_id)
    copy.pk = None
    copy._state.adding = True
    copy.title = Truncator(_("%(title)s (copy)") % {"title": source.title}).chars(200)
    copy.status = Event.Status.DRAFT
    copy.confirmed_count = 0
    copy.waitlisted_count = 0
    copy.created_at = copy.updated_at = timezone.now()
    for _attempt in range(5):
        copy.slug = _unique_copy_slug(source.slug)
        try:
            with transaction.atomic():
                copy.save(force_insert=True)
            break
        except IntegrityError:
            # Another copy took the slug between the look-up and the insert: try the next.
            copy.pk = None
            copy._state.adding = True
    else:
        raise RuntimeError(f"Could not find a free slug to copy event {event_id}")
    ProgrammeItem.objects.bulk_create(
        ProgrammeItem(
            event=copy,
            starts_at=item.starts_at,
            ends_at=item.ends_at,
            title=item.title,
            speakers=item.speakers,
            description=item.description,
        )
        for item in programme
    )
    return copy


def slug_is_fixed(*, event: Event) -> bool:
    """Whether the event's slug may no longer change: once the event is published or
    cancelled (a cancelled event was published), or has any registration, its address
    /events/<slug>/ is in links people keep and in e-mails already sent, with their calendar
    files; a new slug would break them. A draft nobody has registered for may still change it.
    """
    return (
        event.status != Event.Status.DRAFT
        or Registration.objects.filter(event_id=event.pk).exists()
    )


def move_programme_items(*, event_id: int, item_ids: Sequence[int], by: datetime.timedelta) -> int:
    """Move the event's programme items with these ids by `by` (the event moved and they were
    left as they were). Items of other events are never touched. Returns how many moved."""
    return ProgrammeItem.objects.filter(event_id=event_id, pk__in=item_ids).update(
        starts_at=F("starts_at") + by, ends_at=F("ends_at") + by
    )


def programme_item_problems(
    *,
    event_starts_at: datetime.datetime,
    event_ends_at: datetime.datetime,
    starts_at: datetime.datetime | None,
    ends_at: datetime.datetime | None,
) -> dict[str, str]:
    """Why a programme item's times do not fit in its event, per field ("starts_at",
    "ends_at"); empty when they fit.

    Guarantees: an item fits when it starts no earlier than the event and no later than its
    end, and (when it has an end) ends no later than the event; a missing time is not
    judged. The messages name the event's local start or end.
    """
    problems: dict[str, str] = {}

    def local(moment: datetime.datetime) -> str:
        return date_format(timezone.localtime(moment), "DATETIME_FORMAT")

    if starts_at is not None:
        if starts_at < event_starts_at:
            problems["starts_at"] = _(
                "A programme item cannot start before the event starts (%(start)s)."
            ) % {"start": local(event_starts_at)}
        elif starts_at > event_ends_at:
            problems["starts_at"] = _(
                "A programme item cannot start after the event ends (%(end)s)."
            ) % {"end": local(event_ends_at)}
    if ends_at is not None and ends_at > event_ends_at:
        problems["ends_at"] = _("A programme item cannot end after the event ends (%(end)s).") % {
            "end": local(event_ends_at)
        }
    return problems
