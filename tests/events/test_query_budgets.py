"""The attendee pages run a fixed number of queries, however many events, programme items and
registrations there are. Each page is requested with a few and with many of them under the
same exact budget, so an N+1 fails here and a new query is a deliberate change."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from events.models import Event, Registration
from tests.factories import (
    EventFactory,
    NetworkFactory,
    ProgrammeItemFactory,
    RegistrationFactory,
    UserFactory,
    member_institution,
)

pytestmark = pytest.mark.django_db

FEW, MANY = 2, 30
DAY = datetime.timedelta(days=1)

# A signed-in request reads the user before the view runs (the session comes from the cache).
SIGNED_IN = 1


@pytest.fixture
def member_staff():
    member_institution(domain="lu.se", name="Lund University")
    return UserFactory(email="budget@lu.se")


def add_events(count: int, *, attendee=None) -> None:
    """`count` upcoming and `count` past events in two networks; `attendee` (if given) is
    registered for each upcoming one."""
    networks = [NetworkFactory(slug="budget-a"), NetworkFactory(slug="budget-b")]
    now = timezone.now()
    existing = Event.objects.count()
    for number in range(existing, existing + count):
        upcoming = EventFactory(network=networks[number % 2], starts_at=now + (number + 1) * DAY)
        starts_at = now - (number + 2) * DAY
        past = EventFactory(
            network=networks[number % 2],
            starts_at=starts_at,
            registration_opens_at=starts_at - 30 * DAY,
            registration_closes_at=starts_at - DAY,
            cancellation_deadline=starts_at - 2 * DAY,
        )
        if attendee is not None:
            RegistrationFactory(event=upcoming, user=attendee)
            RegistrationFactory(event=past, user=attendee, status=Registration.Status.WAITLISTED)


@pytest.mark.parametrize(
    ("signed_in", "budget"),
    [
        (False, 3),  # networks, upcoming events, past events
        (True, SIGNED_IN + 4),  # … and the person's registrations among the upcoming ones
    ],
)
def test_event_list(client, django_assert_num_queries, user, signed_in, budget):
    attendee = None
    if signed_in:
        client.force_login(user)
        attendee = user
    for count in (FEW, MANY - FEW):
        add_events(count, attendee=attendee)
        with django_assert_num_queries(budget):
            response = client.get(reverse("events:list"), {"network": "budget-a"})
        assert response.status_code == 200
        assert len(response.context["upcoming"]) == Event.objects.count() // 4


@pytest.mark.parametrize(
    ("who", "budget"),
    [
        # the event, its programme
        ("anonymous", 2),
        # … the verified addresses, their domains, the memberships, the own registration
        ("member_staff", SIGNED_IN + 6),
        ("attendee", SIGNED_IN + 6),
        # … and the place on the waiting list (a count, only for a wait-listed visitor)
        ("waitlisted", SIGNED_IN + 7),
    ],
)
def test_event_detail(client, django_assert_num_queries, member_staff, who, budget):
    if who != "anonymous":
        client.force_login(member_staff)
    for count in (FEW, MANY):
        event = EventFactory()
        for _ in range(count):
            ProgrammeItemFactory(event=event)
            RegistrationFactory(event=event)
            RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
        if who == "attendee":
            RegistrationFactory(event=event, user=member_staff)
        if who == "waitlisted":
            RegistrationFactory(
                event=event, user=member_staff, status=Registration.Status.WAITLISTED
            )
        with django_assert_num_queries(budget):
            response = client.get(event.get_absolute_url())
        assert response.status_code == 200
        assert len(response.context["programme"]) == count
        if who == "waitlisted":
            assert response.context["registration"].position == count + 1


def test_a_second_view_reuses_the_visitors_affiliations(
    client, django_assert_num_queries, member_staff
):
    """The budgets above are for a first view; afterwards the price comes from cached
    affiliations (members/affiliation.py) until an address, domain or membership changes."""
    client.force_login(member_staff)
    event = EventFactory()
    client.get(event.get_absolute_url())
    # the event, its programme, the own registration
    with django_assert_num_queries(SIGNED_IN + 3):
        response = client.get(event.get_absolute_url())
    assert response.context["decision"].category == "member_university_staff"
    # … and so do the form and the registration itself
    with django_assert_num_queries(SIGNED_IN + 2):  # the event, an existing registration
        client.get(reverse("events:register", args=[event.slug]))


def test_my_registrations(client, django_assert_num_queries, user):
    client.force_login(user)
    budget = SIGNED_IN + 1  # the registrations with their events, networks and positions
    for count in (FEW, MANY - FEW):
        add_events(count, attendee=user)
        with django_assert_num_queries(budget):
            response = client.get(reverse("events:my_registrations"))
        assert response.status_code == 200
        total = Registration.objects.filter(user=user).count()
        assert len(response.context["upcoming"]) + len(response.context["past"]) == total


@pytest.mark.parametrize(
    ("status", "budget"),
    [
        # the registration with its event
        (Registration.Status.CONFIRMED, SIGNED_IN + 1),
        # … and its place on the waiting list
        (Registration.Status.WAITLISTED, SIGNED_IN + 2),
    ],
)
def test_registration_page(client, django_assert_num_queries, user, status, budget):
    client.force_login(user)
    for count in (FEW, MANY):
        event = EventFactory(capacity=count)
        for _ in range(count):
            ProgrammeItemFactory(event=event)
            RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
        registration = RegistrationFactory(event=event, user=user, status=status)
        with django_assert_num_queries(budget):
            response = client.get(registration.get_absolute_url())
        assert response.status_code == 200
        expected = count + 1 if status == Registration.Status.WAITLISTED else None
        assert response.context["registration"].position == expected


@pytest.mark.parametrize(
    ("outcome", "budget"),
    [
        # The view: the event, the price decision (3 queries), handed to the service; the
        # service: savepoint, locked event, insert (the unique constraints, not a look-up,
        # catch a second registration), counter, outbox row (one INSERT … ON CONFLICT DO
        # NOTHING), release.
        (Registration.Status.CONFIRMED, SIGNED_IN + 10),
        (Registration.Status.WAITLISTED, SIGNED_IN + 11),  # … and the position on the list
    ],
)
def test_registration_post(client, django_assert_num_queries, member_staff, outcome, budget):
    client.force_login(member_staff)
    # Content types are cached per process after the first use, as in a running server.
    ContentType.objects.get_for_model(Registration)
    for count in (FEW, MANY):
        full = outcome == Registration.Status.WAITLISTED
        event = EventFactory(capacity=count if full else None)
        for _ in range(count):
            ProgrammeItemFactory(event=event)
            RegistrationFactory(event=event)
        Event.objects.filter(pk=event.pk).update(confirmed_count=count)
        for _ in range(count if full else 0):
            RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
        with django_assert_num_queries(budget):
            response = client.post(
                reverse("events:register", args=[event.slug]), {"dietary_needs": "Vegan"}
            )
        registration = Registration.objects.get(event=event, user=member_staff)
        assert response.status_code == 302
        assert response.url == registration.get_absolute_url()
        assert registration.status == outcome
