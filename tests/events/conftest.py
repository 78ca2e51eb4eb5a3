"""Fixtures and helpers of the back-office tests."""

import pytest
from django.contrib.messages import get_messages

from tests.factories import event_staff_user


@pytest.fixture
def staff(client):
    """A member of the "Event staff" group, signed in."""
    user = event_staff_user(first_name="Sara", last_name="Staff")
    client.force_login(user)
    return user


def message_texts(response) -> list[str]:
    """The messages (Django's messages framework) the response carries, as text."""
    return [str(message) for message in get_messages(response.wsgi_request)]
