"""What must never happen to events and registrations is refused by the database itself,
whatever code writes the row."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from events.models import Event, Registration
from tests.factories import EventFactory, RegistrationFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def refused(model, pk, **fields) -> bool:
    try:
        with transaction.atomic():
            model.objects.filter(pk=pk).update(**fields)
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize(
    ("fields", "is_refused"),
    [
        ({"member_price": Decimal("1300.00"), "standard_price": Decimal("1200.00")}, True),
        ({"member_price": Decimal("1200.00"), "standard_price": Decimal("1200.00")}, False),
        ({"registration_opens_at": "starts_at"}, True),  # opening as it starts: nobody could
        ({"registration_opens_at": "after"}, True),
        ({"registration_opens_at": None}, False),
        ({"currency": "USD"}, True),
        ({"currency": "SEK"}, False),
    ],
)
def test_event_rows(fields, is_refused):
    event = EventFactory(registration_closes_at=None, cancellation_deadline=None)
    if fields.get("registration_opens_at") == "starts_at":
        fields["registration_opens_at"] = event.starts_at
    elif fields.get("registration_opens_at") == "after":
        fields["registration_opens_at"] = event.starts_at + datetime.timedelta(hours=1)
    assert refused(Event, event.pk, **fields) is is_refused


@pytest.mark.parametrize(
    ("fields", "is_refused"),
    [
        ({"status": "confirmed", "confirmed_at": None}, True),
        ({"status": "waitlisted", "confirmed_at": None}, False),
        ({"status": "cancelled", "cancelled_at": None}, True),
        ({"status": "cancelled", "cancelled_at": NOW}, False),
        ({"checked_in_at": None, "checked_in_by": "staff"}, True),
        ({"checked_in_at": NOW, "checked_in_by": "staff"}, False),
        ({"checked_in_at": NOW, "checked_in_by": None}, False),  # who may be gone since
        ({"price_overridden_at": NOW, "price_override_reason": ""}, True),
        ({"price_overridden_at": None, "price_overridden_by": "staff"}, True),
        ({"price_overridden_at": NOW, "price_override_reason": "Speaker"}, False),
        (
            {"price_overridden_at": NOW, "price_overridden_by": None, "price_override_reason": "x"},
            False,
        ),
        ({"currency": "USD"}, True),
    ],
)
def test_registration_rows(fields, is_refused):
    registration = RegistrationFactory()
    staff = UserFactory(is_staff=True)
    fields = {key: staff if value == "staff" else value for key, value in fields.items()}
    assert refused(Registration, registration.pk, **fields) is is_refused
