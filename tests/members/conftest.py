"""Fixtures of the members tests."""

import pytest


@pytest.fixture
def staff_client(client, staff_user):
    """The test client, signed in as a superuser staff member."""
    client.force_login(staff_user)
    return client
