"""The "Event staff" group: exactly what staff need to run events, and no user management."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from events import services
from events.models import Registration
from tests.factories import (
    EventFactory,
    RegistrationFactory,
    UserFactory,
    event_staff_user,
)

pytestmark = pytest.mark.django_db

EXPECTED_PERMISSIONS = {
    "events.view_event",
    "events.add_event",
    "events.change_event",
    "events.view_programmeitem",
    "events.add_programmeitem",
    "events.change_programmeitem",
    "events.delete_programmeitem",
    "events.view_registration",
    "events.add_registration",
    "events.change_registration",
    "events.view_special_needs",  # check-in at the door shows them
    "members.view_institution",
    "members.view_institutiondomain",
    "members.view_membership",
    "members.view_network",
    "outbox.view_outgoingemail",
}


def test_the_data_migrations_make_the_group_with_exactly_the_permissions_staff_need():
    # Run it for real (a test database reused after transactional tests may have lost the
    # group: their flush empties every table).
    executor = MigrationExecutor(connection)
    executor.migrate([("events", "0002_initial")])
    assert not Group.objects.filter(name="Event staff").exists()
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    group = Group.objects.get(name="Event staff")
    granted = {
        f"{permission.content_type.app_label}.{permission.codename}"
        for permission in group.permissions.select_related("content_type")
    }
    assert granted == EXPECTED_PERMISSIONS


@pytest.mark.parametrize(
    "permission",
    [
        "members.add_user",
        "members.change_user",
        "members.delete_user",
        "members.view_user",
        "auth.add_group",
        "auth.change_group",
        "auth.view_group",
        "auth.change_permission",
        "events.delete_registration",
        "events.delete_event",
        "outbox.change_outgoingemail",
    ],
)
def test_a_member_cannot_manage_users_groups_or_delete(permission):
    assert not event_staff_user().has_perm(permission)


@pytest.fixture
def staff_client(client):
    client.force_login(event_staff_user())
    return client


def test_a_member_can_do_their_work(staff_client):
    event = EventFactory()
    registration = RegistrationFactory(event=event)
    pages = [
        reverse("admin:index"),
        reverse("admin:events_registration_changelist"),
        reverse("admin:events_registration_change", args=[registration.pk]),
        reverse("admin:events_registration_add"),
        reverse("admin:events_event_changelist"),
        reverse("admin:events_event_add"),
        reverse("admin:events_event_change", args=[event.pk]),
        reverse("admin:events_event_message", args=[event.pk]),
        reverse("admin:events_event_report", args=[event.pk]),
        reverse("admin:outbox_outgoingemail_changelist"),
        reverse("events:check_in", kwargs={"ticket_code": registration.ticket_code}),
    ]
    for page in pages:
        assert staff_client.get(page).status_code == 200, page
    response = staff_client.post(
        reverse("admin:events_registration_changelist"),
        # Next month's event: "confirmed" answers the question asked first.
        {"action": "check_in_selected", "_selected_action": [registration.pk], "confirmed": "yes"},
    )
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.checked_in_at is not None


def test_a_member_cannot_edit_users_or_groups(staff_client):
    user = UserFactory()
    group = Group.objects.get(name="Event staff")
    forbidden = [
        reverse("admin:members_user_changelist"),
        reverse("admin:members_user_add"),
        reverse("admin:members_user_change", args=[user.pk]),
        reverse("admin:auth_group_changelist"),
        reverse("admin:auth_group_add"),
        reverse("admin:auth_group_change", args=[group.pk]),
    ]
    for page in forbidden:
        assert staff_client.get(page).status_code == 403, page
    response = staff_client.post(
        reverse("admin:members_user_change", args=[user.pk]),
        {"email": user.email, "is_staff": "on", "is_superuser": "on"},
    )
    assert response.status_code == 403
    response = staff_client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": group.name, "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 403
    user.refresh_from_db()
    assert not user.is_superuser
    assert group.permissions.count() == len(EXPECTED_PERMISSIONS)
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:members_user_changelist") not in index
    assert reverse("admin:auth_group_changelist") not in index


def test_a_member_cannot_delete_events(staff_client):
    event = EventFactory()
    assert (
        staff_client.get(reverse("admin:events_event_delete", args=[event.pk])).status_code == 403
    )


def test_staff_status_alone_opens_nothing(client):
    client.force_login(UserFactory(is_staff=True))
    for page in [
        reverse("admin:events_registration_changelist"),
        reverse("admin:events_event_changelist"),
    ]:
        assert client.get(page).status_code == 403


def test_read_only_staff_see_registrations_but_cannot_act(client):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_registration"))
    client.force_login(viewer)
    registration = RegistrationFactory()
    response = client.get(reverse("admin:events_registration_changelist"))
    assert response.status_code == 200
    actions = {name for name, _label in response.context["action_form"].fields["action"].choices}
    assert actions == {"", "export_admin_action"}
    client.post(
        reverse("admin:events_registration_changelist"),
        # Next month's event: "confirmed" answers the question asked first.
        {"action": "check_in_selected", "_selected_action": [registration.pk], "confirmed": "yes"},
    )
    registration.refresh_from_db()
    assert registration.checked_in_at is None
    assert client.get(reverse("admin:events_registration_add")).status_code == 403
    assert registration.status == Registration.Status.CONFIRMED


def test_anonymous_visitors_are_sent_to_the_rate_limited_sign_in(client):
    response = client.get(reverse("admin:events_registration_changelist"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))


def test_the_registration_page_names_the_account_without_a_link_staff_cannot_follow(
    staff_client,
):
    registration = RegistrationFactory()
    guest = RegistrationFactory(user=None, email="guest@example.org")

    page = staff_client.get(reverse("admin:events_registration_change", args=[registration.pk]))
    guest_page = staff_client.get(reverse("admin:events_registration_change", args=[guest.pk]))

    content = page.content.decode()
    assert registration.user.email in content
    assert reverse("admin:members_user_change", args=[registration.user.pk]) not in content
    assert registration.get_absolute_url() + '"' not in content  # no "view on site"
    assert "none (entered as a guest)" in guest_page.content.decode()


def test_who_overrode_the_price_and_checked_in_is_named_without_a_link(staff_client):
    """Event staff may not open users: the admin's links to them were a 403."""
    colleague = event_staff_user(first_name="Karin", last_name="Kollega", email="karin@mva.example")
    nameless = event_staff_user(first_name="", last_name="", email="door@mva.example")
    registration = RegistrationFactory()
    services.override_price(
        registration_id=registration.pk,
        category=registration.category,
        price=0,
        reason="Invited speaker",
        overridden_by=colleague,
    )
    services.check_in(registration_id=registration.pk, checked_in_by=nameless)

    page = staff_client.get(reverse("admin:events_registration_change", args=[registration.pk]))

    content = page.content.decode()
    for user in (colleague, nameless):
        assert reverse("admin:members_user_change", args=[user.pk]) not in content
    assert re.search(r'<div class="readonly">Karin Kollega</div>', content), (
        "the overriding colleague's name, as text"
    )
    assert re.search(r'<div class="readonly">door@mva.example</div>', content)
    # Nobody yet: the admin's empty value.
    other = staff_client.get(
        reverse("admin:events_registration_change", args=[RegistrationFactory().pk])
    ).content.decode()
    assert other.count('<div class="readonly">-</div>') >= 2


def test_the_admin_header_leads_to_two_factor_and_allauth_s_password_page(staff_client):
    index = staff_client.get(reverse("admin:index")).content.decode()

    assert f'href="{reverse("mfa_index")}"' in index
    assert f'href="{reverse("account_change_password")}"' in index
    assert f'href="{reverse("admin:password_change")}"' not in index
    response = staff_client.get(reverse("admin:password_change"))
    assert response.status_code == 302
    assert response.url == reverse("account_change_password")
