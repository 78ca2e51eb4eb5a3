"""events.services: every outcome and error of registering, cancelling, promoting,
changing capacity, checking in and overriding prices (DESIGN.md section 3)."""

import dataclasses
import datetime
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone, translation

from events import services
from events.models import AdmissionCategory, Event, Registration
from events.services import (
    CapacityBelowConfirmed,
    RegistrationDetails,
    RegistrationError,
    cancel_registration,
    change_capacity,
    check_in,
    erase_special_category_data,
    override_price,
    promote_from_waiting_list,
    register_for_event,
    register_guest,
)
from outbox.models import OutgoingEmail
from tests.factories import (
    EventFactory,
    InstitutionDomainFactory,
    RegistrationFactory,
    UserFactory,
    member_institution,
)

pytestmark = pytest.mark.django_db


BILLING = RegistrationDetails(
    billing_organisation="Acme Biotech AB",
    billing_address="Scheelevägen 2, 223 81 Lund",
    billing_vat_number="SE556677889901",
    billing_po_reference="PO-42",
    billing_ean_number="5790001234567",
)


def register(event, user=None, details=BILLING, **kwargs):
    return register_for_event(
        event_id=event.pk, user=user or UserFactory(), details=details, **kwargs
    )


def kinds(registration):
    return sorted(OutgoingEmail.objects.for_object(registration).values_list("kind", flat=True))


def assert_counters_match(event):
    event.refresh_from_db()
    registrations = Registration.objects.filter(event=event)
    assert event.confirmed_count == registrations.confirmed().count()
    assert event.waitlisted_count == registrations.waitlisted().count()
    if event.capacity is not None:
        assert event.confirmed_count <= event.capacity


def full_event(*, waitlisted=0, capacity=2, **fields):
    """An event whose `capacity` seats are taken, with `waitlisted` people waiting."""
    event = EventFactory(capacity=capacity, **fields)
    confirmed = [register(event).registration for _ in range(capacity)]
    waiting = [register(event).registration for _ in range(waitlisted)]
    return event, confirmed, waiting


# --- Registering --------------------------------------------------------------------------------


def test_register_confirms_and_snapshots_the_person():
    event = EventFactory(capacity=10)
    user = UserFactory(
        email="kari@example.org", first_name="Kari", last_name="Nord", job_title="Postdoc"
    )
    outcome = register(
        event,
        user,
        details=RegistrationDetails(
            dietary_needs=" Vegan ",
            accessibility_needs="Wheelchair",
            listed_as_participant=True,
            billing_organisation=BILLING.billing_organisation,
            billing_address=BILLING.billing_address,
            billing_vat_number=BILLING.billing_vat_number,
            language="sv",
        ),
    )
    registration = outcome.registration
    assert outcome.created is True
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.confirmed_at is not None
    assert (registration.first_name, registration.last_name) == ("Kari", "Nord")
    assert registration.email == "kari@example.org"
    assert registration.job_title == "Postdoc"
    assert registration.user == user
    assert registration.category == AdmissionCategory.NON_MEMBER
    assert registration.price == Decimal("1200.00")
    assert registration.currency == "DKK"
    assert registration.price_reason
    assert registration.dietary_needs == "Vegan"
    assert registration.accessibility_needs == "Wheelchair"
    assert registration.listed_as_participant is True
    assert registration.billing_organisation == "Acme Biotech AB"
    assert registration.billing_vat_number == "SE556677889901"
    assert registration.language == "sv"
    assert len(registration.ticket_code) >= 22
    email = OutgoingEmail.objects.get(kind="events.confirmation")
    assert email.recipient == "kari@example.org"
    assert email.language == "sv"
    assert email.context == {"registration_id": registration.pk}
    assert email.dedup_key == f"registration:{registration.pk}:confirmation"
    assert email.about == registration
    assert_counters_match(event)


def test_member_university_staff_register_free_and_billing_is_discarded():
    lund = member_institution(domain="lu.se", name="Lund University")
    event = EventFactory()
    user = UserFactory(email="anna@med.lu.se")
    registration = register(event, user, details=BILLING).registration
    registration.refresh_from_db()
    assert registration.category == AdmissionCategory.MEMBER_UNIVERSITY_STAFF
    assert registration.price == 0
    assert "Lund University" in registration.price_reason
    assert registration.institution == lund
    assert registration.institution_name == "Lund University"
    assert registration.billing_organisation == ""
    assert registration.billing_address == ""
    assert registration.billing_vat_number == ""
    assert registration.billing_po_reference == ""
    assert registration.billing_ean_number == ""


def test_free_registration_needs_no_billing_details():
    member_institution(domain="lu.se")
    event = EventFactory()
    outcome = register(event, UserFactory(email="bo@lu.se"), details=RegistrationDetails())
    assert outcome.registration.price == 0


@pytest.mark.parametrize(
    ("organisation", "address"),
    [("", ""), ("Acme", ""), ("", "Street 1"), ("   ", "Street 1"), ("Acme", "  \n ")],
)
def test_billing_required_when_a_fee_is_due(organisation, address):
    event = EventFactory()
    details = RegistrationDetails(billing_organisation=organisation, billing_address=address)
    with pytest.raises(RegistrationError) as caught:
        register(event, details=details)
    assert caught.value.code == "billing_required"
    assert caught.value.message
    assert not Registration.objects.exists()
    assert not OutgoingEmail.objects.exists()
    assert_counters_match(event)


def test_unlimited_capacity_always_confirms():
    event = EventFactory(capacity=None)
    for _ in range(5):
        assert register(event).registration.status == Registration.Status.CONFIRMED
    assert_counters_match(event)


def test_full_event_with_waiting_list_waitlists_in_order_of_arrival():
    event, confirmed, waiting = full_event(capacity=2, waitlisted=3)
    assert all(r.status == Registration.Status.CONFIRMED for r in confirmed)
    assert all(r.status == Registration.Status.WAITLISTED for r in waiting)
    assert list(services._waiting_list(event)) == waiting
    for registration in waiting:
        assert kinds(registration) == ["events.waitlisted"]
    assert_counters_match(event)
    assert event.waitlisted_count == 3


def test_full_event_without_waiting_list_refuses():
    event, _, _ = full_event(capacity=2, has_waiting_list=False)
    with pytest.raises(RegistrationError) as caught:
        register(event)
    assert caught.value.code == "full"
    assert Registration.objects.count() == 2
    assert OutgoingEmail.objects.count() == 2
    assert_counters_match(event)


@pytest.mark.parametrize("status", [Event.Status.DRAFT, Event.Status.CANCELLED])
def test_unpublished_event_is_not_open(status):
    event = EventFactory(status=status)
    with pytest.raises(RegistrationError) as caught:
        register(event)
    assert caught.value.code == "not_open"
    assert not Registration.objects.exists()


NOW = datetime.datetime(2030, 5, 1, 12, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("opens", "closes", "starts", "now", "expected"),
    [
        (NOW - HOUR, NOW + HOUR, NOW + 2 * HOUR, NOW, None),
        (NOW, NOW + HOUR, NOW + 2 * HOUR, NOW, None),  # opens at this instant
        (None, None, NOW + HOUR, NOW, None),  # no window: until the start
        (NOW + HOUR, NOW + 2 * HOUR, NOW + 3 * HOUR, NOW, "not_yet_open"),  # not yet open
        (NOW - 2 * HOUR, NOW, NOW + HOUR, NOW, "closed"),  # closes at this instant
        (NOW - 2 * HOUR, NOW - HOUR, NOW + HOUR, NOW, "closed"),  # closed
        (None, None, NOW, NOW, "closed"),  # the event has started
        (None, NOW + HOUR, NOW - HOUR, NOW - HOUR / 2, "closed"),  # started, window open
    ],
)
def test_registration_window(opens, closes, starts, now, expected):
    event = EventFactory(
        registration_opens_at=opens,
        registration_closes_at=closes,
        starts_at=starts,
        ends_at=starts + 5 * HOUR,
        cancellation_deadline=None,
    )
    if expected is None:
        assert register(event, now=now).created
    else:
        with pytest.raises(RegistrationError) as caught:
            register(event, now=now)
        assert caught.value.code == expected
        assert not Registration.objects.exists()


@pytest.mark.parametrize("status_before", ["confirmed", "waitlisted"])
def test_registering_twice_returns_the_existing_registration(status_before):
    event = EventFactory(capacity=0 if status_before == "waitlisted" else 5)
    user = UserFactory()
    first = register(event, user)
    second = register(event, user)
    assert second.created is False
    assert second.registration.pk == first.registration.pk
    assert second.registration.status == status_before
    assert Registration.objects.count() == 1
    assert OutgoingEmail.objects.count() == 1
    assert_counters_match(event)


def test_registering_twice_is_answered_even_when_it_no_longer_needs_billing():
    event = EventFactory()
    user = UserFactory()
    first = register(event, user)
    again = register(event, user, details=RegistrationDetails())
    assert again.created is False
    assert again.registration == first.registration


def test_re_registering_after_cancelling_makes_a_new_registration():
    event = EventFactory()
    user = UserFactory()
    first = register(event, user).registration
    cancel_registration(registration_id=first.pk)
    second = register(event, user)
    assert second.created is True
    assert second.registration.pk != first.pk
    assert kinds(second.registration) == ["events.confirmation"]
    assert Registration.objects.active().count() == 1
    assert_counters_match(event)


def test_a_duplicate_is_stopped_by_the_constraint_and_becomes_the_existing_registration(
    monkeypatch,
):
    """No look-up precedes the insert: the unique constraint stops the second registration
    (made earlier or concurrently), its transaction is rolled back, and the caller gets the
    first one, not an error, with nothing counted or queued twice."""
    event = EventFactory()
    user = UserFactory()
    winner = register(event, user).registration
    real_lookup = services._active_registration
    calls = []

    def recorded(**kwargs):
        calls.append(kwargs)
        return real_lookup(**kwargs)

    monkeypatch.setattr(services, "_active_registration", recorded)
    outcome = register(event, user)
    assert len(calls) == 1  # only after the constraint refused the insert
    assert outcome.created is False
    assert outcome.registration.pk == winner.pk
    assert Registration.objects.count() == 1
    assert OutgoingEmail.objects.count() == 1
    assert_counters_match(event)


def test_someone_already_registered_hears_so_rather_than_full():
    event = EventFactory(capacity=1, has_waiting_list=False)
    user = UserFactory()
    first = register(event, user).registration
    again = register(event, user)
    assert again.created is False
    assert again.registration == first
    with pytest.raises(RegistrationError) as refused:
        register(event, UserFactory())
    assert refused.value.code == "full"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"registration_closes_at": NOW - HOUR}, "closed"),
        ({"status": Event.Status.CANCELLED}, "not_open"),
        ({"status": Event.Status.DRAFT}, "not_open"),
    ],
    ids=["window closed", "event cancelled", "back to draft"],
)
def test_someone_already_registered_hears_so_rather_than_a_refusal(change, refusal):
    """Sending the form again after registration closed shows the registration one has."""
    event = EventFactory(registration_opens_at=NOW - 48 * HOUR, starts_at=NOW + 48 * HOUR)
    user = UserFactory()
    first = register(event, user, now=NOW - 2 * HOUR).registration
    Event.objects.filter(pk=event.pk).update(**change)

    again = register(event, user, now=NOW)
    assert (again.created, again.registration) == (False, first)
    with pytest.raises(RegistrationError) as refused:
        register(event, UserFactory(), now=NOW)
    assert refused.value.code == refusal


def test_registration_by_another_account_with_a_guest_address_returns_the_guest_row():
    event = EventFactory()
    guest = register_guest(
        event_id=event.pk,
        first_name="Gus",
        last_name="Guest",
        email="Gus@Example.org",
        details=BILLING,
        registered_by=UserFactory(is_staff=True),
    ).registration
    outcome = register(event, UserFactory(email="gus@example.org"))
    assert outcome.created is False
    assert outcome.registration.pk == guest.pk


# --- Guests -------------------------------------------------------------------------------------


def test_guest_gets_the_rate_of_the_bare_address_and_ignores_the_window():
    member_institution(domain="ku.dk", name="University of Copenhagen")
    event = EventFactory(registration_closes_at=timezone.now() - HOUR)
    staff = UserFactory(is_staff=True)
    outcome = register_guest(
        event_id=event.pk,
        first_name="Sofie",
        last_name="Speaker",
        email=" sofie@ku.dk ",
        details=RegistrationDetails(),
        registered_by=staff,
    )
    registration = outcome.registration
    assert outcome.created is True
    assert registration.user is None
    assert registration.email == "sofie@ku.dk"
    assert registration.category == AdmissionCategory.MEMBER_UNIVERSITY_STAFF
    assert registration.institution_name == "University of Copenhagen"
    assert kinds(registration) == ["events.confirmation"]
    again = register_guest(
        event_id=event.pk,
        first_name="Sofie",
        last_name="Speaker",
        email="SOFIE@ku.dk",
        details=RegistrationDetails(),
        registered_by=staff,
    )
    assert again.created is False
    assert again.registration.pk == registration.pk
    assert_counters_match(event)


def test_guest_respects_the_window_when_asked_and_capacity_always():
    event = EventFactory(registration_closes_at=timezone.now() - HOUR, capacity=0)
    arguments = {
        "event_id": event.pk,
        "first_name": "A",
        "last_name": "B",
        "email": "ab@example.org",
        "details": BILLING,
        "registered_by": UserFactory(is_staff=True),
    }
    with pytest.raises(RegistrationError) as caught:
        register_guest(**arguments, ignore_window=False)
    assert caught.value.code == "closed"
    outcome = register_guest(**arguments)
    assert outcome.registration.status == Registration.Status.WAITLISTED


def test_a_walk_in_entered_after_the_start_takes_a_seat_freed_too_late_to_offer():
    start = timezone.now() - HOUR
    event = EventFactory(
        capacity=1,
        starts_at=start - HOUR,  # registered while it was still to come
        ends_at=start + 5 * HOUR,
        registration_closes_at=None,
        cancellation_deadline=None,
    )
    before_start = start - 2 * HOUR
    first = register(event, now=before_start - HOUR).registration
    waiting = register(event, now=before_start).registration
    assert waiting.status == Registration.Status.WAITLISTED
    cancelled = cancel_registration(
        registration_id=first.pk, enforce_deadline=False, now=timezone.now()
    )
    assert cancelled.promoted == []  # a seat offered during the event is no use to anyone

    walk_in = register_guest(
        event_id=event.pk,
        first_name="Wal",
        last_name="Kin",
        email="walk.in@example.org",
        details=BILLING,
        registered_by=UserFactory(is_staff=True),
    ).registration

    assert walk_in.status == Registration.Status.CONFIRMED
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.WAITLISTED
    assert kinds(waiting) == ["events.waitlisted"]
    assert_counters_match(event)


@pytest.mark.parametrize("email", ["", "   ", "no-at-sign", "@example.org", "someone@"])
def test_guest_needs_a_usable_address(email):
    event = EventFactory()
    with pytest.raises(ValueError):
        register_guest(
            event_id=event.pk,
            first_name="A",
            last_name="B",
            email=email,
            details=BILLING,
            registered_by=UserFactory(is_staff=True),
        )
    assert not Registration.objects.exists()


# --- Cancelling ---------------------------------------------------------------------------------


def test_cancelling_a_confirmed_place_promotes_the_first_on_the_waiting_list():
    event, confirmed, waiting = full_event(capacity=2, waitlisted=3)
    cancellation = cancel_registration(registration_id=confirmed[0].pk)
    cancelled = cancellation.registration
    assert [r.pk for r in cancellation.promoted] == [waiting[0].pk]
    assert cancelled.status == Registration.Status.CANCELLED
    assert cancelled.cancelled_at is not None
    assert kinds(cancelled) == ["events.cancelled", "events.confirmation"]
    statuses = {r.pk: r.status for r in Registration.objects.all()}
    assert statuses[waiting[0].pk] == Registration.Status.CONFIRMED
    assert statuses[waiting[1].pk] == Registration.Status.WAITLISTED
    assert statuses[waiting[2].pk] == Registration.Status.WAITLISTED
    assert kinds(waiting[0]) == ["events.promoted", "events.waitlisted"]
    assert kinds(waiting[1]) == ["events.waitlisted"]
    waiting[0].refresh_from_db()
    assert waiting[0].confirmed_at is not None
    assert_counters_match(event)
    assert (event.confirmed_count, event.waitlisted_count) == (2, 2)


def test_order_of_arrival_is_created_at_then_id():
    event, confirmed, _ = full_event(capacity=1)
    late = register(event).registration
    early = register(event).registration
    Registration.objects.filter(pk=early.pk).update(created_at=late.created_at - HOUR)
    cancel_registration(registration_id=confirmed[0].pk)
    early.refresh_from_db()
    late.refresh_from_db()
    assert early.status == Registration.Status.CONFIRMED
    assert late.status == Registration.Status.WAITLISTED


def test_cancelling_a_waitlisted_place_promotes_nobody():
    event, _, waiting = full_event(capacity=1, waitlisted=2)
    cancel_registration(registration_id=waiting[0].pk)
    waiting[1].refresh_from_db()
    assert waiting[1].status == Registration.Status.WAITLISTED
    assert kinds(waiting[0]) == ["events.cancelled", "events.waitlisted"]
    assert_counters_match(event)
    assert (event.confirmed_count, event.waitlisted_count) == (1, 1)


def test_cancelling_without_a_waiting_list_frees_a_seat():
    event, confirmed, _ = full_event(capacity=2)
    cancel_registration(registration_id=confirmed[1].pk)
    assert_counters_match(event)
    assert event.seats_left == 1
    assert register(event).registration.status == Registration.Status.CONFIRMED


def test_cancelling_twice_is_refused():
    event = EventFactory()
    registration = register(event).registration
    cancel_registration(registration_id=registration.pk)
    with pytest.raises(RegistrationError) as caught:
        cancel_registration(registration_id=registration.pk)
    assert caught.value.code == "already_cancelled"
    assert kinds(registration) == ["events.cancelled", "events.confirmation"]
    assert_counters_match(event)


@pytest.mark.parametrize(
    ("deadline_offset", "now_offset", "enforce", "expected"),
    [
        (-HOUR, -2 * HOUR, True, None),  # before the deadline
        (-HOUR, -HOUR, True, None),  # at the deadline
        (-HOUR, -HOUR / 2, True, "cancellation_closed"),  # after the deadline
        (None, -HOUR, True, None),  # no deadline: until the start
        (None, HOUR, True, "cancellation_closed"),  # no deadline, started
        (-HOUR, HOUR, False, None),  # staff cancel any time
    ],
)
def test_cancellation_deadline(deadline_offset, now_offset, enforce, expected):
    starts = NOW + 24 * HOUR
    event = EventFactory(
        starts_at=starts,
        ends_at=starts + 4 * HOUR,
        registration_opens_at=None,
        registration_closes_at=None,
        cancellation_deadline=starts + deadline_offset if deadline_offset is not None else None,
    )
    registration = register(event, now=NOW).registration
    now = starts + now_offset
    if expected is None:
        cancelled = cancel_registration(
            registration_id=registration.pk, enforce_deadline=enforce, now=now
        ).registration
        assert cancelled.status == Registration.Status.CANCELLED
        assert cancelled.cancelled_at == now
    else:
        with pytest.raises(RegistrationError) as caught:
            cancel_registration(registration_id=registration.pk, enforce_deadline=enforce, now=now)
        assert caught.value.code == expected
        registration.refresh_from_db()
        assert registration.status == Registration.Status.CONFIRMED
    assert_counters_match(event)


def test_no_promotion_after_the_event_has_started():
    event, confirmed, waiting = full_event(capacity=1, waitlisted=1)
    cancel_registration(
        registration_id=confirmed[0].pk,
        enforce_deadline=False,
        now=event.starts_at + HOUR,
    )
    waiting[0].refresh_from_db()
    assert waiting[0].status == Registration.Status.WAITLISTED
    assert_counters_match(event)


# --- Staff: promotion and capacity --------------------------------------------------------------


def test_staff_promote_a_specific_person_when_a_seat_is_free():
    event, _, waiting = full_event(capacity=2, waitlisted=2)
    Event.objects.filter(pk=event.pk).update(capacity=3)
    promoted = promote_from_waiting_list(
        registration_id=waiting[1].pk, promoted_by=UserFactory(is_staff=True)
    )
    assert promoted.status == Registration.Status.CONFIRMED
    assert kinds(promoted) == ["events.promoted", "events.waitlisted"]
    assert_counters_match(event)


def test_staff_cannot_promote_into_a_full_event():
    event, _, waiting = full_event(capacity=2, waitlisted=1)
    with pytest.raises(RegistrationError) as caught:
        promote_from_waiting_list(registration_id=waiting[0].pk)
    assert caught.value.code == "full"
    assert_counters_match(event)


@pytest.mark.parametrize("status", ["confirmed", "cancelled"])
def test_only_waitlisted_people_can_be_promoted(status):
    event = EventFactory()
    registration = register(event).registration
    if status == "cancelled":
        cancel_registration(registration_id=registration.pk)
    with pytest.raises(RegistrationError) as caught:
        promote_from_waiting_list(registration_id=registration.pk)
    assert caught.value.code == "not_waitlisted"


@pytest.mark.parametrize(
    ("new_capacity", "promoted_count"), [(2, 0), (3, 1), (4, 2), (5, 3), (50, 3), (None, 3)]
)
def test_raising_capacity_promotes_as_many_as_fit_in_order(new_capacity, promoted_count):
    event, _, waiting = full_event(capacity=2, waitlisted=3)
    promoted = change_capacity(event_id=event.pk, capacity=new_capacity)
    assert [r.pk for r in promoted] == [r.pk for r in waiting[:promoted_count]]
    for registration in waiting[:promoted_count]:
        assert kinds(registration) == ["events.promoted", "events.waitlisted"]
    for registration in waiting[promoted_count:]:
        registration.refresh_from_db()
        assert registration.status == Registration.Status.WAITLISTED
    assert_counters_match(event)
    assert event.capacity == new_capacity
    assert event.confirmed_count == 2 + promoted_count


def test_capacity_cannot_go_below_the_confirmed_count():
    event, _, _ = full_event(capacity=3)
    with pytest.raises(CapacityBelowConfirmed) as caught:
        change_capacity(event_id=event.pk, capacity=2)
    assert caught.value.code == "capacity_below_confirmed"
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, RegistrationError)
    with pytest.raises(ValueError, match="negative"):
        change_capacity(event_id=event.pk, capacity=-1)
    event.refresh_from_db()
    assert event.capacity == 3


def test_lowering_capacity_to_the_confirmed_count_is_allowed():
    event, _, _ = full_event(capacity=2)
    Event.objects.filter(pk=event.pk).update(capacity=10)
    assert change_capacity(event_id=event.pk, capacity=2) == []
    event.refresh_from_db()
    assert event.capacity == 2


# --- Check-in and price override ----------------------------------------------------------------


def test_check_in_twice_keeps_the_first_time():
    event = EventFactory()
    registration = register(event).registration
    door = UserFactory(is_staff=True)
    first_time = timezone.now()
    checked, newly = check_in(registration_id=registration.pk, checked_in_by=door, now=first_time)
    assert newly is True
    assert checked.checked_in_at == first_time
    assert checked.checked_in_by == door
    again, newly = check_in(
        registration_id=registration.pk,
        checked_in_by=UserFactory(is_staff=True),
        now=first_time + HOUR,
    )
    assert newly is False
    again.refresh_from_db()
    assert again.checked_in_at == first_time
    assert again.checked_in_by == door


@pytest.mark.parametrize("status", ["waitlisted", "cancelled"])
def test_only_confirmed_registrations_check_in(status):
    event = EventFactory(capacity=0)
    registration = register(event).registration
    if status == "cancelled":
        cancel_registration(registration_id=registration.pk)
    with pytest.raises(RegistrationError) as caught:
        check_in(registration_id=registration.pk, checked_in_by=UserFactory())
    assert caught.value.code == "not_confirmed"
    registration.refresh_from_db()
    assert registration.checked_in_at is None


def test_override_price_records_who_when_and_why():
    event = EventFactory()
    registration = register(event).registration
    original_reason = registration.price_reason
    staff = UserFactory(is_staff=True)
    changed = override_price(
        registration_id=registration.pk,
        category=AdmissionCategory.MEMBER_UNIVERSITY_STAFF,
        price=Decimal("0"),
        reason="Keynote speaker",
        overridden_by=staff,
    )
    changed.refresh_from_db()
    assert changed.category == AdmissionCategory.MEMBER_UNIVERSITY_STAFF
    assert changed.price == 0
    assert changed.price_override_reason == "Keynote speaker"
    assert changed.price_overridden_by == staff
    assert changed.price_overridden_at is not None
    assert changed.price_reason == original_reason


@pytest.mark.parametrize(
    ("category", "price", "reason"),
    [
        ("member", Decimal("10"), ""),
        ("member", Decimal("10"), "   "),
        ("member", Decimal("-1"), "Discount"),
        ("vip", Decimal("10"), "Discount"),
    ],
)
def test_override_price_refuses_bad_input(category, price, reason):
    registration = register(EventFactory()).registration
    with pytest.raises(ValueError):
        override_price(
            registration_id=registration.pk,
            category=category,
            price=price,
            reason=reason,
            overridden_by=UserFactory(is_staff=True),
        )
    registration.refresh_from_db()
    assert registration.price_overridden_at is None
    assert registration.price == Decimal("1200.00")


# --- GDPR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ended_days_ago", "lasted", "dietary", "accessibility", "erased"),
    [
        (31, HOUR, "Halal", "Hearing loop", True),
        (31, HOUR, "", "Hearing loop", True),
        (31, HOUR, "Halal", "", True),
        (31, HOUR, "", "", False),  # nothing to erase
        (29, HOUR, "Halal", "Hearing loop", False),  # not long enough ago
        (-5, HOUR, "Halal", "Hearing loop", False),  # still to come
        # Counted from the end: a congress of five days that began 33 days ago ended 28.
        (28, 5 * 24 * HOUR, "Halal", "Hearing loop", False),
        (30, HOUR, "Halal", "Hearing loop", False),  # ended exactly 30 days ago: not yet
        (30 + 1 / 86400, HOUR, "Halal", "Hearing loop", True),  # a second more
    ],
)
def test_erase_special_category_data(ended_days_ago, lasted, dietary, accessibility, erased):
    now = timezone.now()
    ends = now - datetime.timedelta(days=ended_days_ago)
    event = EventFactory(
        starts_at=ends - lasted,
        ends_at=ends,
        registration_opens_at=None,
        registration_closes_at=None,
        cancellation_deadline=None,
    )
    registration = RegistrationFactory(
        event=event, dietary_needs=dietary, accessibility_needs=accessibility
    )
    assert erase_special_category_data(older_than_days=30, now=now) == int(erased)
    registration.refresh_from_db()
    if erased:
        assert registration.dietary_needs == ""
        assert registration.accessibility_needs == ""
        assert registration.special_needs_erased_at == now
    else:
        assert registration.dietary_needs == dietary
        assert registration.accessibility_needs == accessibility
        assert registration.special_needs_erased_at is None
    assert erase_special_category_data(older_than_days=30, now=now) == 0


def test_needs_written_in_again_after_an_erasure_are_erased_again():
    now = timezone.now()
    event = EventFactory(
        starts_at=now - 40 * DAY,
        ends_at=now - 40 * DAY + HOUR,
        registration_opens_at=None,
        registration_closes_at=None,
        cancellation_deadline=None,
    )
    registration = RegistrationFactory(event=event, dietary_needs="Halal")
    assert erase_special_category_data(older_than_days=30, now=now - DAY) == 1
    Registration.objects.filter(pk=registration.pk).update(accessibility_needs="Wheelchair")

    assert erase_special_category_data(older_than_days=30, now=now) == 1

    registration.refresh_from_db()
    assert registration.accessibility_needs == ""
    assert registration.special_needs_erased_at == now


# --- Query budget -------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [5, 200])
def test_register_runs_a_fixed_number_of_queries(existing, django_assert_num_queries):
    """Whatever the number of registrations and institutions, registering costs the same."""
    lund = member_institution(domain="lu.se")
    for number in range(existing):
        InstitutionDomainFactory(institution=lund, domain=f"dept{number}.lu.se")
    event = EventFactory(capacity=existing + 10)
    for _ in range(existing):
        RegistrationFactory(event=event)
    Event.objects.filter(pk=event.pk).update(confirmed_count=existing)
    user = UserFactory(email="newcomer@dept3.lu.se")
    ContentType.objects.get_for_model(Registration)  # cached per process in real use
    with django_assert_num_queries(QUERIES_PER_REGISTRATION):
        outcome = register(event, user)
    assert outcome.registration.category == AdmissionCategory.MEMBER_UNIVERSITY_STAFF


# Affiliations 3 (addresses, domains, memberships); savepoint; lock; insert (no look-up for an
# existing registration: the unique constraints catch one); counter; outbox (one INSERT … ON
# CONFLICT DO NOTHING); release.
QUERIES_PER_REGISTRATION = 9


_HOUR = datetime.timedelta(hours=1)


@pytest.mark.parametrize(
    ("changes", "moment", "expected"),
    [
        ({}, "now", "open"),
        ({"status": Event.Status.DRAFT}, "now", "draft"),
        ({"status": Event.Status.CANCELLED}, "now", "cancelled"),
        ({"capacity": 0}, "now", "waiting_list"),
        ({"capacity": 0, "has_waiting_list": False}, "now", "full"),
        ({"capacity": None}, "now", "open"),
        ({}, "opens", "open"),
        ({}, "just before opening", "not_yet_open"),
        ({}, "closes", "closed"),
        ({"registration_closes_at": None}, "starts", "closed"),
        ({}, "ends", "over"),
    ],
)
def test_registration_state_table(db, changes, moment, expected):
    event = EventFactory(**changes)
    now = {
        "now": timezone.now(),
        "opens": event.registration_opens_at,
        "just before opening": event.registration_opens_at - datetime.timedelta(seconds=1),
        "closes": event.registration_closes_at,
        "starts": event.starts_at,
        "ends": event.ends_at,
    }[moment]
    assert services.registration_state(event=event, now=now) == expected


@pytest.mark.parametrize(
    ("deadline_offset", "moment_offset", "status", "expected"),
    [
        (-_HOUR, -2 * _HOUR, Registration.Status.CONFIRMED, True),
        (-_HOUR, -_HOUR, Registration.Status.CONFIRMED, True),  # on the deadline itself
        (-_HOUR, -_HOUR + datetime.timedelta(seconds=1), Registration.Status.CONFIRMED, False),
        (None, -datetime.timedelta(seconds=1), Registration.Status.WAITLISTED, True),
        (None, datetime.timedelta(seconds=1), Registration.Status.CONFIRMED, False),
        (-_HOUR, -2 * _HOUR, Registration.Status.CANCELLED, False),
    ],
)
def test_can_cancel_table(db, deadline_offset, moment_offset, status, expected):
    """Offsets are relative to the event's start; without a deadline the start is the limit."""
    event = EventFactory()
    event.cancellation_deadline = event.starts_at + deadline_offset if deadline_offset else None
    registration = RegistrationFactory(event=event, status=status)
    now = event.starts_at + moment_offset
    assert services.can_cancel(registration=registration, now=now) is expected


@pytest.mark.parametrize(
    ("language", "expected_reason"),
    [
        ("en", "Standard price: none of your verified addresses belongs to a member."),
        ("sv", "Ordinarie pris: ingen av dina verifierade adresser tillhör en medlem."),
    ],
)
def test_the_price_reason_is_written_in_the_registrants_language(language, expected_reason):
    """Staff working in English enter a Swedish-speaking guest: the stored reason is Swedish."""
    event = EventFactory()
    with translation.override("en"):
        outcome = register_guest(
            event_id=event.pk,
            first_name="Sven",
            last_name="Svensson",
            email="sven@example.org",
            details=dataclasses.replace(BILLING, language=language),
            registered_by=UserFactory(is_staff=True),
        )
    assert outcome.registration.price_reason == expected_reason
