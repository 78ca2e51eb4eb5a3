import pytest

from events.models import Registration
from events.services import RegistrationDetails, register_for_event
from tests.factories import EventFactory, UserFactory


@pytest.mark.django_db
def test_smoke_register():
    event = EventFactory(capacity=1, member_price=0, standard_price=0)
    first = register_for_event(event_id=event.pk, user=UserFactory(), details=RegistrationDetails())
    second = register_for_event(
        event_id=event.pk, user=UserFactory(), details=RegistrationDetails()
    )
    assert first.registration.status == Registration.Status.CONFIRMED
    assert second.registration.status == Registration.Status.WAITLISTED
