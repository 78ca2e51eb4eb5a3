"""Dietary and accessibility needs (GDPR Art. 9) are shown only to staff with the permission
for them: in the admin's registration page and export, and at check-in."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import RegistrationFactory, UserFactory, event_staff_user

pytestmark = pytest.mark.django_db

NEEDS = ("Kosher meals", "Hearing loop")


@pytest.fixture
def registration():
    return RegistrationFactory(dietary_needs=NEEDS[0], accessibility_needs=NEEDS[1])


def staff_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


VIEWERS = [
    (lambda: staff_with("view_registration", "change_registration"), False),
    (lambda: staff_with("view_registration", "change_registration", "view_special_needs"), True),
    (event_staff_user, True),  # the group: check-in at the door needs them
]
IDS = ["without-the-permission", "with-it", "event-staff"]


@pytest.mark.parametrize(("make_user", "sees"), VIEWERS, ids=IDS)
def test_the_registration_page_in_the_admin(client, registration, make_user, sees):
    client.force_login(make_user())
    page = client.get(reverse("admin:events_registration_change", args=[registration.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert all(need in content for need in NEEDS) is sees
    assert ('name="dietary_needs"' in content) is sees


@pytest.mark.parametrize(("make_user", "sees"), VIEWERS[:2], ids=IDS[:2])
def test_saving_without_the_permission_keeps_the_needs(client, registration, make_user, sees):
    from tests.factories import admin_form_data

    client.force_login(make_user())
    url = reverse("admin:events_registration_change", args=[registration.pk])
    data = admin_form_data(client.get(url))
    data["job_title"] = "Professor"

    assert client.post(url, data).status_code == 302
    registration.refresh_from_db()
    assert (registration.dietary_needs, registration.accessibility_needs) == NEEDS


@pytest.mark.parametrize(("make_user", "sees"), VIEWERS, ids=IDS)
def test_the_export(client, registration, make_user, sees):
    client.force_login(make_user())
    url = reverse("admin:events_registration_export")
    form = client.get(url).context["form"]
    data = {"format": "0", "resource": "0"}
    data |= {name: "on" for name in form.fields if name.startswith("registrationresource")}

    response = client.post(url, data)

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert ("Dietary needs" in rows[0]) is sees
    assert any(NEEDS[0] in row for row in rows[1:]) is sees
    assert any(registration.email in row for row in rows[1:])


@pytest.mark.parametrize(("make_user", "sees"), VIEWERS, ids=IDS)
def test_the_check_in_page(client, registration, make_user, sees):
    client.force_login(make_user())
    page = client.get(reverse("events:check_in", args=[registration.ticket_code]))
    assert page.status_code == 200
    assert all(need in page.content.decode() for need in NEEDS) is sees
