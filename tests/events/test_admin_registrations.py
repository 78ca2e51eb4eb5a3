"""The registrations back office: list, filters, search, actions, price override, guests."""

import csv
import datetime
import io
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from events import services
from events.models import AdmissionCategory, Registration
from members.models import Institution
from outbox.models import OutgoingEmail
from tests.events.conftest import message_texts
from tests.factories import (
    EventFactory,
    InstitutionFactory,
    OutgoingEmailFactory,
    RegistrationFactory,
    UserFactory,
    add_email,
    admin_form_data,
    bulk_registrations,
    member_institution,
)

pytestmark = pytest.mark.django_db


CHANGELIST = reverse("admin:events_registration_changelist")
ADD = reverse("admin:events_registration_add")
EXPORT = reverse("admin:events_registration_export")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def guest(event, email, **fields):
    """A registration made through the service, so the counters and e-mails are real."""
    return services.register_guest(
        event_id=event.pk,
        first_name=fields.pop("first_name", "Guest"),
        last_name=fields.pop("last_name", email.split("@")[0]),
        email=email,
        details=services.RegistrationDetails(**fields),
        registered_by=None,
        require_billing=False,
    ).registration


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


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_the_columns_staff_need(client, staff):
    institution = InstitutionFactory(name="Lund University")
    registration = RegistrationFactory(
        user=None,
        first_name="Astrid",
        last_name="Lindqvist",
        email="astrid@lu.se",
        institution=institution,
        institution_name="Lund University",
        category=AdmissionCategory.MEMBER,
        price=Decimal("500.00"),
    )
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    for text in ["Astrid Lindqvist", "Lund University", "Member", "500 DKK"]:
        assert text in content
    # The e-mail address under the name, in the cell that links to the registration; it may
    # break after the "@" rather than widen the column.
    assert (
        f'<th class="field-name"><a href="/admin/events/registration/{registration.pk}/change/">'
        'Astrid Lindqvist<br><span class="registration-email">astrid@<wbr>lu.se</span></a></th>'
    ) in content
    # Short headers, so the list fits a 1366 px laptop beside the filters; every column sorts.
    headers = re.findall(
        r'<th scope="col" class="sortable column-\w+">\s*<div class="text">'
        r'<a href="\?o=\d+">([^<]+)</a>',
        content,
    )
    assert headers == [
        "Name",
        "Institution",
        "Category",
        "Price",
        "Status",
        "Checked in",
        "Event",
    ]


def checked_in_cell(client, registration) -> str:
    response = client.get(CHANGELIST)
    row = re.search(
        rf'value="{registration.pk}" class="action-select".*?</tr>', response.content.decode()
    )
    return re.search(r'<td class="field-checked_in_display">(.*?)</td>', row.group()).group(1)


def test_a_check_in_today_shows_today_and_the_local_time(client, staff):
    moment = timezone.localtime().replace(second=0, microsecond=0)
    registration = RegistrationFactory(checked_in_at=moment)
    with translation.override("en"):
        title = date_format(moment, "DATETIME_FORMAT")
    assert checked_in_cell(client, registration) == (
        f'<time datetime="{moment.isoformat(timespec="minutes")}" title="{title}">'
        f'today<br><span class="time">{moment:%H:%M}</span></time>'
    )


def test_an_earlier_check_in_shows_its_day_and_time_and_the_year_when_not_this_one(client, staff):
    copenhagen = ZoneInfo("Europe/Copenhagen")
    # 07:05 UTC is 09:05 in Copenhagen in summer time.
    registration = RegistrationFactory(
        checked_in_at=datetime.datetime(2020, 6, 3, 7, 5, tzinfo=datetime.UTC)
    )
    assert checked_in_cell(client, registration) == (
        '<time datetime="2020-06-03T09:05+02:00" title="Wednesday 3 June 2020, 09:05">'
        '3 June 2020<br><span class="time">09:05</span></time>'
    )
    # Another day of this year: the day without the year.
    today = timezone.localdate()
    day = 2 if (today.month, today.day) == (1, 1) else 1
    registration = RegistrationFactory(
        checked_in_at=datetime.datetime(today.year, 1, day, 14, 30, tzinfo=copenhagen)
    )
    assert f'>{day} January<br><span class="time">14:30</span>' in checked_in_cell(
        client, registration
    )


def test_a_registration_not_checked_in_shows_the_empty_value(client, staff):
    registration = RegistrationFactory(checked_in_at=None)
    assert checked_in_cell(client, registration) == "-"


def test_the_list_speaks_swedish(client, staff):
    registration = RegistrationFactory(checked_in_at=timezone.now())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "sv"
    content = client.get(CHANGELIST).content.decode()
    assert '<a href="?o=6">Incheckad</a>' in content
    assert "i dag<br>" in checked_in_cell(client, registration)


@pytest.fixture
def spread():
    """Registrations that differ in exactly one filterable respect each."""
    event, other_event = EventFactory(title="Annual meeting"), EventFactory(title="Cancer day")
    lund = InstitutionFactory(kind=Institution.Kind.UNIVERSITY, country="SE")
    novo = InstitutionFactory(kind=Institution.Kind.COMPANY, country="DK")
    return {
        "base": RegistrationFactory(event=event, institution=lund),
        "other_event": RegistrationFactory(event=other_event, institution=lund),
        "waitlisted": RegistrationFactory(
            event=event, institution=lund, status=Registration.Status.WAITLISTED
        ),
        "member": RegistrationFactory(
            event=event, institution=lund, category=AdmissionCategory.MEMBER
        ),
        "company_dk": RegistrationFactory(event=event, institution=novo),
        "no_institution": RegistrationFactory(event=event, institution=None),
        "checked_in": RegistrationFactory(
            event=event, institution=lund, checked_in_at="2030-01-01T09:00:00Z"
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("event__id__exact={other_event}", {"other_event"}),
        ("status__exact=waitlisted", {"waitlisted"}),
        ("category__exact=member", {"member"}),
        ("institution_kind=company", {"company_dk"}),
        ("country=DK", {"company_dk"}),
        ("checked_in=yes", {"checked_in"}),
        (
            "checked_in=no",
            {"base", "other_event", "waitlisted", "member", "company_dk", "no_institution"},
        ),
        ("institution_kind=university&status__exact=waitlisted", {"waitlisted"}),
    ],
)
def test_filters(client, staff, spread, query, expected):
    query = query.format(other_event=spread["other_event"].event_id)
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    shown = {registration.pk for registration in response.context["cl"].result_list}
    assert shown == {spread[name].pk for name in expected}


def test_the_event_filter_tells_an_event_from_its_next_edition_newest_first(client, staff):
    older = EventFactory(
        title="Annual meeting", starts_at=datetime.datetime(2030, 3, 1, 9, tzinfo=COPENHAGEN)
    )
    newer = EventFactory(
        title="Annual meeting", starts_at=datetime.datetime(2031, 3, 7, 9, tzinfo=COPENHAGEN)
    )
    late_night = EventFactory(
        title="Night lab",
        # 23:30 UTC on 1 March is 2 March in Copenhagen.
        starts_at=datetime.datetime(2029, 3, 1, 23, 30, tzinfo=datetime.UTC),
    )
    response = client.get(CHANGELIST)
    [event_filter] = [
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "field_path", None) == "event"
    ]
    _all, *choices = [choice["display"] for choice in event_filter.choices(response.context["cl"])]
    assert choices == [
        "Annual meeting (7 Mar 2031)",
        "Annual meeting (1 Mar 2030)",
        "Night lab (2 Mar 2029)",
    ]
    links = re.findall(r'href="\?event__id__exact=(\d+)"', response.content.decode())
    assert links == [str(event.pk) for event in (newer, older, late_night)]


@pytest.mark.parametrize("query", ["institution_kind=spaceship", "country=XX", "checked_in=maybe"])
def test_unknown_filter_values_are_ignored_not_errors(client, staff, spread, query):
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == len(spread)


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("Astrid", True),
        ("lindqvist", True),
        ("Astrid Lindqvist", True),
        ("astrid@med.lu", True),
        ("Lund Univ", True),
        ("Copenhagen", False),
        ('"Astrid Lindqvist"', True),  # a quoted phrase
        ("Astrid Berg", False),  # every word must match
        ("%", False),  # wildcards are searched for, not obeyed
        ("_strid", False),
    ],
)
def test_search_by_name_email_and_institution(client, staff, q, found):
    astrid = RegistrationFactory(
        user=None,
        first_name="Astrid",
        last_name="Lindqvist",
        email="astrid@med.lu.se",
        institution_name="Lund University",
    )
    RegistrationFactory(user=None, first_name="Bo", last_name="Berg", email="bo@example.org")
    response = client.get(CHANGELIST, {"q": q})
    shown = [registration.pk for registration in response.context["cl"].result_list]
    assert shown == ([astrid.pk] if found else [])


@pytest.mark.parametrize(
    ("query", "expected_slice", "count"),
    [
        ("q=example.org", slice(0, 100), 150),
        ("q=example.org&p=2", slice(100, 150), 150),
        ("q=person1", slice(None), None),  # fewer than a page: one query, all shown
        ("q=nobody-at-all", slice(0, 0), 0),
    ],
)
def test_search_pages_count_and_fetch_in_one_query(
    client, staff, query, expected_slice, count, django_assert_num_queries
):
    bulk_registrations(events=1, registrations=150)
    everyone = Registration.objects.order_by("-id")
    if count is None:
        expected = [r.pk for r in everyone if r.email.startswith("person1")]
        count = len(expected)
    else:
        expected = [r.pk for r in everyone[expected_slice]]
    # User, two permission queries, the event filter, then the page with its count (the session
    # comes from the cache).
    with django_assert_num_queries(5):
        response = client.get(f"{CHANGELIST}?{query}")
    assert [r.pk for r in response.context["cl"].result_list] == expected
    assert response.context["cl"].result_count == count


def test_a_search_is_planned_on_the_trigram_index(client, staff):
    """The index of migration 0005 is on a copy of the search expression; if the two drift
    apart, every search reads the whole table again. A table of a few rows is best read
    whole, so sequential and plain index scans are priced out: what is left is the trigram
    index, if it can serve the query at all."""
    bulk_registrations(events=1, registrations=30)
    response = client.get(CHANGELIST, {"q": "Lindqvist example"})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    plan = response.context["cl"].queryset.explain()
    assert "Bitmap Index Scan on registration_search_trgm" in plan


def test_a_search_page_past_the_end_is_refused_like_any_other(client, staff):
    bulk_registrations(events=1, registrations=150)
    response = client.get(f"{CHANGELIST}?q=example.org&p=9")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


# --- Actions ------------------------------------------------------------------------------------


def test_check_in_action_reports_each_outcome(client, staff):
    event = EventFactory(capacity=3)
    fresh = [guest(event, f"fresh{n}@example.org") for n in range(2)]
    already = guest(event, "already@example.org")
    services.check_in(registration_id=already.pk, checked_in_by=staff)
    waitlisted = guest(event, "waiting@example.org")
    assert waitlisted.status == Registration.Status.WAITLISTED

    # The event is next month: the action asks first (see test_admin_check_in.py).
    response = run_action(
        client, "check_in_selected", [*fresh, already, waitlisted], confirmed="yes"
    )
    assert message_texts(response) == [
        "2 registrations checked in.",
        "1 registration was already checked in.",
        "1 registration is not confirmed and was not checked in.",
    ]
    for registration in fresh:
        registration.refresh_from_db()
        assert registration.checked_in_by == staff
    waitlisted.refresh_from_db()
    assert waitlisted.checked_in_at is None


def test_cancel_action_asks_first_then_cancels_and_promotes(client, staff):
    event = EventFactory(capacity=1)
    seated = guest(event, "seated@example.org", first_name="Seated")
    waiting = guest(event, "waiting@example.org")

    page = run_action(client, "cancel_selected", [seated])
    assert page.status_code == 200
    assert "Cancel these registrations?" in page.content.decode()
    assert "Seated" in page.content.decode()
    seated.refresh_from_db()
    assert seated.status == Registration.Status.CONFIRMED

    response = run_action(client, "cancel_selected", [seated], confirmed="yes")
    assert message_texts(response) == [
        "1 registration cancelled.",
        "1 person was promoted from the waiting list.",
    ]
    seated.refresh_from_db()
    waiting.refresh_from_db()
    event.refresh_from_db()
    assert seated.status == Registration.Status.CANCELLED
    assert waiting.status == Registration.Status.CONFIRMED
    assert (event.confirmed_count, event.waitlisted_count) == (1, 0)
    assert OutgoingEmail.objects.filter(dedup_key=f"registration:{waiting.pk}:promoted").exists()
    # The registration's history says who cancelled it.
    from django.contrib.admin.models import LogEntry

    [entry] = LogEntry.objects.filter(object_id=str(seated.pk))
    assert (entry.user, entry.change_message) == (staff, "Cancelled")


def test_cancel_action_ignores_the_deadline_and_counts_the_already_cancelled(client, staff):
    event = EventFactory(capacity=5)
    late = guest(event, "late@example.org")
    event.cancellation_deadline = event.registration_opens_at
    event.save(update_fields=["cancellation_deadline"])
    gone = guest(event, "gone@example.org")
    services.cancel_registration(registration_id=gone.pk, enforce_deadline=False)

    response = run_action(client, "cancel_selected", [late, gone], confirmed="yes")
    assert message_texts(response) == [
        "1 registration cancelled.",
        "1 registration was already cancelled.",
    ]
    late.refresh_from_db()
    assert late.status == Registration.Status.CANCELLED


def test_promote_action_refuses_the_seated_and_a_full_event(client, staff):
    event = EventFactory(capacity=1)
    seated = guest(event, "seated@example.org")
    waiting = guest(event, "waiting@example.org")
    response = run_action(client, "promote_selected", [seated, waiting])
    assert message_texts(response) == [
        "1 registration is not on the waiting list.",
        "1 person was not promoted: the event is full.",
    ]
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.WAITLISTED


def test_promote_action_gives_a_seat_when_there_is_one(client, staff):
    event = EventFactory(capacity=1)
    seated = guest(event, "seated@example.org")
    waiting = guest(event, "waiting@example.org")
    # A seat frees up after the event started filling, without automatic promotion
    # (nobody is promoted automatically for an unpublished event).
    event.status = event.Status.DRAFT
    event.save(update_fields=["status"])
    services.cancel_registration(registration_id=seated.pk, enforce_deadline=False)
    event.status = event.Status.PUBLISHED
    event.save(update_fields=["status"])
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.WAITLISTED

    response = run_action(client, "promote_selected", [waiting])
    assert message_texts(response) == ["1 person promoted from the waiting list."]
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED
    assert OutgoingEmail.objects.filter(dedup_key=f"registration:{waiting.pk}:promoted").exists()


def test_resend_confirmation_writes_a_fresh_outbox_row(client, staff):
    event = EventFactory(capacity=1)
    seated = guest(event, "seated@example.org", language="sv")
    waiting = guest(event, "waiting@example.org")
    before = OutgoingEmail.objects.filter(kind="events.confirmation").count()

    response = run_action(client, "resend_confirmation", [seated, waiting])
    assert message_texts(response) == [
        "1 confirmation e-mail queued.",
        "1 registration is not confirmed; nothing was sent.",
    ]
    run_action(client, "resend_confirmation", [seated])
    rows = OutgoingEmail.objects.for_object(seated).filter(kind="events.confirmation")
    assert rows.count() == 3 and before == 1
    resent = rows.exclude(dedup_key=f"registration:{seated.pk}:confirmation")
    assert len({row.dedup_key for row in resent}) == 2
    assert {row.recipient for row in resent} == {"seated@example.org"}
    assert {row.language for row in resent} == {"sv"}
    assert all(row.context == {"registration_id": seated.pk} for row in resent)


# --- Export -------------------------------------------------------------------------------------


@pytest.fixture
def exported():
    event = EventFactory(title="Annual meeting")
    institution = InstitutionFactory(
        name="Lund University", kind=Institution.Kind.UNIVERSITY, country="SE"
    )
    chosen = RegistrationFactory(
        event=event,
        user=None,
        first_name="Astrid",
        last_name="Lindqvist",
        email="astrid@lu.se",
        institution=institution,
        institution_name="Lund University",
        dietary_needs="Vegan",
        price=Decimal("0.00"),
        category=AdmissionCategory.MEMBER_UNIVERSITY_STAFF,
    )
    sneaky = RegistrationFactory(event=event, user=None, first_name="=HYPERLINK(1)", last_name="X")
    RegistrationFactory(event=event, user=None, first_name="Not", last_name="Selected")
    return chosen, sneaky


EXPORTED_COLUMNS = [
    *("id", "event", "first_name", "last_name", "email", "institution"),
    *("institution_kind", "country", "category", "price", "status", "dietary_needs"),
]


def export(client, registrations, file_format):
    form = run_action(client, "export_admin_action", registrations)
    assert form.status_code == 200
    choices = form.context["form"].fields["format"].choices
    index = next(value for value, label in choices if str(label).lower() == file_format)
    return client.post(
        EXPORT,
        {
            "format": index,
            "resource": 0,
            "export_items": [registration.pk for registration in registrations],
            **{f"registrationresource_{name}": "on" for name in EXPORTED_COLUMNS},
        },
    )


def test_export_the_selection_as_csv(client, staff, exported):
    chosen, sneaky = exported
    response = export(client, [chosen, sneaky], "csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["Last name"] for row in rows] == ["Lindqvist", "X"]
    astrid = rows[0]
    assert astrid == {
        "ID": str(chosen.pk),
        "Event": "Annual meeting",
        "First name": "Astrid",
        "Last name": "Lindqvist",
        "E-mail address": "astrid@lu.se",
        "Institution": "Lund University",
        "Institution kind": "University",
        "Country": "Sweden",
        "Admission category": "Member-university staff",
        "Price": "0.00",
        "Status": "Confirmed",
        "Dietary needs": "Vegan",
    }
    # A name that a spreadsheet would run as a formula is neutralised.
    assert rows[1]["First name"] == "'=HYPERLINK(1)"


def test_export_the_selection_as_excel(client, staff, exported):
    chosen, _sneaky = exported
    response = export(client, [chosen], "xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("ID", "Event", "First name", "Last name")
    assert len(rows) == 2
    assert rows[1][2:5] == ("Astrid", "Lindqvist", "astrid@lu.se")


# --- One registration ---------------------------------------------------------------------------


def change_url(registration):
    return reverse("admin:events_registration_change", args=[registration.pk])


def test_the_registration_shows_its_emails_read_only(client, staff):
    registration = guest(EventFactory(), "astrid@example.org")
    OutgoingEmailFactory(
        kind="events.reminder",
        about=registration,
        status=OutgoingEmail.Status.FAILED,
        last_error="550 mailbox unavailable",
        recipient="astrid@example.org",
    )
    OutgoingEmailFactory(kind="events.cancelled", recipient="someone-else@example.org")
    response = client.get(change_url(registration))
    content = response.content.decode()
    # Named as staff know them, not by their code.
    assert "Confirmation → astrid@example.org" in content and "Reminder" in content
    assert "events.confirmation" not in content
    assert "550 mailbox unavailable" in content and "Failed" in content
    assert "someone-else@example.org" not in content
    inline = response.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission


def test_editing_the_price_needs_a_reason(client, staff):
    registration = guest(EventFactory(), "astrid@example.org")
    data = admin_form_data(client.get(change_url(registration)))
    data.update(price="0.00", category=AdmissionCategory.MEMBER)
    response = client.post(change_url(registration), data)
    assert response.status_code == 200
    assert "Give a reason for changing the admission category or the price." in (
        response.content.decode()
    )
    registration.refresh_from_db()
    assert registration.price == Decimal("1200.00")


def test_a_price_override_records_who_when_and_why(client, staff):
    registration = guest(EventFactory(), "astrid@example.org")
    original_reason = registration.price_reason
    data = admin_form_data(client.get(change_url(registration)))
    data.update(price="0.00", override_reason="Invited speaker", dietary_needs="Halal")
    response = client.post(change_url(registration), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    registration.refresh_from_db()
    assert registration.price == Decimal("0.00")
    assert registration.price_override_reason == "Invited speaker"
    assert registration.price_overridden_by == staff
    assert registration.price_overridden_at is not None
    assert registration.price_reason == original_reason
    assert registration.dietary_needs == "Halal"


def test_editing_other_fields_needs_no_reason_and_keeps_the_status(client, staff):
    event = EventFactory(capacity=1)
    registration = guest(event, "astrid@example.org")
    data = admin_form_data(client.get(change_url(registration)))
    # Meanwhile, the registration is cancelled elsewhere; the form must not undo that.
    services.cancel_registration(registration_id=registration.pk, enforce_deadline=False)
    data.update(job_title="Professor")
    response = client.post(change_url(registration), data)
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.job_title == "Professor"
    assert registration.status == Registration.Status.CANCELLED
    assert registration.price_overridden_by is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"price": "-1", "override_reason": "x"}, "The price cannot be negative."),
        ({"email": "taken@example.org"}, "Another active registration for this event"),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"category": "vip", "override_reason": "x"}, "Select a valid choice."),
    ],
)
def test_bad_edits_get_a_clear_message(client, staff, change, error):
    event = EventFactory()
    registration = guest(event, "astrid@example.org")
    guest(event, "taken@example.org")
    data = admin_form_data(client.get(change_url(registration)))
    data.update(change)
    response = client.post(change_url(registration), data)
    assert response.status_code == 200
    assert error in response.content.decode()


def test_registrations_cannot_be_deleted_even_by_a_superuser(client, staff):
    """Cancelled, never deleted: a deletion would bypass the seat counters and the waiting
    list. Asked of a superuser, who has every permission there is."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    registration = RegistrationFactory()
    url = reverse("admin:events_registration_delete", args=[registration.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Registration.objects.filter(pk=registration.pk).exists()
    actions = client.get(CHANGELIST).context["action_form"].fields["action"].choices
    names = [name for name, _label in actions]
    assert "delete_selected" not in names
    assert {
        "check_in_selected",
        "cancel_selected",
        "promote_selected",
        "resend_confirmation",
        "export_admin_action",
    } <= set(names)


# --- Adding a guest by hand ---------------------------------------------------------------------


def guest_form(chosen_event, **changes):
    return {
        "event": chosen_event.pk,
        "first_name": "Ingrid",
        "last_name": "Speaker",
        "email": "ingrid@med.lu.se",
        "language": "sv",
        "price_from": "address",
        "dietary_needs": "Vegetarian",
        **changes,
    }


def invited_speaker_form(event):
    """A guest from a non-member address whom staff let in free as an invited speaker."""
    return guest_form(
        event,
        email="ingrid@example.org",
        price_from="set",
        category=AdmissionCategory.MEMBER,
        price="0",
        price_reason="Invited speaker",
    )


def test_the_add_form_preselects_the_event(client, staff):
    event = EventFactory()
    response = client.get(ADD, {"event": event.pk})
    assert response.status_code == 200
    assert response.context["form"]["event"].value() == str(event.pk)


def test_adding_a_guest_goes_through_the_registration_service(client, staff):
    member_institution(domain="lu.se", name="Lund University")
    event = EventFactory()
    response = client.post(ADD, guest_form(event))
    registration = Registration.objects.get(email="ingrid@med.lu.se")
    assert response.status_code == 302
    assert response["Location"] == change_url(registration)
    assert registration.user is None
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.category == AdmissionCategory.MEMBER_UNIVERSITY_STAFF
    assert registration.price == 0
    assert registration.language == "sv" and registration.dietary_needs == "Vegetarian"
    event.refresh_from_db()
    assert event.confirmed_count == 1
    assert OutgoingEmail.objects.filter(
        dedup_key=f"registration:{registration.pk}:confirmation"
    ).exists()
    assert message_texts(response) == ["Ingrid Speaker is registered: Confirmed."]


def test_a_guest_who_would_pay_needs_billing_details_or_the_box_ticked(client, staff):
    event = EventFactory()
    response = client.post(ADD, guest_form(event, email="ingrid@example.org"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "A fee is due" in content
    assert 'aria-describedby="id_billing_organisation_error"' in content
    assert not Registration.objects.exists()

    response = client.post(ADD, guest_form(event, email="ingrid@example.org", without_billing="on"))
    assert response.status_code == 302
    assert Registration.objects.get().price == Decimal("1200.00")


def test_adding_someone_already_registered_shows_their_registration(client, staff):
    event = EventFactory()
    existing = guest(event, "ingrid@med.lu.se")
    response = client.post(ADD, guest_form(event, without_billing="on"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(existing)
    assert Registration.objects.count() == 1
    assert message_texts(response) == [
        "This event already has an active registration for ingrid@med.lu.se; here it is."
    ]
    # The admin capitalises a message's first letter: the address is not the first word, so
    # it is shown as it is spelt.
    assert "Ingrid@med.lu.se" not in response.content.decode()


def test_a_full_event_without_waiting_list_refuses_the_guest_clearly(client, staff):
    event = EventFactory(capacity=1, has_waiting_list=False)
    guest(event, "first@example.org")
    response = client.post(ADD, guest_form(event, without_billing="on"))
    assert response.status_code == 200
    assert "This event is full." in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"billing_ean_number": "123"}, "billing_ean_number"),
        ({"event": "999999"}, "event"),
    ],
)
def test_bad_guest_input_is_explained(client, staff, changes, field):
    event = EventFactory()
    response = client.post(ADD, guest_form(event, **changes))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert f'aria-describedby="id_{field}_error' in response.content.decode()


def test_draft_events_are_not_offered_for_guests(client, staff):
    draft = EventFactory(status="draft")
    response = client.post(ADD, guest_form(draft))
    assert "event" in response.context["form"].errors


def test_events_that_are_over_are_not_offered_and_are_refused(client, staff):
    now = timezone.now()
    over = EventFactory(
        title="Spring meeting",
        starts_at=now - datetime.timedelta(days=2),
        ends_at=now - datetime.timedelta(days=1),
        registration_opens_at=now - datetime.timedelta(days=30),
        registration_closes_at=now - datetime.timedelta(days=3),
        cancellation_deadline=now - datetime.timedelta(days=3),
    )
    coming = EventFactory(title="Autumn meeting")

    page = client.get(ADD)
    response = client.post(ADD, guest_form(over, without_billing="on"))

    offered = [label for _value, label in page.context["form"].fields["event"].choices][1:]
    assert len(offered) == 1 and offered[0].startswith("Autumn meeting (")
    assert "event" in response.context["form"].errors
    assert coming.pk and not Registration.objects.exists()
    with pytest.raises(services.RegistrationError) as refusal:
        services.register_guest(
            event_id=over.pk,
            first_name="Ingrid",
            last_name="Speaker",
            email="ingrid@example.org",
            details=services.RegistrationDetails(),
            registered_by=None,
            require_billing=False,
        )
    assert refusal.value.code == "over"


def test_an_invited_speaker_is_told_the_price_staff_set_not_the_address_s(client, staff):
    from outbox.services import build_message

    event = EventFactory()
    response = client.post(
        ADD,
        invited_speaker_form(event),
    )

    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.category, registration.price) == (AdmissionCategory.MEMBER, 0)
    assert registration.price_override_reason == "Invited speaker"
    assert registration.price_overridden_by == staff
    assert registration.price_overridden_at is not None
    # The decision the address gave is kept for the record.
    assert registration.price_reason_code == "no_member_address"
    assert registration.billing_organisation == ""
    confirmation = OutgoingEmail.objects.get(
        dedup_key=f"registration:{registration.pk}:confirmation"
    )
    with translation.override("en"):
        body = build_message(confirmation).body
    assert "Invited speaker" in body
    assert "1,200" not in body


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"price_from": "set"}, {"category", "price", "price_reason"}),
        ({"price_from": "set", "category": "member", "price": "0"}, {"price_reason"}),
        (
            {"price_from": "set", "category": "member", "price": "-1", "price_reason": "x"},
            {"price"},
        ),
        (
            {"price_from": "set", "category": "nobody", "price": "0", "price_reason": "x"},
            {"category"},
        ),
        ({"price_from": "perhaps"}, {"price_from"}),
    ],
)
def test_a_price_set_here_needs_category_price_and_reason(client, staff, changes, fields):
    event = EventFactory()
    response = client.post(ADD, guest_form(event, **changes))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == fields
    assert not Registration.objects.exists()


def test_a_price_set_above_zero_still_needs_billing_details(client, staff):
    event = EventFactory()
    changes = {"price_from": "set", "category": "member", "price": "300", "price_reason": "Deal"}
    response = client.post(ADD, guest_form(event, email="ingrid@med.lu.se", **changes))
    assert "billing_organisation" in response.context["form"].errors
    assert not Registration.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "example.com"}, "email"),
        ({"dietary_needs": "x" * 501}, "dietary_needs"),
        ({"accessibility_needs": "x" * 501}, "accessibility_needs"),
        ({"billing_address": "x" * 1001}, "billing_address"),
    ],
)
def test_over_long_guest_input_is_a_field_error(client, staff, changes, field):
    event = EventFactory()
    response = client.post(ADD, guest_form(event, without_billing="on", **changes))
    assert response.status_code == 200
    assert field in response.context["form"].errors


def test_a_guest_whose_address_an_account_has_verified_is_theirs_at_once(client, staff):
    person = UserFactory(email="ingrid.private@example.org")
    add_email(person, "ingrid@med.lu.se")
    event = EventFactory()

    client.post(ADD, guest_form(event, without_billing="on"))

    assert Registration.objects.get().user == person


# --- EAN numbers: one rule for every form that writes them ---------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "error"),
    [
        ("5790000000067", "5790000000067", None),
        ("579 0000 000 067", "5790000000067", None),  # as printed on invoices
        ("", "", None),
        ("579000000006", None, "exactly 13 digits"),
        ("5790000000068", None, "last digit does not match"),
    ],
)
@pytest.mark.parametrize("form_name", ["RegistrationChangeForm", "GuestRegistrationForm"])
def test_admin_forms_check_ean_numbers_like_the_public_form(form_name, typed, stored, error):
    from events import admin as events_admin

    form_class = getattr(events_admin, form_name)
    field = form_class.base_fields["billing_ean_number"]
    if error is None:
        assert field.clean(typed) == stored
    else:
        with pytest.raises(ValidationError) as raised:
            field.clean(typed)
        assert error in " ".join(raised.value.messages)


def test_the_model_refuses_a_bad_ean_number_whatever_form_wrote_it():
    registration = RegistrationFactory(billing_ean_number="5790000000068")
    with pytest.raises(ValidationError) as raised:
        registration.full_clean()
    assert "billing_ean_number" in raised.value.message_dict


# --- Export for Excel ---------------------------------------------------------------------------


def test_the_csv_export_starts_with_a_byte_order_mark_so_excel_reads_nordic_letters(
    client, staff, exported
):
    chosen, _sneaky = exported
    chosen.first_name, chosen.last_name, chosen.dietary_needs = "Åsa", "Ørsted-Bäck", "Æblefri"
    chosen.save()
    response = export(client, [chosen], "csv")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbfID,")
    assert response.content.count(b"\xef\xbb\xbf") == 1
    row = next(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert (row["First name"], row["Last name"], row["Dietary needs"]) == (
        "Åsa",
        "Ørsted-Bäck",
        "Æblefri",
    )


def test_the_excel_export_has_no_byte_order_mark(client, staff, exported):
    chosen, _sneaky = exported
    response = export(client, [chosen], "xlsx")
    assert response.content.startswith(b"PK")  # a zip archive, as an .xlsx file is


@pytest.mark.parametrize("page", ["999999999999999999", "-5", "0", "abc", "1000001"])
@pytest.mark.parametrize("search", ["", "x"])
def test_an_impossible_page_number_is_no_error_page(client, staff, page, search):
    RegistrationFactory()
    response = client.get(CHANGELIST, {"q": search, "p": page})
    assert response.status_code in (200, 302)


@pytest.mark.parametrize(
    ("typed", "refused"),
    [
        ("kate@example.com", True),
        ("KATE@Example.com", True),
        ("\u212aate@example.com", True),  # the Kelvin sign: lower() makes it "k"
        ("kate.other@example.com", False),
    ],
)
def test_an_address_another_active_registration_uses_is_a_field_error(
    client, staff, typed, refused
):
    event = EventFactory()
    guest(event, "kate@example.com")
    registration = guest(event, "bo@example.com")
    data = admin_form_data(client.get(change_url(registration)))
    data["email"] = typed

    response = client.post(change_url(registration), data)

    if refused:
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["email"] == [
            "Another active registration for this event already uses this address."
        ]
    else:
        assert response.status_code == 302
    registration.refresh_from_db()
    assert (registration.email == typed) is not refused


@pytest.mark.parametrize(("language", "saved"), [("sv", True), ("zz", False), ("", False)])
def test_the_language_of_the_e_mails_is_one_the_site_speaks(client, staff, language, saved):
    registration = guest(EventFactory(), "bo@example.com")
    data = admin_form_data(client.get(change_url(registration)))
    data["language"] = language

    response = client.post(change_url(registration), data)

    assert response.status_code == (302 if saved else 200)
    registration.refresh_from_db()
    assert (registration.language == language) is saved


def test_the_waiting_list_reads_first_in_line_first(client, staff):
    event = EventFactory(capacity=1)
    guest(event, "seated@example.org")
    first, second, third = (guest(event, f"waiting{n}@example.org") for n in range(3))

    waiting = client.get(CHANGELIST, {"status__exact": "waitlisted"})
    everyone = client.get(CHANGELIST)

    assert [r.pk for r in waiting.context["cl"].result_list] == [first.pk, second.pk, third.pk]
    assert [r.pk for r in everyone.context["cl"].result_list][:3] == [third.pk, second.pk, first.pk]


@pytest.mark.parametrize("has_waiting_list", [True, False])
def test_an_invited_speaker_can_be_seated_at_a_full_event(client, staff, has_waiting_list):
    event = EventFactory(capacity=1, has_waiting_list=has_waiting_list)
    guest(event, "seated@example.org")
    waiting = guest(event, "waiting@example.org") if has_waiting_list else None

    response = client.post(ADD, guest_form(event, without_billing="on", beyond_capacity="on"))

    speaker = Registration.objects.get(email="ingrid@med.lu.se")
    assert response.status_code == 302
    assert speaker.status == Registration.Status.CONFIRMED
    event.refresh_from_db()
    assert (event.capacity, event.confirmed_count) == (2, 2)
    if waiting is not None:
        waiting.refresh_from_db()
        assert waiting.status == Registration.Status.WAITLISTED  # still next in line


def test_without_the_box_a_full_event_waitlists_the_guest(client, staff):
    event = EventFactory(capacity=1)
    guest(event, "seated@example.org")

    client.post(ADD, guest_form(event, without_billing="on"))

    assert Registration.objects.get(email="ingrid@med.lu.se").status == "waitlisted"
    event.refresh_from_db()
    assert event.capacity == 1


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("resend_confirmation", "1 registration is for a cancelled event; nothing was sent."),
        ("check_in_selected", "1 registration is for a cancelled event and was not checked in."),
    ],
)
def test_actions_on_a_cancelled_event_s_tickets_say_why_nothing_happened(
    client, staff, action, message
):
    from events.models import Event

    event = EventFactory()
    registration = guest(event, "ada@example.org")
    Event.objects.filter(pk=event.pk).update(status=Event.Status.CANCELLED)
    rows_before = OutgoingEmail.objects.count()

    response = run_action(client, action, [registration], confirmed="yes")

    assert message_texts(response) == [message]
    assert OutgoingEmail.objects.count() == rows_before
    registration.refresh_from_db()
    assert registration.checked_in_at is None


def test_a_registration_whose_price_staff_set_says_which_reason_applies(client, staff):
    event = EventFactory()
    client.post(
        ADD,
        invited_speaker_form(event),
    )
    registration = Registration.objects.get()

    page = client.get(change_url(registration)).content.decode()

    assert "Replaced by the override below. The address gave: Standard price" in page
    assert "Invited speaker" in page


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("ingrid@xn--bcher-kva.example", "ingrid@bücher.example"), ("ingrid@LU.SE", "ingrid@lu.se")],
)
def test_a_guest_s_address_is_kept_in_the_spelling_accounts_keep(client, staff, typed, stored):
    person = UserFactory(email="ingrid.private@example.org")
    add_email(person, stored)

    client.post(ADD, guest_form(EventFactory(), email=typed, without_billing="on"))

    registration = Registration.objects.get()
    assert registration.email == stored
    assert registration.user == person  # found by the account that holds it


def test_a_guest_address_with_an_unusable_domain_is_a_field_error(client, staff):
    response = client.post(
        ADD, guest_form(EventFactory(), email="ingrid@straße.de", without_billing="on")
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not Registration.objects.exists()


@pytest.mark.parametrize(("field", "limit"), [("dietary_needs", 500), ("billing_address", 1000)])
def test_the_admin_keeps_the_lengths_the_attendee_s_forms_keep(client, staff, field, limit):
    registration = guest(EventFactory(), "bo@example.com")
    data = admin_form_data(client.get(change_url(registration)))
    data[field] = "x" * (limit + 1)

    response = client.post(change_url(registration), data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


def test_a_page_opened_before_the_attendee_changed_their_details_cannot_undo_them(client, staff):
    registration = guest(EventFactory(), "bo@example.com", dietary_needs="Vegetarian")
    data = admin_form_data(client.get(change_url(registration)))  # opened now
    services.change_registration_details(  # the attendee, meanwhile
        registration_id=registration.pk,
        details=services.RegistrationDetails(dietary_needs="Vegan", listed_as_participant=True),
    )
    data["job_title"] = "Professor"

    response = client.post(change_url(registration), data)

    assert response.status_code == 200
    assert "This registration was changed while the page was open" in response.content.decode()
    registration.refresh_from_db()
    assert (registration.dietary_needs, registration.job_title) == ("Vegan", "")

    # Reloaded, the change saves and keeps what the attendee wrote.
    data = admin_form_data(client.get(change_url(registration)))
    data["job_title"] = "Professor"
    assert client.post(change_url(registration), data).status_code == 302
    registration.refresh_from_db()
    assert (registration.dietary_needs, registration.job_title) == ("Vegan", "Professor")


@pytest.mark.parametrize(
    "query",
    [
        {"dietary_needs__icontains": "halal"},
        {"accessibility_needs__startswith": "w"},
        {"ticket_code__startswith": "a"},
        {"billing_address__contains": "Lund"},
        {"user__password__startswith": "pbkdf2"},
    ],
)
def test_the_list_refuses_filters_on_fields_it_does_not_offer(client, staff, query):
    """Otherwise staff without the special-needs permission could learn a person's needs a
    letter at a time from whether the row is listed."""
    RegistrationFactory(dietary_needs="Halal")

    assert client.get(CHANGELIST, query).status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        {"status__exact": "confirmed"},
        {"category__exact": "member"},
        {"checked_in": "yes"},
        {"q": "someone"},
    ],
)
def test_the_list_still_filters_by_what_it_offers(client, staff, query):
    registration = RegistrationFactory()
    assert client.get(CHANGELIST, query).status_code == 200
    by_event = client.get(CHANGELIST, {"event__id__exact": registration.event_id})
    assert by_event.status_code == 200
    assert [r.pk for r in by_event.context["cl"].result_list] == [registration.pk]


@pytest.mark.parametrize(
    ("codename", "allowed"), [("view_registration", True), ("change_event", False)]
)
def test_exporting_needs_the_view_permission(client, codename, allowed):
    from django.contrib.auth.models import Permission

    person = UserFactory(is_staff=True)
    person.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(person)

    assert (client.get(EXPORT).status_code == 200) is allowed


def test_the_registration_page_has_no_export_button_that_would_save_the_form(client, staff):
    registration = RegistrationFactory()

    page = client.get(change_url(registration)).content.decode()

    assert 'name="_export-item"' not in page
