"""The affiliation rule (DESIGN.md section 3, members/affiliation.py), table-driven."""

import datetime

import pytest
from django.utils import timezone

from members.affiliation import (
    InvalidDomain,
    affiliation_for_address,
    affiliations_by_address,
    affiliations_for_addresses,
    domain_of_address,
    is_member_on,
    member_institution_ids_on,
    normalise_domain,
    verified_affiliations,
    with_member_flag,
)
from members.models import Institution, InstitutionDomain, Membership
from tests.factories import (
    InstitutionDomainFactory,
    InstitutionFactory,
    MembershipFactory,
    UserFactory,
    add_email,
)

STAFF = InstitutionDomain.Audience.STAFF
STUDENTS = InstitutionDomain.Audience.STUDENTS


# -- normalising domains ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("lu.se", "lu.se"),
        ("LU.SE", "lu.se"),
        ("@lu.se", "lu.se"),
        (".lu.se", "lu.se"),
        ("lu.se.", "lu.se"),
        ("  Med.Lu.Se \n", "med.lu.se"),
        ("bücher.se", "xn--bcher-kva.se"),
        ("BÜCHER.SE", "xn--bcher-kva.se"),
        ("xn--bcher-kva.se", "xn--bcher-kva.se"),
        ("XN--BCHER-KVA.SE", "xn--bcher-kva.se"),
        ("malmö.se", "xn--malm-8qa.se"),
        ("ｌｕ.ｓｅ", "lu.se"),  # full-width letters are the same domain under IDNA
        ("leo-pharma.com", "leo-pharma.com"),
        ("a1.b2.dk", "a1.b2.dk"),
    ],
)
def test_normalise_domain(value, expected):
    assert normalise_domain(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "@",
        ".",
        "lu",  # a single label is not a domain anyone's mail lives at
        "lu..se",
        "lu se",
        "lu.se/x",
        "-lu.se",
        "lu-.se",
        "lu_se.se",
        "a" * 64 + ".se",
        ".".join(["abcdefghi"] * 26) + ".se",  # 262 characters
        "anna@lu.se",
        "[192.168.0.1]",
        "straße.de",  # IDNA 2003 and 2008 disagree: refused rather than guessed
        "lu\u200d.se",
        None,
        42,
    ],
)
def test_normalise_domain_refuses(value):
    with pytest.raises(InvalidDomain):
        normalise_domain(value)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("anna@lu.se", "lu.se"),
        ("Anna.Svensson@Med.LU.SE", "med.lu.se"),
        ("anna+events@lu.se", "lu.se"),
        (" anna@lu.se ", "lu.se"),
        ("anna@lu.se@evil.com", "evil.com"),
        ('"anna@lu.se"@evil.com', "evil.com"),
        ("lu.se@evil.com", "evil.com"),
        ("anna@bücher.se", "xn--bcher-kva.se"),
        ("@lu.se", None),
        ("lu.se", None),
        ("anna@", None),
        ("anna@lu", None),
        ("anna@lu .se", None),
        ("anna@[192.168.0.1]", None),
        ("", None),
        (None, None),
        ("a" * 250 + "@lu.se", None),
    ],
)
def test_domain_of_address(email, expected):
    assert domain_of_address(email) == expected


# -- matching addresses to institutions -------------------------------------------------------


@pytest.fixture
def world(db):
    """Lund (staff at lu.se and sub-domains, students at student.lu.se exactly), Copenhagen
    (staff at ku.dk exactly), a Swedish institute with an internationalised domain, and
    med.example.org, a sub-domain listed on its own for another institution."""
    lund = InstitutionFactory(name="Lund University", short_name="LU")
    InstitutionDomainFactory(institution=lund, domain="lu.se", include_subdomains=True)
    InstitutionDomainFactory(
        institution=lund, domain="student.lu.se", include_subdomains=False, audience=STUDENTS
    )
    copenhagen = InstitutionFactory(name="University of Copenhagen", short_name="KU")
    InstitutionDomainFactory(institution=copenhagen, domain="ku.dk", include_subdomains=False)
    books = InstitutionFactory(name="Bücher Institute", short_name="BI")
    InstitutionDomainFactory(institution=books, domain=normalise_domain("bücher.se"))
    parent = InstitutionFactory(name="Example Group", short_name="EG")
    InstitutionDomainFactory(institution=parent, domain="example.org", include_subdomains=True)
    clinic = InstitutionFactory(name="Example Clinic", short_name="EC")
    InstitutionDomainFactory(institution=clinic, domain="med.example.org")
    for institution in [lund, copenhagen, books, parent, clinic]:
        MembershipFactory(institution=institution)
    return {i.short_name: i for i in [lund, copenhagen, books, parent, clinic]}


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        # exact domain and sub-domains of a staff domain
        ("anna@lu.se", ("LU", STAFF)),
        ("anna@med.lu.se", ("LU", STAFF)),
        ("anna@biol.med.lu.se", ("LU", STAFF)),
        ("anna+events@lu.se", ("LU", STAFF)),
        # a student domain under a staff domain: the longer one wins
        ("anna@student.lu.se", ("LU", STUDENTS)),
        # a sub-domain of a domain that does not allow them, even though a shorter parent
        # (lu.se, staff with sub-domains) would: never staff, no institution at all
        ("anna@x.student.lu.se", None),
        ("anna@a.b.student.lu.se", None),
        # a domain that does not allow sub-domains
        ("anna@ku.dk", ("KU", STAFF)),
        ("anna@sund.ku.dk", None),
        # the longest listed domain wins, across institutions
        ("anna@example.org", ("EG", STAFF)),
        ("anna@hq.example.org", ("EG", STAFF)),
        ("anna@med.example.org", ("EC", STAFF)),
        ("anna@ward.med.example.org", ("EC", STAFF)),
        # case does not matter
        ("ANNA@LU.SE", ("LU", STAFF)),
        ("Anna@Med.Lu.Se", ("LU", STAFF)),
        ("anna@STUDENT.lu.se", ("LU", STUDENTS)),
        ("anna@lu.se.", ("LU", STAFF)),  # the fully qualified form of the same domain
        # internationalised domains compare in IDNA form
        ("anna@bücher.se", ("BI", STAFF)),
        ("anna@BÜCHER.SE", ("BI", STAFF)),
        ("anna@xn--bcher-kva.se", ("BI", STAFF)),
        ("anna@sub.bücher.se", ("BI", STAFF)),
        ("anna@bucher.se", None),
        # look-alikes never match
        ("anna@lu.se.evil.com", None),
        ("anna@evil-lu.se", None),
        ("anna@evillu.se", None),
        ("anna@lu-se.com", None),
        ("anna@lu.ѕe", None),  # Cyrillic dze, not "s"
        ("anna@lü.se", None),
        ("anna@lu.se.", ("LU", STAFF)),
        ("anna@ku.dk.evil.com", None),
        # odd local parts: only the part after the last "@" is the domain
        ("anna@lu.se@evil.com", None),
        ('"anna@lu.se"@evil.com', None),
        ("lu.se@evil.com", None),
        ("evil.com@lu.se", ("LU", STAFF)),
        ("@lu.se", None),
        ("lu.se", None),
        ("anna@", None),
        ("", None),
        ("anna@gmail.com", None),
    ],
)
def test_affiliation_for_address(world, email, expected):
    affiliation = affiliation_for_address(email=email)
    if expected is None:
        assert affiliation is None
    else:
        _short_name, audience = expected
        assert affiliation is not None
        assert (affiliation.institution.short_name, affiliation.audience) == expected
        assert affiliation.is_staff == (audience == STAFF)
        assert affiliation.email == email


def test_many_addresses_resolve_together_keyed_as_given(world, django_assert_num_queries):
    emails = ["anna@lu.se", "ANNA@student.lu.se", "anna@gmail.com", "not an address"]
    with django_assert_num_queries(2):
        found = affiliations_for_addresses(emails=emails)
        # memberships are prefetched: judging membership runs no query
        assert found["anna@lu.se"].is_member_on(on=timezone.localdate())
    assert set(found) == {"anna@lu.se", "ANNA@student.lu.se"}
    assert found["ANNA@student.lu.se"].audience == STUDENTS


def test_no_usable_address_runs_no_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert affiliations_for_addresses(emails=["", "nobody", "x@localhost"]) == {}


# -- a user's verified addresses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        # (address, verified, primary) ...; expected: short names in order
        ([("anna@lu.se", True, True)], ["LU"]),
        ([("anna@lu.se", False, True)], []),
        # an unverified address is ignored beside verified ones
        ([("anna@gmail.com", True, True), ("anna@lu.se", False, False)], []),
        ([("anna@lu.se", True, True), ("anna@ku.dk", False, False)], ["LU"]),
        # two verified addresses at two institutions: both, primary first
        ([("anna@ku.dk", True, False), ("anna@lu.se", True, True)], ["LU", "KU"]),
        ([("anna@gmail.com", True, True), ("anna@ku.dk", True, False)], ["KU"]),
        ([("anna@student.lu.se", True, True), ("anna@med.lu.se", True, False)], ["LU", "LU"]),
        ([("anna@x.student.lu.se", True, True)], []),
    ],
)
def test_verified_affiliations(world, addresses, expected):
    (first, first_verified, _primary), *others = addresses
    user = UserFactory(email=first, verified=first_verified)
    for email, verified, primary in others:
        address = add_email(user, email, verified=verified)
        if primary:
            user.emailaddress_set.exclude(pk=address.pk).update(primary=False)
            address.primary = True
            address.save()
    found = verified_affiliations(user=user)
    assert [a.institution.short_name for a in found] == expected


def test_verified_affiliations_of_nobody(db):
    from django.contrib.auth.models import AnonymousUser

    assert verified_affiliations(user=None) == []
    assert verified_affiliations(user=AnonymousUser()) == []
    assert affiliations_by_address(user=AnonymousUser()) == []


def test_affiliations_by_address_lists_unverified_too(world):
    user = UserFactory(email="anna@gmail.com")
    add_email(user, "anna@lu.se", verified=False)
    add_email(user, "anna@ku.dk", verified=True)
    rows = affiliations_by_address(user=user)
    assert [(r.email, r.verified, r.primary) for r in rows] == [
        ("anna@gmail.com", True, True),
        ("anna@ku.dk", True, False),
        ("anna@lu.se", False, False),
    ]
    assert [r.affiliation.institution.short_name if r.affiliation else None for r in rows] == [
        None,
        "KU",
        "LU",
    ]
    assert [r.counts for r in rows] == [False, True, False]


@pytest.mark.parametrize("institution_count", [10, 1000])
def test_query_count_does_not_grow_with_institutions(
    db, django_assert_num_queries, institution_count
):
    institutions = Institution.objects.bulk_create(
        Institution(name=f"Institution {n}", kind="university", country="SE")
        for n in range(institution_count)
    )
    InstitutionDomain.objects.bulk_create(
        domain
        for n, institution in enumerate(institutions)
        for domain in (
            InstitutionDomain(institution=institution, domain=f"inst{n}.se"),
            InstitutionDomain(
                institution=institution,
                domain=f"student.inst{n}.se",
                audience=STUDENTS,
                include_subdomains=False,
            ),
        )
    )
    today = datetime.date(2030, 6, 1)
    Membership.objects.bulk_create(
        Membership(institution=institution, starts_on=datetime.date(2030, 1, 1))
        for institution in institutions
    )
    user = UserFactory(email="anna@inst1.se")
    add_email(user, "anna@med.inst5.se")
    add_email(user, "anna@student.inst9.se")
    add_email(user, "anna@gmail.com")
    add_email(user, f"anna@inst{institution_count - 1}.se", verified=False)
    # addresses, domains with institutions, memberships
    with django_assert_num_queries(3):
        found = verified_affiliations(user=user)
        assert [a.is_member_on(on=today) for a in found] == [True, True, True]
    assert [a.institution.name for a in found] == [
        "Institution 1",
        "Institution 5",
        "Institution 9",
    ]
    with django_assert_num_queries(3):
        assert len(affiliations_by_address(user=user)) == 5


# -- membership on a date ---------------------------------------------------------------------

D = datetime.date


@pytest.mark.parametrize(
    ("periods", "on", "expected"),
    [
        ([], D(2026, 6, 1), False),
        ([(D(2026, 1, 1), D(2026, 12, 31))], D(2026, 6, 1), True),
        # starting after the date
        ([(D(2026, 6, 2), D(2026, 12, 31))], D(2026, 6, 1), False),
        # starting exactly on the date
        ([(D(2026, 6, 1), D(2026, 12, 31))], D(2026, 6, 1), True),
        # ending before the date
        ([(D(2025, 1, 1), D(2026, 5, 31))], D(2026, 6, 1), False),
        # ending exactly on the date
        ([(D(2025, 1, 1), D(2026, 6, 1))], D(2026, 6, 1), True),
        # a one-day membership
        ([(D(2026, 6, 1), D(2026, 6, 1))], D(2026, 6, 1), True),
        # running on
        ([(D(2020, 1, 1), None)], D(2026, 6, 1), True),
        ([(D(2026, 6, 2), None)], D(2026, 6, 1), False),
        # two overlapping memberships
        ([(D(2025, 1, 1), D(2026, 12, 31)), (D(2026, 1, 1), D(2027, 12, 31))], D(2026, 6, 1), True),
        ([(D(2025, 1, 1), D(2026, 12, 31)), (D(2026, 1, 1), D(2027, 12, 31))], D(2027, 6, 1), True),
        (
            [(D(2025, 1, 1), D(2026, 12, 31)), (D(2026, 1, 1), D(2027, 12, 31))],
            D(2028, 1, 1),
            False,
        ),
        # a gap between two memberships
        ([(D(2024, 1, 1), D(2024, 12, 31)), (D(2026, 1, 1), None)], D(2025, 6, 1), False),
        ([(D(2024, 1, 1), D(2024, 12, 31)), (D(2026, 1, 1), None)], D(2024, 12, 31), True),
    ],
)
def test_is_member_on(db, periods, on, expected, django_assert_num_queries):
    institution = InstitutionFactory()
    InstitutionDomainFactory(institution=institution, domain="member.example.se")
    for starts_on, ends_on in periods:
        MembershipFactory(institution=institution, starts_on=starts_on, ends_on=ends_on)
    # asked directly, prefetched and in bulk, the answer is the same
    assert is_member_on(institution=institution, on=on) is expected
    affiliation = affiliation_for_address(email="anna@member.example.se")
    with django_assert_num_queries(0):
        assert affiliation.is_member_on(on=on) is expected
    assert (
        institution.pk in member_institution_ids_on(institution_ids=[institution.pk], on=on)
    ) is (expected)
    flagged = with_member_flag(institutions=Institution.objects.all(), on=on).get()
    assert flagged.is_member is expected
