"""With 20,000 registrations across 20 events the back office lists run a fixed, small number
of queries, whatever the size (timings: benchmarks/bench_admin.py, BENCHMARKS.md)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events.models import Registration
from tests.factories import bulk_registrations, event_staff_user

pytestmark = pytest.mark.django_db

REGISTRATIONS = reverse("admin:events_registration_changelist")

# Every admin page as event staff: the user, and the user's and the group's permissions
# (loaded once, then cached on the user for the request); the session comes from the cache.
SIGNED_IN = 3


@pytest.fixture(scope="module")
def large_back_office(django_db_setup, django_db_blocker):
    """20,000 registrations made once for the module, inside a transaction that is rolled
    back at its end (each test runs in a savepoint within it): nothing outlives the module,
    even if the run is killed."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield bulk_registrations(events=20, registrations=20_000)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def back_office(large_back_office, client):
    client.force_login(event_staff_user())
    return large_back_office


def pages(events):
    event = events[3]
    return {
        # + the page's COUNT, the page of 100 rows with their events, the event filter's
        # choices (one small query); no full-table COUNT(*) (show_full_result_count off).
        "registrations": (REGISTRATIONS, SIGNED_IN + 3, 100),
        "filtered": (
            f"{REGISTRATIONS}?event__id__exact={event.pk}&status__exact=confirmed"
            "&institution_kind=university&checked_in=no",
            SIGNED_IN + 3,
            None,
        ),
        # + the event filter's choices and one query for both the count and the page: a
        # search scans the table, so it does so once (SinglePassPaginator).
        "search": (f"{REGISTRATIONS}?q=Astrid+Lindqvist", SIGNED_IN + 2, 100),
        # + the network filter's choices, COUNT of the page and of all events (cheap here:
        # twenty rows), the page of events with their networks.
        "events": (reverse("admin:events_event_changelist"), SIGNED_IN + 4, 20),
    }


@pytest.mark.parametrize("page", ["registrations", "filtered", "search", "events"])
def test_large_lists_run_a_fixed_number_of_queries(client, back_office, page):
    url, queries, rows = pages(back_office)[page]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert len(captured) == queries, "\n".join(query["sql"][:200] for query in captured)
    shown = response.context["cl"].result_list
    if rows is not None:
        assert len(shown) == rows
    if page == "filtered":
        expected = Registration.objects.filter(
            event=back_office[3],
            status=Registration.Status.CONFIRMED,
            institution__kind="university",
            checked_in_at__isnull=True,
        ).count()
        assert response.context["cl"].result_count == expected > 0
        assert {registration.event_id for registration in shown} == {back_office[3].pk}
    # Not a single COUNT(*) of the whole table: the filtered count is all the paginator needs.
    unfiltered_counts = [
        query["sql"]
        for query in captured
        if query["sql"].startswith('SELECT COUNT(*) AS "__count" FROM "events_registration"')
        and "WHERE" not in query["sql"]
    ]
    assert len(unfiltered_counts) == (1 if page == "registrations" else 0)


def test_the_registrations_list_shows_the_count_without_a_second_count(client, back_office):
    response = client.get(f"{REGISTRATIONS}?status__exact=waitlisted")
    content = response.content.decode()
    assert "2000 registrations" in content
    # The admin's "(20000 total)" would need a second count of the whole table.
    assert "total)" not in content
