"""The check-in page at the door: /registrations/<ticket code>/check-in/."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import resolve, reverse
from django.utils import timezone

from events import services, staff_views
from events.models import Registration
from events.tickets import check_in_url
from tests.factories import EventFactory, RegistrationFactory, UserFactory, event_staff_user

HOUR = datetime.timedelta(hours=1)

pytestmark = pytest.mark.django_db

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


PERSONAL = ["Astrid", "Lindqvist", "astrid@lu.se", "Lund University", "Vegan", "Wheelchair"]


@pytest.fixture
def registration():
    return RegistrationFactory(
        user=None,
        first_name="Astrid",
        last_name="Lindqvist",
        email="astrid@lu.se",
        institution_name="Lund University",
        dietary_needs="Vegan",
        accessibility_needs="Wheelchair access",
    )


def url(registration):
    return reverse("events:check_in", kwargs={"ticket_code": registration.ticket_code})


def test_the_ticket_qr_code_points_at_this_page(registration):
    path = check_in_url(registration=registration).split("://", 1)[1].split("/", 1)[1]
    assert resolve("/" + path).func is staff_views.check_in


def test_anonymous_visitors_see_no_personal_data_and_a_way_to_sign_in(client, registration):
    response = client.get(url(registration))
    assert response.status_code == 200
    content = response.content.decode()
    for text in PERSONAL:
        assert text not in content
    assert reverse("account_login") + "?next=" in content
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.parametrize("is_staff", [False, True], ids=["attendee", "staff-without-permission"])
def test_signed_in_people_without_the_permission_see_no_personal_data(
    client, registration, is_staff
):
    client.force_login(UserFactory(is_staff=is_staff))
    response = client.get(url(registration))
    assert response.status_code == 403
    content = response.content.decode()
    for text in PERSONAL:
        assert text not in content
    assert "Only MVA event staff" in content


def test_a_wrong_ticket_code_looks_the_same_as_a_real_one_to_outsiders(client, registration):
    client.force_login(UserFactory())
    real = client.get(url(registration))
    fake = client.get(reverse("events:check_in", kwargs={"ticket_code": "not-a-ticket"}))
    assert (real.status_code, fake.status_code) == (403, 403)

    def page(response, code):
        # The CSRF token and the page's own address (in the language switcher) differ.
        content = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        return content.replace(code, "CODE")

    assert page(real, registration.ticket_code) == page(fake, "not-a-ticket")


def test_outsiders_cannot_check_in_by_posting(client, registration):
    client.force_login(UserFactory(is_staff=True))
    response = client.post(url(registration))
    assert response.status_code == 403
    client.logout()
    response = client.post(url(registration))
    assert response.status_code == 200  # the sign-in page, nothing done
    registration.refresh_from_db()
    assert registration.checked_in_at is None


def test_event_staff_see_the_attendee_status_and_needs(client, registration):
    client.force_login(event_staff_user())
    response = client.get(url(registration))
    assert response.status_code == 200
    content = response.content.decode()
    for text in ["Astrid Lindqvist", "Lund University", "Confirmed", "Vegan", "Wheelchair access"]:
        assert text in content
    assert 'type="submit"' in content and "Check in" in content


def test_staff_with_just_the_change_permission_may_check_in(client, registration):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_registration"))
    client.force_login(user)
    assert client.get(url(registration)).status_code == 200


def test_one_post_checks_in_and_a_second_scan_says_when(client, registration):
    staff = event_staff_user()
    client.force_login(staff)
    response = client.post(url(registration), follow=True)
    assert response.redirect_chain == [(f"{url(registration)}?checked_in=1", 302)]
    registration.refresh_from_db()
    assert registration.checked_in_at is not None
    assert registration.checked_in_by == staff
    local = timezone.localtime(registration.checked_in_at).strftime("%H:%M")
    done = response.content.decode()
    assert f"is checked in at {local}" in done
    # Right after one's own check-in the page says it is done, not "already" (a warning).
    assert f'<span class="badge badge-ok">Checked in at {local}</span>' in done
    assert "Already checked in" not in done

    again = client.get(url(registration)).content.decode()
    assert f"Already checked in at {local}" in again
    assert staff.get_full_name() in again
    assert 'type="submit" class="button"' not in again


def test_a_second_post_keeps_the_first_time_and_says_it(client, registration):
    first = datetime.datetime(2030, 5, 14, 9, 12, tzinfo=COPENHAGEN)
    services.check_in(registration_id=registration.pk, checked_in_by=event_staff_user(), now=first)
    client.force_login(event_staff_user())
    response = client.post(url(registration), follow=True)
    content = response.content.decode()
    assert "was already checked in at 09:12 on 14 May 2030" in content
    registration.refresh_from_db()
    assert registration.checked_in_at == first


def test_the_same_day_shows_only_the_time(registration):
    registration.checked_in_at = timezone.now().astimezone(COPENHAGEN).replace(hour=9, minute=12)
    assert staff_views.checked_in_moment(registration) == "09:12"


@pytest.mark.parametrize("status", [Registration.Status.WAITLISTED, Registration.Status.CANCELLED])
def test_people_without_a_confirmed_seat_are_not_checked_in(client, status):
    registration = RegistrationFactory(status=status)
    client.force_login(event_staff_user())
    page = client.get(url(registration)).content.decode()
    assert "This registration is not confirmed" in page
    assert 'class="button">' not in page
    response = client.post(url(registration), follow=True)
    assert "This registration is not confirmed." in response.content.decode()
    registration.refresh_from_db()
    assert registration.checked_in_at is None


def test_erased_needs_are_shown_as_erased(client):
    registration = RegistrationFactory(special_needs_erased_at=timezone.now())
    client.force_login(event_staff_user())
    assert "Erased after the event" in client.get(url(registration)).content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_staff_are_told_plainly_that_an_unknown_code_is_no_ticket(client, method):
    client.force_login(event_staff_user())
    response = getattr(client, method)(reverse("events:check_in", kwargs={"ticket_code": "nope"}))
    assert response.status_code == 404
    content = response.content.decode()
    assert "This is not a ticket of ours: no registration has this code." in content
    assert reverse("admin:events_registration_changelist") in content


def test_other_methods_are_refused(client, registration):
    client.force_login(event_staff_user())
    assert client.put(url(registration)).status_code == 405


@pytest.mark.parametrize(
    ("days_away", "warned"),
    [(-2, True), (0, False), (1, True), (30, True)],
    ids=["two days ago", "today", "tomorrow", "next month"],
)
def test_a_ticket_for_another_day_is_pointed_out(client, days_away, warned):
    starts_at = timezone.now() + datetime.timedelta(days=days_away)
    registration = RegistrationFactory(
        event__starts_at=starts_at, event__ends_at=starts_at + datetime.timedelta(minutes=1)
    )
    client.force_login(event_staff_user())
    page = client.get(url(registration)).content.decode()
    assert ("not today" in page) is warned


# --- Tickets that do not admit, own tickets, two-factor ---------------------------------------


def test_a_ticket_of_a_cancelled_event_is_not_checked_in(client, registration):
    from events.models import Event

    Event.objects.filter(pk=registration.event_id).update(status=Event.Status.CANCELLED)
    client.force_login(event_staff_user())

    page = client.get(url(registration))
    response = client.post(url(registration), follow=True)

    assert "The event is cancelled: this ticket is not valid." in page.content.decode()
    assert ">Check in</button>" not in page.content.decode()
    assert [str(m) for m in response.context["messages"]] == [
        "The event is cancelled: this ticket is not valid."
    ]
    assert "badge-ok" not in page.content.decode()  # no green "Confirmed" beside it
    registration.refresh_from_db()
    assert registration.checked_in_at is None


def test_an_attendee_scanning_their_own_ticket_is_shown_the_way_to_it(client):
    own = RegistrationFactory()
    client.force_login(own.user)

    response = client.get(url(own))

    assert response.status_code == 200  # their own ticket: nothing is refused them
    html = response.content.decode()
    assert f'href="{own.get_absolute_url()}"' in html
    assert "This is your own ticket: show it at the entrance" in html
    assert "Your account cannot see this ticket" not in html
    own.refresh_from_db()
    assert own.checked_in_at is None


@pytest.mark.parametrize(
    ("status", "event_status", "says"),
    [
        ("cancelled", "published", "but it is cancelled: it admits nobody"),
        ("waitlisted", "published", "but you are on the waiting list"),
        ("confirmed", "cancelled", "but the organisers have cancelled the event"),
        ("confirmed", "draft", "but the event is not open at the moment"),
    ],
)
def test_an_attendee_scanning_their_own_registration_that_admits_nobody_is_told_why(
    client, status, event_status, says
):
    own = RegistrationFactory(status=status, event=EventFactory(status=event_status))
    client.force_login(own.user)

    html = client.get(url(own)).content.decode()

    assert says in html
    assert "show it at the entrance" not in html


def test_someone_else_s_ticket_gives_no_way_to_it(client, registration):
    client.force_login(UserFactory())
    response = client.get(url(registration))
    assert f'href="{registration.get_absolute_url()}"' not in response.content.decode()
    assert response.status_code == 403
    assert "This is your own ticket" not in response.content.decode()


@pytest.mark.parametrize(("required", "status"), [(True, 302), (False, 200)])
def test_check_in_needs_two_factor_when_the_back_office_does(
    client, settings, registration, required, status
):
    settings.MFA_REQUIRED_FOR_STAFF = required
    client.force_login(event_staff_user())

    page = client.get(url(registration))
    posted = client.post(url(registration))

    assert page.status_code == status
    if required:
        assert page.url == reverse("mfa_activate_totp")
        assert posted.url == reverse("mfa_activate_totp")
        registration.refresh_from_db()
        assert registration.checked_in_at is None
    else:
        assert "Astrid" in page.content.decode()


@pytest.mark.parametrize("code", ["%00", "a%00b", "..", "a.b", "x" * 65])
@pytest.mark.parametrize("suffix", ["", "check-in/", "details/", "cancel/", "ticket.png"])
def test_malformed_ticket_codes_are_404(client, code, suffix):
    client.force_login(event_staff_user())
    assert client.get(f"/registrations/{code}/{suffix}").status_code == 404


def test_the_permission_without_staff_status_shows_nothing(client, registration):
    person = UserFactory(is_staff=False)
    person.user_permissions.add(Permission.objects.get(codename="change_registration"))
    client.force_login(person)

    response = client.get(url(registration))

    assert response.status_code == 403
    for text in PERSONAL:
        assert text not in response.content.decode()


@pytest.mark.parametrize(
    ("setup", "title"),
    [
        ("fresh", "Check in: "),
        ("checked", "Already checked in: "),
        ("waitlisted", "Not valid: "),
        ("next_month", "Not today: "),
    ],
)
def test_the_page_title_says_the_outcome_first(client, setup, title):
    now = timezone.now()
    starts = now + datetime.timedelta(days=30) if setup == "next_month" else now - HOUR
    event = EventFactory(
        starts_at=starts,
        ends_at=starts + 5 * HOUR,
        registration_opens_at=starts - datetime.timedelta(days=40),
        registration_closes_at=None,
        cancellation_deadline=None,
    )
    registration = RegistrationFactory(
        event=event, status="waitlisted" if setup == "waitlisted" else "confirmed"
    )
    if setup == "checked":
        Registration.objects.filter(pk=registration.pk).update(checked_in_at=now)
    client.force_login(event_staff_user())

    html = client.get(url(registration)).content.decode()

    assert f"<title>{title}{registration.full_name}" in html
