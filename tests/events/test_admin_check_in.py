"""Checking in from the registrations list: undoing a mistaken check-in, and the question
asked before checking in people for an event that does not take place today."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import Registration
from tests.events.conftest import message_texts
from tests.factories import EventFactory, RegistrationFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_registration_changelist")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def run_action(client, action, registrations, **extra):
    return client.post(
        CHANGELIST,
        {
            "action": action,
            "_selected_action": [registration.pk for registration in registrations],
            **extra,
        },
        follow=True,
    )


def event_today(**fields):
    now = timezone.now()
    return EventFactory(starts_at=now - datetime.timedelta(minutes=30), **fields)


def event_next_month(**fields):
    return EventFactory(starts_at=timezone.now() + datetime.timedelta(days=30), **fields)


# --- The service ----------------------------------------------------------------------------------


def test_undoing_a_check_in_clears_who_and_when(staff):
    registration = RegistrationFactory()
    services.check_in(registration_id=registration.pk, checked_in_by=staff)

    undone, newly = services.undo_check_in(registration_id=registration.pk, undone_by=staff)

    assert newly is True
    registration.refresh_from_db()
    assert (registration.checked_in_at, registration.checked_in_by) == (None, None)
    assert undone.checked_in_at is None
    assert registration.status == Registration.Status.CONFIRMED


def test_undoing_twice_changes_nothing_the_second_time(staff):
    registration = RegistrationFactory()
    services.check_in(registration_id=registration.pk, checked_in_by=staff)
    services.undo_check_in(registration_id=registration.pk, undone_by=staff)

    again, newly = services.undo_check_in(registration_id=registration.pk, undone_by=staff)

    assert newly is False
    assert again.checked_in_at is None


def test_a_person_can_be_checked_in_again_after_an_undo(staff):
    registration = RegistrationFactory()
    first = timezone.now() - datetime.timedelta(hours=1)
    services.check_in(registration_id=registration.pk, checked_in_by=staff, now=first)
    services.undo_check_in(registration_id=registration.pk, undone_by=staff)

    _registration, newly = services.check_in(registration_id=registration.pk, checked_in_by=staff)

    assert newly is True
    registration.refresh_from_db()
    assert registration.checked_in_at > first


def test_an_undo_is_logged_with_who_did_it(staff, caplog):
    registration = RegistrationFactory()
    services.check_in(registration_id=registration.pk, checked_in_by=staff)
    with caplog.at_level("INFO", logger="events.services"):
        services.undo_check_in(registration_id=registration.pk, undone_by=staff)
    [record] = [r for r in caplog.records if "undone" in r.getMessage()]
    assert f"registration {registration.pk}" in record.getMessage()
    assert record.getMessage().endswith(f"undone by user {staff.pk}")


def test_an_undo_reads_the_registration_under_its_row_lock(staff):
    """A check-in and its undo at the same moment end in one order or the other: the undo
    reads the row it decides on under the row's lock."""
    registration = RegistrationFactory()
    services.check_in(registration_id=registration.pk, checked_in_by=staff)
    with CaptureQueriesContext(connection) as captured:
        services.undo_check_in(registration_id=registration.pk, undone_by=staff)
    [read] = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    assert read.endswith("FOR NO KEY UPDATE")


@pytest.mark.parametrize(
    ("starts", "ends", "day", "expected"),
    [
        # 00:30 in Copenhagen is still the day before in UTC.
        ((2031, 3, 1, 0, 30), (2031, 3, 1, 2, 0), datetime.date(2031, 3, 1), True),
        ((2031, 3, 1, 0, 30), (2031, 3, 1, 2, 0), datetime.date(2031, 2, 28), False),
        # Every day of a conference over several days, and not the day after.
        ((2031, 3, 1, 9, 0), (2031, 3, 3, 17, 0), datetime.date(2031, 3, 2), True),
        ((2031, 3, 1, 9, 0), (2031, 3, 3, 17, 0), datetime.date(2031, 3, 4), False),
    ],
)
def test_an_event_takes_place_on_its_days_in_copenhagen(starts, ends, day, expected):
    event = EventFactory.build(
        starts_at=datetime.datetime(*starts, tzinfo=COPENHAGEN),
        ends_at=datetime.datetime(*ends, tzinfo=COPENHAGEN),
    )
    assert services.takes_place_on(event=event, day=day) is expected


# --- Undo check-in --------------------------------------------------------------------------------


def test_undo_check_in_action_reports_what_it_did(client, staff):
    event = event_today()
    checked_in = [RegistrationFactory(event=event) for _ in range(2)]
    for registration in checked_in:
        services.check_in(registration_id=registration.pk, checked_in_by=staff)
    not_checked_in = RegistrationFactory(event=event)

    response = run_action(client, "undo_check_in_selected", [*checked_in, not_checked_in])

    assert message_texts(response) == [
        "2 check-ins undone.",
        "1 registration was not checked in; nothing to undo.",
    ]
    for registration in checked_in:
        registration.refresh_from_db()
        assert registration.checked_in_at is None
    [entry] = LogEntry.objects.filter(object_id=str(checked_in[0].pk))
    assert (entry.user, entry.change_message) == (staff, "Check-in undone")
    assert not LogEntry.objects.filter(object_id=str(not_checked_in.pk)).exists()


def test_undo_check_in_is_offered_to_staff_who_may_change_registrations_only(client, staff):
    actions = client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert ("undo_check_in_selected", "Undo check-in") in [
        (name, str(label)) for name, label in actions
    ]

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_registration"))
    client.force_login(viewer)
    registration = RegistrationFactory()
    services.check_in(registration_id=registration.pk, checked_in_by=staff)
    client.post(
        CHANGELIST, {"action": "undo_check_in_selected", "_selected_action": [registration.pk]}
    )
    registration.refresh_from_db()
    assert registration.checked_in_at is not None


# --- Checking in for another day asks first -----------------------------------------------------


def test_checking_in_for_today_s_event_asks_nothing(client, staff):
    registration = RegistrationFactory(event=event_today())

    response = run_action(client, "check_in_selected", [registration])

    assert message_texts(response) == ["1 registration checked in."]
    registration.refresh_from_db()
    assert registration.checked_in_by == staff


def test_checking_in_for_another_day_asks_first_and_says_how_many(client, staff):
    today = event_today(title="Network meeting")
    later = event_next_month(title="Annual meeting")
    past = EventFactory(
        title="Last year's meeting",
        starts_at=timezone.now() - datetime.timedelta(days=3),
        ends_at=timezone.now() - datetime.timedelta(days=2),
    )
    registrations = [
        RegistrationFactory(event=today, first_name="Today"),
        RegistrationFactory(event=later, first_name="Later"),
        RegistrationFactory(event=later, first_name="Later2"),
        RegistrationFactory(event=past, first_name="Past"),
        # Not counted: the action would not check them in (they are told so instead).
        RegistrationFactory(event=later, first_name="Waiting", status="waitlisted"),
    ]

    page = run_action(client, "check_in_selected", registrations)

    assert page.status_code == 200
    assert page.redirect_chain == []
    content = page.content.decode()
    assert (
        "3 of these registrations are for events that do not take place today. "
        "Check them in anyway?"
    ) in content
    assert 'value="Yes, check them in"' in content
    assert '<input type="hidden" name="action" value="check_in_selected">' in content
    assert "<script" not in content.split('id="content"')[1]
    for registration in registrations:
        assert f'name="_selected_action" value="{registration.pk}"' in content
    assert not Registration.objects.filter(checked_in_at__isnull=False).exists()

    response = run_action(client, "check_in_selected", registrations, confirmed="yes")

    assert message_texts(response) == [
        "4 registrations checked in.",
        "1 registration is not confirmed and was not checked in.",
    ]
    assert Registration.objects.filter(checked_in_by=staff).count() == 4


def test_the_question_counts_one_registration_in_the_singular(client, staff):
    registration = RegistrationFactory(event=event_next_month())
    page = run_action(client, "check_in_selected", [registration])
    assert (
        "1 of these registrations is for an event that does not take place today."
        in page.content.decode()
    )


def test_no_thanks_checks_nobody_in(client, staff):
    registration = RegistrationFactory(event=event_next_month())
    page = run_action(client, "check_in_selected", [registration])
    assert f'href="{CHANGELIST}" class="button cancel-link">No, take me back</a>' in (
        page.content.decode()
    )
    registration.refresh_from_db()
    assert registration.checked_in_at is None
