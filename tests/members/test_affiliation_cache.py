"""Cached affiliations (members/affiliation.py, members/signals.py): a person's resolution is
reused until anything it is resolved from is written, and never afterwards."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members import affiliation
from members.affiliation import (
    forget_cached_affiliations,
    resolve_verified_affiliations,
    verified_affiliations,
)
from members.models import Institution, InstitutionDomain
from tests.factories import (
    InstitutionDomainFactory,
    InstitutionFactory,
    MembershipFactory,
    UserFactory,
    add_email,
    member_institution,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def described(user) -> list[tuple[str, str, str, bool]]:
    return [
        (a.email, a.institution.name, a.audience, a.is_member_on(on=TODAY))
        for a in verified_affiliations(user=user)
    ]


@pytest.fixture
def anna():
    member_institution(domain="lu.se", name="Lund University")
    return UserFactory(email="anna@lu.se")


def test_a_second_resolution_runs_no_query_and_gives_the_same_answer(
    anna, django_assert_num_queries
):
    first = described(anna)
    assert first == [("anna@lu.se", "Lund University", "staff", True)]
    with django_assert_num_queries(0):
        # memberships travel with the cached institution: judging them runs no query
        assert described(anna) == first


def test_people_are_cached_apart(anna):
    bo = UserFactory(email="bo@gmail.com")
    assert described(anna)[0][1] == "Lund University"
    assert described(bo) == []
    assert described(anna)[0][1] == "Lund University"


def _lund(anna) -> Institution:
    return Institution.objects.get(name="Lund University")


# Each write to what affiliations come from, and what Anna's answer is afterwards.
WRITES = {
    "address added and verified": (
        lambda anna: add_email(anna, "anna@ku.dk"),
        [
            ("anna@lu.se", "Lund University", "staff", True),
            ("anna@ku.dk", "University of Copenhagen", "staff", True),
        ],
    ),
    "address verified later": (
        lambda anna: EmailAddress.objects.get(email="anna@ku.dk").set_verified(),
        None,  # the address exists unverified first (below); the answer as when added
    ),
    "address removed": (
        lambda anna: EmailAddress.objects.get(email="anna@lu.se").delete(),
        [],
    ),
    "membership ended": (
        lambda anna: _end_memberships(_lund(anna)),
        [("anna@lu.se", "Lund University", "staff", False)],
    ),
    "membership added": (
        lambda anna: MembershipFactory(institution=InstitutionFactory(name="Other")),
        [("anna@lu.se", "Lund University", "staff", True)],
    ),
    "domain re-labelled for students": (
        lambda anna: _relabel(InstitutionDomain.objects.get(domain="lu.se")),
        [("anna@lu.se", "Lund University", "students", True)],
    ),
    "domain deleted": (
        lambda anna: InstitutionDomain.objects.get(domain="lu.se").delete(),
        [],
    ),
    "institution renamed": (
        lambda anna: _rename(_lund(anna), "Lunds universitet"),
        [("anna@lu.se", "Lunds universitet", "staff", True)],
    ),
    "institution deleted": (
        lambda anna: _lund(anna).delete(),
        [],
    ),
}


def _end_memberships(institution):
    for membership in institution.memberships.all():
        membership.ends_on = TODAY - datetime.timedelta(days=1)
        membership.starts_on = min(membership.starts_on, membership.ends_on)
        membership.save()


def _relabel(domain):
    domain.audience = InstitutionDomain.Audience.STUDENTS
    domain.save()


def _rename(institution, name):
    institution.name = name
    institution.save()


@pytest.mark.parametrize("write", list(WRITES))
def test_any_write_to_what_affiliations_come_from_makes_the_cached_answer_stale(anna, write):
    member_institution(domain="ku.dk", name="University of Copenhagen")
    change, expected = WRITES[write]
    if write == "address verified later":
        add_email(anna, "anna@ku.dk", verified=False)
        expected = WRITES["address added and verified"][1]
    before = described(anna)  # cached now
    assert before == [("anna@lu.se", "Lund University", "staff", True)]
    change(anna)
    assert described(anna) == expected
    assert described(anna) == resolve_verified_affiliations_described(anna)


def resolve_verified_affiliations_described(user):
    return [
        (a.email, a.institution.name, a.audience, a.is_member_on(on=TODAY))
        for a in resolve_verified_affiliations(user=user)
    ]


def test_an_import_of_institutions_makes_it_stale(db):
    """The import writes memberships with bulk_create (no signals) and resets the cache."""
    import tablib

    from members.resources import InstitutionResource

    headers = ["name", "short_name", "kind", "country", "website", "domains", "memberships"]

    def import_novo(memberships):
        row = ["Novo Nordisk A/S", "Novo", "company", "DK", "", "novonordisk.com", memberships]
        result = InstitutionResource().import_data(tablib.Dataset(row, headers=headers))
        assert not result.has_errors() and not result.has_validation_errors()

    import_novo("2025-03-01..2025-03-01")
    maja = UserFactory(email="maja@novonordisk.com")
    assert described(maja) == [("maja@novonordisk.com", "Novo Nordisk A/S", "staff", False)]
    import_novo(f"2025-03-01..2025-03-01\n{TODAY.year}-01-01..")
    assert described(maja) == [("maja@novonordisk.com", "Novo Nordisk A/S", "staff", True)]


def test_a_resolution_read_before_a_commit_is_not_used_after_it(
    anna, django_capture_on_commit_callbacks
):
    """The race the second reset is for: a request reads the generation, then the old rows,
    while another transaction writes and commits; what it caches must not be served."""
    key = affiliation._resolution_key(anna.pk)
    described(anna)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        forget_cached_affiliations()  # the writer's transaction: first reset
        # A reader between the writer's first reset and its commit caches the old rows
        # under the generation it starts.
        affiliation.verified_affiliations(user=anna)
        stamped_generation, _ = cache.get(key)
        assert stamped_generation == cache.get(affiliation._GENERATION_KEY)
    assert len(callbacks) == 1
    callbacks[0]()  # the commit: second reset
    assert stamped_generation != cache.get(affiliation._GENERATION_KEY)
    with CaptureQueriesContext(connection) as queries:
        described(anna)
    assert len(queries) > 0  # resolved again, not served from the stale entry


def test_a_flushed_cache_starts_a_new_generation(anna, django_assert_num_queries):
    described(anna)
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert described(anna)[0][1] == "Lund University"
    assert len(queries) > 0
    with django_assert_num_queries(0):
        described(anna)


def test_without_a_reachable_cache_it_asks_the_database(anna, settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "mva.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }
    assert described(anna) == [("anna@lu.se", "Lund University", "staff", True)]


def test_without_a_reachable_cache_writes_still_succeed(
    anna, settings, django_capture_on_commit_callbacks
):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "mva.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        InstitutionDomainFactory(institution=_lund(anna), domain="med.lu.se")
    assert callbacks  # the reset at commit ran, and failed quietly
    assert InstitutionDomain.objects.filter(domain="med.lu.se").exists()
