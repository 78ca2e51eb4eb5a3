"""The free-admission rule (DESIGN.md section 3), table-driven through events.pricing."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format

from events.models import AdmissionCategory, Event
from events.pricing import (
    decide_admission,
    decide_admission_for_user,
    price_list,
    price_reason_for,
    reason_text,
)
from members.affiliation import verified_affiliations
from members.models import Institution, InstitutionDomain
from tests.factories import (
    EventFactory,
    InstitutionDomainFactory,
    InstitutionFactory,
    MembershipFactory,
    RegistrationFactory,
    UserFactory,
    add_email,
)

MEMBER_PRICE = Decimal("450.00")
STANDARD_PRICE = Decimal("1250.00")

FREE = AdmissionCategory.MEMBER_UNIVERSITY_STAFF
MEMBER = AdmissionCategory.MEMBER
NON_MEMBER = AdmissionCategory.NON_MEMBER


def _institution(name, kind, domain, *, memberships=(), students_domain=None):
    institution = InstitutionFactory(name=name, kind=kind)
    InstitutionDomainFactory(institution=institution, domain=domain, include_subdomains=True)
    if students_domain:
        InstitutionDomainFactory(
            institution=institution,
            domain=students_domain,
            audience=InstitutionDomain.Audience.STUDENTS,
        )
    for starts_on, ends_on in memberships:
        MembershipFactory(institution=institution, starts_on=starts_on, ends_on=ends_on)
    return institution


@pytest.fixture
def event(db):
    starts_at = timezone.now() + datetime.timedelta(days=40)
    return EventFactory(
        starts_at=starts_at,
        member_price=MEMBER_PRICE,
        standard_price=STANDARD_PRICE,
        currency="SEK",
    )


@pytest.fixture
def institutions(event):
    day = timezone.localdate(event.starts_at)
    year = datetime.timedelta(days=365)
    covering = [(day - year, day + year)]
    _institution(
        "Lund University",
        Institution.Kind.UNIVERSITY,
        "lu.se",
        memberships=covering,
        students_domain="student.lu.se",
    )
    _institution("Region Skåne", Institution.Kind.HOSPITAL, "skane.se", memberships=covering)
    _institution("Novo Nordisk", Institution.Kind.COMPANY, "novonordisk.com", memberships=covering)
    _institution("Aarhus University", Institution.Kind.UNIVERSITY, "au.dk")
    _institution(
        "Lapsed University",
        Institution.Kind.UNIVERSITY,
        "lapsed.example.edu",
        memberships=[(day - 2 * year, day - datetime.timedelta(days=1))],
    )
    _institution(
        "Future University",
        Institution.Kind.UNIVERSITY,
        "future.example.edu",
        memberships=[(day + datetime.timedelta(days=1), day + year)],
    )
    _institution(
        "Ending University",
        Institution.Kind.UNIVERSITY,
        "ending.example.edu",
        memberships=[(day - year, day)],
    )
    _institution(
        "Ending Company",
        Institution.Kind.COMPANY,
        "ending-company.example.com",
        memberships=[(day - year, day)],
    )


CASES = [
    # (id, addresses [(email, verified)], free switched on, category, price, institution)
    ("member university staff", [("anna@lu.se", True)], True, FREE, "0", "Lund University"),
    ("sub-domain staff", [("bo@med.lu.se", True)], True, FREE, "0", "Lund University"),
    ("upper-case address", [("Cia@LU.SE", True)], True, FREE, "0", "Lund University"),
    (
        "students of a member university",
        [("dan@student.lu.se", True)],
        True,
        NON_MEMBER,
        STANDARD_PRICE,
        "Lund University",
    ),
    ("member hospital staff", [("eva@skane.se", True)], True, MEMBER, MEMBER_PRICE, "Region Skåne"),
    (
        "member company staff",
        [("finn@novonordisk.com", True)],
        True,
        MEMBER,
        MEMBER_PRICE,
        "Novo Nordisk",
    ),
    (
        "non-member university",
        [("gry@au.dk", True)],
        True,
        NON_MEMBER,
        STANDARD_PRICE,
        "Aarhus University",
    ),
    (
        "lapsed membership",
        [("hal@lapsed.example.edu", True)],
        True,
        NON_MEMBER,
        STANDARD_PRICE,
        "Lapsed University",
    ),
    (
        "membership starting after the event",
        [("ida@future.example.edu", True)],
        True,
        NON_MEMBER,
        STANDARD_PRICE,
        "Future University",
    ),
    (
        "membership ending on the event day",
        [("jan@ending.example.edu", True)],
        True,
        FREE,
        "0",
        "Ending University",
    ),
    (
        "company membership ending on the event day",
        [("kim@ending-company.example.com", True)],
        True,
        MEMBER,
        MEMBER_PRICE,
        "Ending Company",
    ),
    (
        "unverified institutional address",
        [("lea@lu.se", False)],
        True,
        NON_MEMBER,
        STANDARD_PRICE,
        None,
    ),
    ("private address only", [("max@gmail.com", True)], True, NON_MEMBER, STANDARD_PRICE, None),
    (
        "private and verified institutional address",
        [("nils@gmail.com", True), ("nils@lu.se", True)],
        True,
        FREE,
        "0",
        "Lund University",
    ),
    (
        "private and unverified institutional address",
        [("ole@gmail.com", True), ("ole@lu.se", False)],
        True,
        NON_MEMBER,
        STANDARD_PRICE,
        None,
    ),
    (
        "member company and member university: the best rate",
        [("per@novonordisk.com", True), ("per@lu.se", True)],
        True,
        FREE,
        "0",
        "Lund University",
    ),
    (
        "student and member hospital: the best rate",
        [("rut@student.lu.se", True), ("rut@skane.se", True)],
        True,
        MEMBER,
        MEMBER_PRICE,
        "Region Skåne",
    ),
    (
        "free admission switched off",
        [("sara@lu.se", True)],
        False,
        MEMBER,
        MEMBER_PRICE,
        "Lund University",
    ),
    (
        "free admission switched off, hospital unchanged",
        [("tor@skane.se", True)],
        False,
        MEMBER,
        MEMBER_PRICE,
        "Region Skåne",
    ),
    (
        "domain that only looks alike",
        [("uma@notlu.se", True)],
        True,
        NON_MEMBER,
        STANDARD_PRICE,
        None,
    ),
]


@pytest.mark.parametrize(
    ("addresses", "free", "category", "price", "institution"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide_admission(event, institutions, addresses, free, category, price, institution):
    event.member_university_staff_free = free
    primary, *others = addresses
    user = UserFactory(email=primary[0], verified=primary[1])
    for email, verified in others:
        add_email(user, email, verified=verified)

    decision = decide_admission_for_user(event=event, user=user)

    assert decision.category == category
    assert decision.price == Decimal(price)
    assert decision.currency == "SEK"
    assert decision.is_free is (Decimal(price) == 0)
    if institution is None:
        assert decision.institution is None
    else:
        assert decision.institution.name == institution
        assert institution in decision.reason


def test_no_affiliation_is_the_standard_price(event):
    decision = decide_admission(event=event, affiliations=[])
    assert decision.category == NON_MEMBER
    assert decision.price == STANDARD_PRICE
    assert decision.institution is None
    assert decision.reason


def test_decision_runs_no_queries_on_prefetched_affiliations(
    event, institutions, django_assert_num_queries
):
    user = UserFactory(email="vic@lu.se")
    add_email(user, "vic@skane.se")
    affiliations = verified_affiliations(user=user)
    with django_assert_num_queries(0):
        decision = decide_admission(event=event, affiliations=affiliations)
    assert decision.category == FREE


@pytest.mark.parametrize(
    ("free", "expected"),
    [
        (True, [Decimal("0.00"), Decimal("500.00"), Decimal("1200.00")]),
        (False, [Decimal("500.00"), Decimal("500.00"), Decimal("1200.00")]),
    ],
)
def test_the_price_list_follows_the_same_rule(db, free, expected):
    """The event page's table: member-university staff pay the member price when free
    admission is switched off, as decide_admission says."""
    event = EventFactory(
        member_university_staff_free=free,
        member_price=Decimal("500.00"),
        standard_price=Decimal("1200.00"),
    )
    listed = price_list(event=event)
    assert [label for label, _price in listed] == [
        AdmissionCategory.MEMBER_UNIVERSITY_STAFF.label,
        AdmissionCategory.MEMBER.label,
        AdmissionCategory.NON_MEMBER.label,
    ]
    assert [price for _label, price in listed] == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Standard price: Lapsed University is not a member on 14 May 2031."),
        ("sv", "Ordinarie pris: Lapsed University är inte medlem den 14 maj 2031."),
        ("da", "Lapsed University er ikke medlem den 14. maj 2031."),
    ],
)
def test_the_reason_gives_the_date_in_the_reader_s_language(db, language, expected):
    starts_at = datetime.datetime(2031, 5, 14, 9, 0, tzinfo=datetime.UTC)
    event = EventFactory(starts_at=starts_at, ends_at=starts_at + datetime.timedelta(hours=6))
    lapsed = _institution(
        "Lapsed University",
        Institution.Kind.UNIVERSITY,
        "lapsed.example.edu",
        memberships=[(datetime.date(2020, 1, 1), datetime.date(2030, 12, 31))],
    )
    user = UserFactory(email="hal@lapsed.example.edu", verified=True)

    with translation.override(language):
        decision = decide_admission_for_user(event=event, user=user)

    assert decision.institution == lapsed
    assert expected in decision.reason


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("anna@lu.se", "member_university_staff"),
        ("tor@skane.se", "member_staff"),
        ("max@gmail.com", "no_member_address"),
        ("rut@student.lu.se", "students"),
        ("hal@lapsed.example.edu", "not_a_member_on"),
    ],
)
def test_each_decision_names_its_reason_by_a_code_it_can_be_told_again_from(
    event, institutions, address, code
):
    user = UserFactory(email=address)
    with translation.override("en"):
        decision = decide_admission_for_user(event=event, user=user)
    assert decision.reason_code == code
    name = decision.institution.name if decision.institution else ""
    day = timezone.localdate(event.starts_at)
    with translation.override("en"):
        assert decision.reason == reason_text(code=code, institution_name=name, on=day)
    with translation.override("sv"):
        swedish = reason_text(code=code, institution_name=name, on=day)
    assert swedish != decision.reason and name in swedish


def test_a_registration_s_reason_is_told_in_the_reader_s_language_never_decided_again(event):
    registration = RegistrationFactory(
        event=event,
        institution_name="Lund University",
        price_reason="Kostnadsfritt: du är verifierad anställd vid Lund University, som är "
        "medlem i Medicon Valley Alliance.",  # decided in Swedish
        price_reason_code="member_university_staff",
        price=Decimal("0.00"),
    )
    with translation.override("en"):
        assert price_reason_for(registration=registration) == (
            "Free: you are verified staff of Lund University, a member of the Medicon Valley "
            "Alliance."
        )
    with translation.override("da"):
        assert "Lund University" in price_reason_for(registration=registration)
        assert price_reason_for(registration=registration).startswith("Gratis")


def test_a_reason_keeps_the_day_membership_was_judged_on_when_the_event_moves(event):
    from events.models import Event
    from events.services import RegistrationDetails, register_for_event

    lapsed = InstitutionFactory(name="Roskilde University")
    InstitutionDomainFactory(institution=lapsed, domain="ruc.dk")
    judged_on = timezone.localdate(event.starts_at)
    registration = register_for_event(
        event_id=event.pk,
        user=UserFactory(email="rita@ruc.dk"),
        details=RegistrationDetails(billing_organisation="RUC", billing_address="Roskilde"),
    ).registration
    assert registration.membership_judged_on == judged_on

    Event.objects.filter(pk=event.pk).update(
        starts_at=event.starts_at + datetime.timedelta(days=15),
        ends_at=event.ends_at + datetime.timedelta(days=15),
    )
    registration.refresh_from_db()

    day = date_format(judged_on, "DATE_FORMAT")
    with translation.override("en"):
        assert price_reason_for(registration=registration) == (
            f"Standard price: Roskilde University is not a member on {day}."
        )


@pytest.mark.parametrize(
    ("code", "override", "expected"),
    [
        ("", "", "Text stored before codes."),  # an older registration: its stored text
        ("unknown_code", "", "Text stored before codes."),
        ("no_member_address", "Speaker: invited by the programme committee.", "Speaker: invited"),
        ("no_member_address", "", "Standard price: none of your verified addresses"),
    ],
)
def test_price_reason_for_prefers_an_override_then_the_code_then_the_stored_text(
    event, code, override, expected
):
    registration = RegistrationFactory(
        event=event,
        price_reason="Text stored before codes.",
        price_reason_code=code,
        price_override_reason=override,
    )
    with translation.override("en"):
        assert price_reason_for(registration=registration).startswith(expected)


@pytest.mark.parametrize(
    ("membership", "category"),
    [
        # 00:30 in Copenhagen on 15 March is still 14 March in UTC: the local date counts.
        ((datetime.date(2029, 3, 15), datetime.date(2030, 3, 14)), NON_MEMBER),
        ((datetime.date(2030, 3, 15), datetime.date(2031, 3, 14)), FREE),
        ((datetime.date(2029, 3, 15), datetime.date(2030, 3, 15)), FREE),
    ],
    ids=["ended the day before", "starts that day", "ends that day"],
)
def test_membership_is_judged_on_the_event_s_local_start_date(db, membership, category):
    from zoneinfo import ZoneInfo

    starts = datetime.datetime(2030, 3, 15, 0, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))
    event = EventFactory(
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=8),
        registration_opens_at=starts - datetime.timedelta(days=60),
        registration_closes_at=starts - datetime.timedelta(days=1),
        cancellation_deadline=starts - datetime.timedelta(days=2),
    )
    _institution("Lund University", Institution.Kind.UNIVERSITY, "lu.se", memberships=[membership])
    person = UserFactory(email="anna@lu.se")
    event = Event.objects.get(pk=event.pk)  # as a request reads it: in UTC

    decision = decide_admission(event=event, affiliations=verified_affiliations(user=person))

    assert decision.category == category


@pytest.mark.parametrize(
    ("code", "attendee_reads", "staff_read"),
    [
        (
            "member_university_staff",
            "Free: you are verified staff of Lund University, a member",
            "Free: verified staff of Lund University, a member",
        ),
        (
            "member_staff",
            "Member price: you are verified staff of Lund University",
            "Member price: verified staff of Lund University",
        ),
        (
            "no_member_address",
            "none of your verified addresses",
            "no verified address of theirs",
        ),
        ("students", "students of Lund University pay", "a student of Lund University;"),
        ("not_a_member_on", "is not a member on", "is not a member on"),
    ],
)
def test_reasons_speak_to_the_attendee_and_about_them_to_staff(code, attendee_reads, staff_read):
    from events.pricing import reason_text

    day = datetime.date(2030, 3, 15)
    with translation.override("en"):
        to_attendee = reason_text(code=code, institution_name="Lund University", on=day)
        for_staff = reason_text(
            code=code, institution_name="Lund University", on=day, for_staff=True
        )

    assert attendee_reads in to_attendee
    assert staff_read in for_staff
    assert " you" not in for_staff and "your " not in for_staff
