"""The events back office: list, capacity, programme, messages to attendees, duplicates, report."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from events import reports, services
from events.models import AdmissionCategory, Event, ProgrammeItem, Registration
from events.services import duplicate_event
from outbox.models import OutgoingEmail
from tests.events.conftest import message_texts
from tests.factories import (
    EventFactory,
    ProgrammeItemFactory,
    RegistrationFactory,
    admin_form_data,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_event_changelist")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def guest(event, email):
    return services.register_guest(
        event_id=event.pk,
        first_name="Guest",
        last_name=email.split("@")[0],
        email=email,
        details=services.RegistrationDetails(),
        registered_by=None,
        require_billing=False,
    ).registration


def change_url(event):
    return reverse("admin:events_event_change", args=[event.pk])


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_counts_capacity_bar_and_a_link_to_registrations(client, staff):
    event = EventFactory(title="Annual meeting", capacity=4)
    for number in range(5):
        guest(event, f"person{number}@example.org")
    open_ended = EventFactory(title="Open-ended", capacity=None)
    guest(open_ended, "early@example.org")
    response = client.get(CHANGELIST)
    content = response.content.decode()
    assert response.status_code == 200
    assert '<meter min="0" max="4" value="4"' in content
    assert "4 of 4 seats taken" in content and "100&nbsp;%" in content
    assert f"?event__id__exact={event.pk}" in content
    assert "1 · unlimited" in content  # the count stays visible without a capacity
    row = next(row for row in response.context["cl"].result_list if row.pk == event.pk)
    assert (row.confirmed_count, row.waitlisted_count) == (4, 1)
    # Confirmed and capacity are in the seats column ("4/4"), so the list fits a laptop.
    headers = [header["text"] for header in response.context["result_headers"]]
    assert [str(text) for text in headers[1:]] == [
        "title",
        "starts",
        "status",
        "network",
        "seats taken",
        "waiting",
        "registrations",
    ]
    assert ">4/4</meter><br>4/4 · 100&nbsp;%" in content
    assert f'<td class="field-waitlisted_display">{row.waitlisted_count}</td>' in content


@pytest.mark.parametrize("capacity", [1, 2, 3, 10, 300])
def test_a_full_event_s_bar_is_past_the_high_mark_whatever_its_size(client, staff, capacity):
    import re

    Event.objects.filter(pk=EventFactory(capacity=capacity).pk).update(confirmed_count=capacity)
    content = client.get(CHANGELIST).content.decode()
    [(value, high)] = re.findall(
        r'<meter [^>]*value="([\d.]+)" low="[\d.]+" high="([\d.]+)"', content
    )
    # The meter turns red only above its high mark (HTML: "even less good" region).
    assert float(value) > float(high)


# --- Editing an event ---------------------------------------------------------------------------


def test_the_change_page_has_the_programme_inline_links_and_the_chart(client, staff):
    event = EventFactory()
    ProgrammeItemFactory(event=event, title="Opening keynote")
    guest(event, "someone@example.org")
    response = client.get(change_url(event))
    content = response.content.decode()
    assert "Opening keynote" in content
    assert reverse("admin:events_event_report", args=[event.pk]) in content
    assert reverse("admin:events_event_message", args=[event.pk]) in content
    assert f"{reverse('admin:events_registration_add')}?event={event.pk}" in content
    assert "<svg" in content and "Registrations per day" in content


def test_the_change_page_has_wide_title_and_summary_inputs(client, staff):
    event = EventFactory(title="Lab tour: the imaging facility at Medicon Village")
    content = client.get(change_url(event)).content.decode()
    for name in ["title", "summary"]:
        tag = re.search(rf'<input type="text" name="{name}"[^>]*>', content).group()
        # Django's class for its widest text boxes (610 px in a change form), where the
        # default vTextField is 20em.
        assert 'class="vLargeTextField"' in tag
    venue = re.search(r'<input type="text" name="venue"[^>]*>', content).group()
    assert 'class="vTextField"' in venue
    assert "/static/css/admin.css" in content


def test_the_title_and_the_tools_share_a_row_that_wraps(client, staff):
    """The tools used to float over the title; now both sit in one flex row (admin.css)."""
    event = EventFactory(title="Lab tour: the imaging facility at Medicon Village")
    content = client.get(change_url(event)).content.decode()
    heading = re.search(
        r'<div class="heading-with-tools">\s*<h2>([^<]*)</h2>\s*'
        r'<ul class="object-tools">(.*?)</ul>',
        content,
        re.DOTALL,
    )
    assert heading.group(1) == "Lab tour: the imaging facility at Medicon Village"
    tools = re.findall(r"<li>\s*<a [^>]*>([^<]+)</a>\s*</li>", heading.group(2))
    assert [tool.strip() for tool in tools] == [
        "Registrations",
        "Report",
        "Message all attendees",
        "Register a guest",
        "History",
        "View on site",
    ]
    assert content.count('class="object-tools"') == 1


def test_the_add_page_keeps_the_admins_plain_heading(client, staff):
    content = client.get(reverse("admin:events_event_add")).content.decode()
    assert "heading-with-tools" not in content and 'class="object-tools"' not in content


def test_raising_the_capacity_promotes_from_the_waiting_list(client, staff):
    event = EventFactory(capacity=1)
    guest(event, "seated@example.org")
    first, second = guest(event, "first@example.org"), guest(event, "second@example.org")
    data = admin_form_data(client.get(change_url(event)))
    data["capacity"] = "2"
    response = client.post(change_url(event), data, follow=True)
    assert "1 person was promoted from the waiting list." in message_texts(response)
    first.refresh_from_db()
    second.refresh_from_db()
    event.refresh_from_db()
    assert first.status == Registration.Status.CONFIRMED
    assert second.status == Registration.Status.WAITLISTED
    assert (event.capacity, event.confirmed_count, event.waitlisted_count) == (2, 2, 1)
    assert OutgoingEmail.objects.filter(dedup_key=f"registration:{first.pk}:promoted").exists()


def test_the_capacity_cannot_go_below_the_confirmed_count(client, staff):
    event = EventFactory(capacity=3)
    guest(event, "one@example.org")
    guest(event, "two@example.org")
    data = admin_form_data(client.get(change_url(event)))
    data["capacity"] = "1"
    response = client.post(change_url(event), data)
    assert response.status_code == 200
    assert "cannot be lower than the 2 confirmed registrations" in response.content.decode()
    event.refresh_from_db()
    assert event.capacity == 3


def test_registrations_arriving_after_the_form_check_keep_the_whole_change_out(
    client, staff, monkeypatch
):
    """The form checked the capacity against the confirmed count; people registered before
    the save took the event's lock. The service refuses, and nothing of the change is kept:
    one error, no "changed successfully", the form again."""
    event = EventFactory(title="Annual meeting", capacity=3)
    guest(event, "one@example.org")
    data = admin_form_data(client.get(change_url(event)))
    data.update(capacity="1", title="Annual meeting 2031")
    real_change_capacity = services.change_capacity

    def after_two_more_registered(**kwargs):
        guest(event, "two@example.org")
        return real_change_capacity(**kwargs)

    monkeypatch.setattr(services, "change_capacity", after_two_more_registered)
    response = client.post(change_url(event), data)

    assert response.status_code == 302
    assert response.url == change_url(event)
    assert message_texts(response) == [
        "The capacity cannot be lower than the number of confirmed registrations. "
        "Nothing was saved."
    ]
    event.refresh_from_db()
    assert (event.title, event.capacity) == ("Annual meeting", 3)


def test_saving_an_event_never_overwrites_the_seat_counters(client, staff):
    event = EventFactory(capacity=10)
    data = admin_form_data(client.get(change_url(event)))
    # Someone registers while staff have the form open.
    guest(event, "meanwhile@example.org")
    data["title"] = "Annual meeting 2031"
    response = client.post(change_url(event), data)
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.title == "Annual meeting 2031"
    assert event.confirmed_count == 1


def test_programme_items_are_edited_inline(client, staff):
    event = EventFactory()
    item = ProgrammeItemFactory(event=event, title="Keynote")
    data = admin_form_data(client.get(change_url(event)))
    prefix = "programme"
    data[f"{prefix}-0-title"] = "Opening keynote"
    response = client.post(change_url(event), data)
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.title == "Opening keynote"


def new_event_form(**changes) -> dict[str, str]:
    """The add form of the annual meeting, 1 March 2031, 09:00–17:00, as staff fill it in."""
    return {
        "title": "Annual meeting",
        "slug": "annual-meeting-2031",
        "status": "draft",
        "starts_at_0": "2031-03-01",
        "starts_at_1": "09:00",
        "ends_at_0": "2031-03-01",
        "ends_at_1": "17:00",
        "capacity": "1000",
        "has_waiting_list": "on",
        "member_university_staff_free": "on",
        "member_price": "500",
        "standard_price": "1200",
        "currency": "DKK",
        "content_language": "en",
        "programme-TOTAL_FORMS": "0",
        "programme-INITIAL_FORMS": "0",
        **changes,
    }


def test_a_new_event_is_created_as_entered(client, staff):
    response = client.get(reverse("admin:events_event_add"))
    assert response.status_code == 200
    start = datetime.datetime(2031, 3, 1, 9, 0, tzinfo=COPENHAGEN)
    response = client.post(reverse("admin:events_event_add"), new_event_form())
    assert response.status_code == 302
    event = Event.objects.get(slug="annual-meeting-2031")
    assert (event.starts_at, event.capacity, event.confirmed_count) == (start, 1000, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_at_0": "2031-02-28"}, "The event cannot end before it starts."),
        (
            {
                "registration_opens_at_0": "2031-02-01",
                "registration_opens_at_1": "09:00",
                "registration_closes_at_0": "2031-01-01",
                "registration_closes_at_1": "09:00",
            },
            "Registration must close after it opens.",
        ),
        (
            {
                "programme-TOTAL_FORMS": "1",
                "programme-0-title": "Keynote",
                "programme-0-starts_at_0": "2031-03-01",
                "programme-0-starts_at_1": "10:00",
                "programme-0-ends_at_0": "2031-03-01",
                "programme-0-ends_at_1": "09:00",
            },
            "A programme item cannot end before it starts.",
        ),
        (
            {"registration_closes_at_0": "2031-03-02", "registration_closes_at_1": "09:00"},
            "Registration cannot close after the event has ended.",
        ),
        (
            {"cancellation_deadline_0": "2031-03-01", "cancellation_deadline_1": "17:01"},
            "The cancellation deadline cannot be after the event has ended.",
        ),
        *[
            (
                {f"{field}_0": "0001-01-01", f"{field}_1": "00:00"},
                "Enter a date between the years 2000 and 2100.",
            )
            for field in (
                "starts_at",
                "registration_opens_at",
                "registration_closes_at",
                "cancellation_deadline",
            )
        ],
        (
            {"starts_at_0": "2101-01-01", "ends_at_0": "2101-01-01"},
            "Enter a date between the years 2000 and 2100.",
        ),
        (
            {
                "programme-TOTAL_FORMS": "1",
                "programme-0-title": "Keynote",
                "programme-0-starts_at_0": "0001-01-01",
                "programme-0-starts_at_1": "10:00",
            },
            "Enter a date between the years 2000 and 2100.",
        ),
    ],
    ids=[
        "event ends before it starts",
        "window closes before it opens",
        "programme item",
        "registration closes after the end",
        "cancellation deadline after the end",
        "year 1 start",
        "year 1 opening",
        "year 1 closing",
        "year 1 cancellation deadline",
        "year 2101",
        "year 1 programme item",
    ],
)
def test_an_impossible_event_is_refused_with_a_sentence_not_a_constraint_name(
    client, staff, changes, message
):
    response = client.post(reverse("admin:events_event_add"), new_event_form(**changes))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "violated" not in page
    assert not Event.objects.exists()


# --- Message all attendees ----------------------------------------------------------------------


def message_url(event):
    return reverse("admin:events_event_message", args=[event.pk])


@pytest.mark.parametrize("selected", [0, 2])
def test_the_message_action_needs_exactly_one_event(client, staff, selected):
    events = [EventFactory() for _ in range(2)]
    response = client.post(
        CHANGELIST,
        {
            "action": "message_attendees",
            "index": "0",
            "_selected_action": [event.pk for event in events[:selected]],
        },
        follow=True,
    )
    if selected:
        assert message_texts(response) == ["Select exactly one event to message its attendees."]
    else:  # Django's own "no items selected" message
        assert "Items must be selected" in message_texts(response)[0]


def test_message_all_attendees_writes_previews_then_sends_to_the_confirmed(client, staff):
    event = EventFactory(capacity=2)
    seated = [guest(event, "one@example.org"), guest(event, "two@example.org")]
    guest(event, "waiting@example.org")
    response = client.post(
        CHANGELIST, {"action": "message_attendees", "_selected_action": [event.pk]}
    )
    assert response["Location"] == message_url(event)

    page = client.get(message_url(event))
    assert "confirmed attendees of this event" in page.content.decode()
    assert page.context["recipients"] == 2
    token = page.context["form"]["token"].value()

    preview = client.post(
        message_url(event),
        {"subject": "Room change", "body": "We meet in hall B.\nSee you!", "token": token},
    )
    content = preview.content.decode()
    assert preview.context["step"] == "preview"
    assert "Room change" in content and "<p>We meet in hall B.<br>See you!</p>" in content
    assert "Send to 2 attendees" in content
    assert not OutgoingEmail.objects.filter(kind="events.staff_message").exists()

    send = {"subject": "Room change", "body": "We meet in hall B.", "token": token, "send": "1"}
    response = client.post(message_url(event), send, follow=True)
    assert message_texts(response) == ["Your message is queued for 2 confirmed attendees."]
    rows = OutgoingEmail.objects.filter(kind="events.staff_message")
    assert {row.recipient for row in rows} == {"one@example.org", "two@example.org"}
    assert {row.object_id for row in rows} == {registration.pk for registration in seated}
    assert all(row.context["subject"] == "Room change" for row in rows)

    # A second click on the same "Send" (or the back button) sends nothing more, also when
    # the cache is gone (the outbox's de-duplication keys hold it, not the cache).
    cache.clear()
    response = client.post(message_url(event), send, follow=True)
    assert message_texts(response) == ["This message was already sent."]
    assert OutgoingEmail.objects.filter(kind="events.staff_message").count() == 2


def test_a_message_whose_token_was_tampered_with_is_still_sent_once(client, staff):
    event = EventFactory(capacity=3)
    guest(event, "one@example.org")
    send = {"subject": "Hi", "body": "Hello", "token": "x" * 500, "send": "1"}
    response = client.post(message_url(event), send, follow=True)
    assert message_texts(response) == ["Your message is queued for 1 confirmed attendee."]
    assert OutgoingEmail.objects.filter(kind="events.staff_message").count() == 1


def test_the_message_can_be_edited_after_the_preview(client, staff):
    event = EventFactory()
    guest(event, "one@example.org")
    response = client.post(
        message_url(event), {"subject": "Hello", "body": "Draft", "token": "t", "edit": "1"}
    )
    assert response.context["step"] == "write"
    assert response.context["form"]["body"].value() == "Draft"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"subject": "", "body": "Body"}, "subject"),
        ({"subject": "Hi", "body": ""}, "body"),
        ({"subject": "Hi\r\nBcc: everyone@example.org", "body": "Body"}, "subject"),
        ({"subject": "Two\nlines", "body": "Body"}, "subject"),
    ],
)
def test_an_incomplete_message_is_explained(client, staff, data, field):
    event = EventFactory()
    guest(event, "one@example.org")
    response = client.post(message_url(event), {**data, "send": "1"})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert f'aria-describedby="id_{field}_error' in response.content.decode()
    assert not OutgoingEmail.objects.filter(kind="events.staff_message").exists()


def test_an_event_without_attendees_says_there_is_nobody_to_send_to(client, staff):
    event = EventFactory()
    # Staff messages go to the confirmed only.
    RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
    RegistrationFactory(event=event, status=Registration.Status.CANCELLED)
    page = client.get(message_url(event))
    content = page.content.decode()
    assert page.context["recipients"] == 0
    assert "This event has no confirmed attendees, so there is nobody to send a message to." in (
        content
    )
    assert "0 confirmed attendees" not in content
    # Nothing to write, preview or send.
    for name in ('name="subject"', 'name="preview"', 'name="send"'):
        assert name not in content
    assert f'href="{change_url(event)}"' in content


@pytest.mark.parametrize("step", ["preview", "send"])
def test_a_message_to_nobody_is_refused_with_a_message(client, staff, step):
    """A page opened while the event had attendees, sent after the last one cancelled."""
    event = EventFactory()
    response = client.post(
        message_url(event),
        {"subject": "Hi", "body": "Body", "token": "a" * 32, step: "1"},
        follow=True,
    )
    assert response.redirect_chain == [(change_url(event), 302)]
    assert message_texts(response) == [
        "Nothing was sent: this event has no confirmed attendees, so there is nobody to send "
        "a message to."
    ]
    assert not OutgoingEmail.objects.filter(kind="events.staff_message").exists()


def test_the_message_page_of_an_unknown_event_is_a_404(client, staff):
    assert client.get(reverse("admin:events_event_message", args=[999999])).status_code == 404


# --- Duplicate ----------------------------------------------------------------------------------


def test_duplicate_action_copies_event_and_programme_but_no_registrations(client, staff):
    event = EventFactory(title="Annual meeting", slug="annual-meeting", capacity=2)
    ProgrammeItemFactory(event=event, title="Keynote", speakers="Minister")
    ProgrammeItemFactory(event=event, title="Panel")
    guest(event, "one@example.org")
    response = client.post(
        CHANGELIST, {"action": "duplicate_selected", "_selected_action": [event.pk]}, follow=True
    )
    copy = Event.objects.get(slug="annual-meeting-copy")
    assert message_texts(response) == [
        f'1 draft copy made: <a href="{change_url(copy)}">Annual meeting (copy)</a>'
    ]
    assert copy.title == "Annual meeting (copy)"
    assert copy.status == Event.Status.DRAFT
    assert (copy.confirmed_count, copy.waitlisted_count, copy.capacity) == (0, 0, 2)
    assert copy.starts_at == event.starts_at and copy.member_price == event.member_price
    assert sorted(copy.programme.values_list("title", "speakers")) == [
        ("Keynote", "Minister"),
        ("Panel", "Dr. Jane Doe"),
    ]
    assert not copy.registrations.exists()
    assert ProgrammeItem.objects.filter(event=event).count() == 2
    event.refresh_from_db()
    assert event.confirmed_count == 1


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], "meeting-copy"),
        (["meeting-copy"], "meeting-copy-2"),
        (["meeting-copy", "meeting-copy-2"], "meeting-copy-3"),
    ],
)
def test_duplicates_get_a_new_unique_slug(existing, expected):
    event = EventFactory(slug="meeting")
    for slug in existing:
        EventFactory(slug=slug)
    assert duplicate_event(event_id=event.pk).slug == expected


def test_a_long_title_and_slug_still_fit():
    event = EventFactory(title="T" * 200, slug="s" * 100)
    copy = duplicate_event(event_id=event.pk)
    assert len(copy.title) <= 200 and copy.title.endswith("…")
    assert len(copy.slug) <= 100


# --- The report ---------------------------------------------------------------------------------


def at(day, hour=12):
    return datetime.datetime(2030, 5, day, hour, 0, tzinfo=COPENHAGEN)


def test_the_report_counts_per_local_day_filling_gaps_and_per_category():
    event = EventFactory()
    RegistrationFactory(event=event, created_at=at(1))
    RegistrationFactory(event=event, created_at=at(1, hour=23))
    # 23:30 UTC on 3 May is 01:30 on 4 May in Copenhagen.
    RegistrationFactory(
        event=event,
        created_at=datetime.datetime(2030, 5, 3, 23, 30, tzinfo=datetime.UTC),
        category=AdmissionCategory.MEMBER,
        status=Registration.Status.WAITLISTED,
    )
    RegistrationFactory(event=event, created_at=at(4), status=Registration.Status.CANCELLED)
    RegistrationFactory(created_at=at(2))  # another event

    report = reports.registration_report(event_id=event.pk)
    assert [(day.day.day, day.registrations, day.cumulative) for day in report.per_day] == [
        (1, 2, 2),
        (2, 0, 2),
        (3, 0, 2),
        (4, 2, 4),
    ]
    assert report.total == 4
    by_category = {item.category: (item.confirmed, item.waitlisted) for item in report.by_category}
    assert by_category == {
        "member_university_staff": (0, 0),
        "member": (0, 1),
        "non_member": (2, 0),
    }


def test_an_event_without_registrations_has_an_empty_report():
    report = reports.registration_report(event_id=EventFactory().pk)
    assert report.per_day == [] and report.total == 0
    assert "No registrations yet." in reports.per_day_chart_svg(days=report.per_day)
    assert "<svg" in reports.category_chart_svg(categories=report.by_category)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (99, 100), (450, 500)],
)
def test_axis_maximum_is_round(value, expected):
    assert reports.nice_axis_maximum(value) == expected


def test_the_per_day_chart_has_one_bar_per_day_and_readable_labels():
    days = [
        reports.DayCount(
            day=datetime.date(2030, 5, 1) + datetime.timedelta(days=n),
            registrations=n,
            cumulative=0,
        )
        for n in range(40)
    ]
    svg = reports.per_day_chart_svg(days=days)
    assert svg.count("<rect") == 40
    # Month names written out take room: at most six date labels, none past either edge.
    labels = re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="middle"[^>]*>([^<]*)</text>', svg)
    assert [text for _x, text in labels] == [
        "1 May",
        "8 May",
        "15 May",
        "22 May",
        "29 May",
        "5 June",
    ]
    assert all(45 <= float(x) <= 720 - 45 for x, _text in labels)
    assert 'role="img"' in svg and "<title" in svg


def test_a_chart_of_single_registrations_has_whole_numbers_on_its_axis():
    days = [reports.DayCount(day=datetime.date(2030, 5, 1), registrations=1, cumulative=1)]
    svg = reports.per_day_chart_svg(days=days)
    axis = re.findall(r'text-anchor="end" fill="[^"]+">(\d+)</text>', svg)
    assert axis == ["0", "1", "2"]


def test_the_category_chart_leaves_room_for_the_longest_name():
    categories = [
        reports.CategoryCount(
            category="member_university_staff",
            label="Anställd vid medlemsuniversitet",
            confirmed=3,
            waitlisted=1,
        ),
        reports.CategoryCount(category="member", label="Medlem", confirmed=2, waitlisted=0),
    ]
    svg = reports.category_chart_svg(categories=categories)
    # Labels end 8 px left of the bars; at about 7 px a character the name starts inside.
    label_x = float(re.search(r'<text x="([\d.]+)"[^>]*>Anställd vid', svg).group(1))
    assert label_x >= 7 * len("Anställd vid medlemsuniversitet")


@pytest.mark.parametrize(
    ("language", "table_day", "axis_day", "absent"),
    [
        ("en", "28 November 2030", "28 November", "11/28/2030"),
        ("sv", "28 november 2030", "28 november", "2030-11-28"),
        ("da", "28. november 2030", "28. november", "28.11.2030"),
    ],
)
def test_the_report_writes_dates_in_the_pages_language(
    client, staff, language, table_day, axis_day, absent
):
    event = EventFactory()
    RegistrationFactory(
        event=event, created_at=datetime.datetime(2030, 11, 28, 12, tzinfo=COPENHAGEN)
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    content = client.get(reverse("admin:events_event_report", args=[event.pk])).content.decode()
    assert f'<th scope="row">{table_day}</th>' in content
    assert re.search(rf'text-anchor="middle" fill="[^"]+">{axis_day}</text>', content)
    assert f"<title>{table_day}: 1</title>" in content
    assert absent not in content and "Nov<" not in content


def test_the_report_page(client, staff):
    event = EventFactory(title="Annual <meeting>", capacity=10)
    guest(event, "one@example.org")
    response = client.get(reverse("admin:events_event_report", args=[event.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "1 confirmed, 0 wait-listed." in content and "Capacity 10." in content
    assert "Annual &lt;meeting&gt;" in content and "Annual <meeting>" not in content
    assert content.count('<svg xmlns="http://www.w3.org/2000/svg" width="100%"') == 2
    assert "Non-member" in content


@pytest.mark.parametrize("page", ["report", "message"])
@pytest.mark.parametrize("object_id", ["abc", "999999", "1%20or%201"])
def test_the_report_and_message_pages_of_an_unknown_event_are_404(client, staff, page, object_id):
    url = reverse("admin:events_event_changelist") + f"{object_id}/{page}/"
    assert client.get(url).status_code == 404


def test_a_copy_whose_slug_was_taken_meanwhile_takes_the_next(monkeypatch):
    from events import services

    event = EventFactory(slug="meeting")
    EventFactory(slug="meeting-copy")
    real = services._unique_copy_slug
    answers = iter(["meeting-copy"])  # what a look-up just before the other copy saw

    def racing(slug):
        return next(answers, None) or real(slug)

    monkeypatch.setattr(services, "_unique_copy_slug", racing)

    copy = duplicate_event(event_id=event.pk)

    assert copy.slug == "meeting-copy-2"
    assert Event.objects.filter(slug__startswith="meeting").count() == 3
