"""What must never happen in the member list is refused by the database itself."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from members.models import Institution, InstitutionDomain, Membership
from tests.factories import InstitutionDomainFactory, InstitutionFactory

D = datetime.date


@pytest.fixture
def lund(db):
    lund = InstitutionFactory(name="Lund University")
    InstitutionDomainFactory(institution=lund, domain="lu.se")
    return lund


def test_a_domain_belongs_to_one_institution_only(lund):
    other = InstitutionFactory(name="Lund Copy")
    with pytest.raises(IntegrityError), transaction.atomic():
        InstitutionDomain.objects.create(institution=other, domain="lu.se")
    with pytest.raises(IntegrityError), transaction.atomic():
        InstitutionDomain.objects.create(institution=lund, domain="lu.se", audience="students")


@pytest.mark.parametrize(
    "domain",
    [
        "LU.se",
        "@lu.se",
        ".lu.se",
        "lu.se.",
        "",
        "lu",
        "lu se",
        "lu..se",
        "anna@ku.dk",
        "bücher.se",  # stored in IDNA form only
        "lu_se.se",
    ],
)
def test_only_normalised_domains_are_stored(lund, domain):
    with pytest.raises(IntegrityError), transaction.atomic():
        InstitutionDomain.objects.create(institution=lund, domain=domain)


@pytest.mark.parametrize("domain", ["ku.dk", "xn--bcher-kva.se", "leo-pharma.com", "a.b.c.dk"])
def test_normalised_domains_are_stored(lund, domain):
    InstitutionDomain.objects.create(institution=lund, domain=domain)


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "allowed"),
    [
        (D(2026, 1, 1), D(2025, 12, 31), False),
        (D(2026, 1, 1), D(2026, 1, 1), True),
        (D(2026, 1, 1), D(2026, 12, 31), True),
        (D(2026, 1, 1), None, True),
    ],
)
def test_a_membership_never_ends_before_it_starts(lund, starts_on, ends_on, allowed):
    create = lambda: Membership.objects.create(  # noqa: E731
        institution=lund, starts_on=starts_on, ends_on=ends_on
    )
    if allowed:
        create()
    else:
        with pytest.raises(IntegrityError), transaction.atomic():
            create()


@pytest.mark.parametrize(("kind", "country"), [("school", "SE"), ("university", "NO")])
def test_kind_and_country_are_from_the_lists(db, kind, country):
    with pytest.raises(IntegrityError), transaction.atomic():
        Institution.objects.create(name="X", kind=kind, country=country)


def test_overlapping_memberships_are_allowed_and_history_kept(lund):
    Membership.objects.create(institution=lund, starts_on=D(2024, 1, 1), ends_on=D(2026, 12, 31))
    Membership.objects.create(institution=lund, starts_on=D(2026, 1, 1), ends_on=None)
    assert lund.memberships.covering(D(2026, 6, 1)).count() == 2
    assert lund.memberships.covering(D(2025, 6, 1)).count() == 1
    assert lund.memberships.covering(D(2023, 12, 31)).count() == 0
