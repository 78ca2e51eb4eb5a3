"""events.demo: the demo events, and that loading them twice changes nothing."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from events import demo
from events.models import Event, ProgrammeItem, Registration
from members.demo import load_members_demo
from members.models import Network
from outbox.models import OutgoingEmail

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        "events": Event.objects.count(),
        "programme items": ProgrammeItem.objects.count(),
        "registrations": Registration.objects.count(),
        "confirmed": Registration.objects.confirmed().count(),
        "waitlisted": Registration.objects.waitlisted().count(),
        "emails": OutgoingEmail.objects.count(),
        "counters": sorted(
            Event.objects.values_list("slug", "confirmed_count", "waitlisted_count")
        ),
    }


def test_loading_twice_gives_the_same_data():
    load_members_demo()
    demo.load_events_demo()
    first = snapshot()
    demo.load_events_demo()
    assert snapshot() == first
    assert first["events"] == 3 + len(demo.NETWORK_MEETINGS)
    assert first["registrations"] == len(demo.DEMO_ATTENDEES)


def test_the_demo_events():
    load_members_demo()
    demo.load_events_demo()
    now = timezone.now()

    annual = Event.objects.get(slug=demo.ANNUAL_MEETING_SLUG)
    assert annual.status == Event.Status.PUBLISHED
    assert 100 <= annual.capacity < 1000
    assert annual.member_university_staff_free
    assert annual.currency == "DKK"
    assert 0 < annual.member_price < annual.standard_price
    assert annual.starts_at > now
    titles = list(annual.programme.values_list("title", flat=True))
    assert 7 <= len(titles) <= 10
    programme = " ".join(titles + list(annual.programme.values_list("speakers", flat=True)))
    for expected in ("Welcome", "CEO", "Ministers", "Investors", "pitches", "Networking"):
        assert expected in programme

    for meeting in demo.NETWORK_MEETINGS:
        event = Event.objects.get(slug=meeting.slug)
        assert event.network.slug == meeting.network_slug
        assert event.starts_at > now
        assert event.programme.exists()
    assert Network.objects.filter(events__isnull=False).distinct().count() == len(
        demo.NETWORK_MEETINGS
    )

    past = Event.objects.get(slug=demo.PAST_EVENT_SLUG)
    assert past.ends_at < now
    assert past in Event.objects.past()

    full = Event.objects.get(slug=demo.FULL_EVENT_SLUG)
    assert full.is_full
    assert full.has_waiting_list
    registrations = Registration.objects.filter(event=full)
    assert full.confirmed_count == registrations.confirmed().count() == full.capacity
    assert full.waitlisted_count == registrations.waitlisted().count() > 0
    # Prices were decided by the rule from the attendees' addresses.
    categories = set(registrations.values_list("category", flat=True))
    assert categories == {"member_university_staff", "member", "non_member"}
    lund = registrations.get(email="astrid.holm@med.lu.se")
    assert lund.price == 0
    assert "Lund University" in lund.price_reason


def test_network_meetings_are_skipped_without_their_networks():
    summary = demo.load_events_demo()
    assert Event.objects.count() == 3
    assert "0 network meetings" in summary
    assert Event.objects.get(slug=demo.PAST_EVENT_SLUG).network is None


def test_dates_follow_the_day_it_runs():
    load_members_demo()
    today = timezone.localdate()
    demo.load_events_demo(today=today + datetime.timedelta(days=10))
    annual = Event.objects.get(slug=demo.ANNUAL_MEETING_SLUG)
    assert timezone.localdate(annual.starts_at) == today + datetime.timedelta(days=52)
    assert timezone.localtime(annual.starts_at).hour == 8


def test_the_command_loads_members_and_events_and_can_run_again():
    output = StringIO()
    call_command("load_demo_data", stdout=output)
    first = snapshot()
    call_command("load_demo_data", stdout=StringIO())
    assert snapshot() == first
    assert "Events:" in output.getvalue()
    assert first["events"] == 3 + len(demo.NETWORK_MEETINGS)
