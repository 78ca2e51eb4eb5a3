"""The demo member list (members/demo.py): realistic, idempotent, and working on any day."""

import datetime

import pytest

from members.affiliation import affiliation_for_address
from members.demo import DEMO_INSTITUTIONS, DEMO_NETWORKS, load_members_demo
from members.models import Institution, InstitutionDomain, Membership, Network
from tests.factories import InstitutionFactory, MembershipFactory


def everything():
    return (
        sorted(Institution.objects.values_list("name", "short_name", "kind", "country")),
        sorted(InstitutionDomain.objects.values_list("domain", "institution__name")),
        sorted(
            Membership.objects.values_list("institution__name", "starts_on", "ends_on"), key=repr
        ),
        sorted(Network.objects.values_list("slug", "name")),
    )


@pytest.mark.django_db
def test_every_kind_in_both_countries():
    load_members_demo()
    pairs = set(Institution.objects.values_list("kind", "country"))
    for kind in Institution.Kind.values:
        for country in ["DK", "SE"]:
            assert (kind, country) in pairs, (kind, country)
    assert Institution.objects.count() >= 12
    assert sorted(Network.objects.values_list("slug", flat=True)) == sorted(DEMO_NETWORKS)
    assert all(network.description for network in Network.objects.all())


@pytest.mark.django_db
def test_running_twice_gives_the_same_data():
    summary = load_members_demo()
    before = everything()
    assert load_members_demo() == summary
    assert everything() == before
    assert f"{len(DEMO_INSTITUTIONS)} institutions" in summary


@pytest.mark.django_db
def test_running_a_year_later_moves_the_memberships_along():
    load_members_demo(today=datetime.date(2026, 3, 1))
    load_members_demo(today=datetime.date(2027, 3, 1))
    assert Institution.objects.count() == len(DEMO_INSTITUTIONS)
    roskilde = Institution.objects.get(name="Roskilde University")
    assert list(roskilde.memberships.values_list("starts_on", flat=True)) == [
        datetime.date(2028, 1, 1)
    ]


@pytest.mark.django_db
def test_a_membership_staff_added_to_a_demo_institution_stays():
    load_members_demo()
    aarhus = Institution.objects.get(name="Aarhus University")
    MembershipFactory(institution=aarhus, note="Signed at the annual meeting")
    InstitutionFactory(name="Someone else's institution")
    load_members_demo()
    assert aarhus.memberships.get().note == "Signed at the annual meeting"
    assert Institution.objects.filter(name="Someone else's institution").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("today", [datetime.date(2026, 1, 1), datetime.date(2031, 12, 31)])
@pytest.mark.parametrize(
    ("email", "institution", "audience", "member_today"),
    [
        ("anna.svensson@med.lu.se", "Lund University", "staff", True),
        ("anna@student.lu.se", "Lund University", "students", True),
        ("lars@sund.ku.dk", "University of Copenhagen", "staff", True),
        ("mette@alumni.ku.dk", "University of Copenhagen", "students", True),
        ("per@mau.se", "Malmö University", "staff", True),
        ("jens@dtu.dk", "Technical University of Denmark", "staff", True),
        ("sofie@cbs.dk", "Copenhagen Business School", "staff", False),  # lapsed last year
        ("mads@ruc.dk", "Roskilde University", "staff", False),  # starts next year
        ("ida@au.dk", "Aarhus University", "staff", False),  # never a member
        ("eva@skane.se", "Region Skåne", "staff", True),
        ("karen@regionh.dk", "Rigshospitalet – Capital Region of Denmark", "staff", True),
        ("ole@novonordisk.com", "Novo Nordisk A/S", "staff", True),
        ("pia@leo-pharma.com", "LEO Pharma A/S", "staff", True),
        ("nils@mediconvillage.se", "Medicon Village", "staff", True),
        ("bo@novoholdings.dk", "Novo Holdings A/S", "staff", True),
        ("lise@copcap.com", "Copenhagen Capacity", "staff", True),
        ("anna@gmail.com", None, None, None),
    ],
)
def test_the_rule_on_the_demo_data(today, email, institution, audience, member_today):
    load_members_demo(today=today)
    affiliation = affiliation_for_address(email=email)
    if institution is None:
        assert affiliation is None
        return
    assert affiliation.institution.name == institution
    assert affiliation.audience == audience
    assert affiliation.is_member_on(on=today) is member_today
