"""Event staff at work in a real browser: sign in, filter one event's registrations, check an
attendee in, export the list as CSV."""

import csv
import datetime
import io
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from events.models import Registration
from tests.factories import PASSWORD, EventFactory, RegistrationFactory, event_staff_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_event_staff_filter_check_in_and_export(live_server, page):
    # Taking place now: checking in at the door needs no "not today" question.
    now = timezone.now()
    meeting = EventFactory(
        title="Annual meeting",
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(hours=5),
        registration_opens_at=now - datetime.timedelta(days=30),
        registration_closes_at=None,
        cancellation_deadline=None,
    )
    other = EventFactory(title="Cancer network day")
    attendees = {
        name: RegistrationFactory(
            event=meeting,
            user=None,
            first_name=name.split()[0],
            last_name=name.split()[1],
            email=f"{name.split()[0].lower()}@example.org",
            institution_name="Lund University",
            dietary_needs="Vegan" if name.startswith("Astrid") else "",
        )
        for name in ["Astrid Lindqvist", "Bo Berg", "Camilla Holm"]
    }
    RegistrationFactory(
        event=other, user=None, first_name="Dan", last_name="Other", email="dan@example.org"
    )
    staff = event_staff_user(email="sara.staff@mva.org", first_name="Sara", last_name="Staff")

    # The back office sends staff through the site's sign-in, then back.
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=login]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page.locator("#site-name")).to_be_visible()

    # Registrations of one event.
    page.goto(f"{live_server.url}/admin/events/registration/")
    expect(page.locator("#result_list")).to_contain_text("Dan Other")
    page.locator("#changelist-filter").get_by_role("link", name="Annual meeting").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#result_list")).not_to_contain_text("Dan Other")

    # Check Astrid in.
    rows.filter(has_text="Astrid Lindqvist").locator("input.action-select").check()
    page.select_option("select[name=action]", "check_in_selected")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("1 registration checked in.")
    astrid = attendees["Astrid Lindqvist"]
    astrid.refresh_from_db()
    assert astrid.checked_in_at is not None and astrid.checked_in_by == staff
    # Still the one event's list after the action.
    expect(page.locator("#result_list tbody tr")).to_have_count(3)

    # Export the whole (filtered) page as CSV.
    page.locator("#action-toggle").check()
    page.select_option("select[name=action]", "export_admin_action")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("#content")).to_contain_text("Export 3 selected items.")
    page.select_option("select[name=format]", label="csv")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Submit").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))

    assert sorted((row["First name"], row["Last name"]) for row in rows) == [
        ("Astrid", "Lindqvist"),
        ("Bo", "Berg"),
        ("Camilla", "Holm"),
    ]
    by_name = {row["First name"]: row for row in rows}
    assert {row["Event"] for row in rows} == {"Annual meeting"}
    assert by_name["Astrid"]["E-mail address"] == "astrid@example.org"
    assert by_name["Astrid"]["Dietary needs"] == "Vegan"
    assert by_name["Astrid"]["Checked in at"] != ""
    assert by_name["Bo"]["Checked in at"] == ""
    assert by_name["Astrid"]["Status"] == "Confirmed"
    assert Registration.objects.filter(checked_in_at__isnull=False).count() == 1
