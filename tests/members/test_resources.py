"""Import and export of the member list (members/resources.py), CSV and Excel."""

import datetime

import pytest
import tablib
from django.utils import translation
from import_export.formats.base_formats import CSV, XLSX

from members.models import Institution, InstitutionDomain, Membership
from members.resources import (
    InstitutionResource,
    Period,
    format_domains,
    format_memberships,
    parse_domains,
    parse_memberships,
)
from tests.factories import InstitutionDomainFactory, InstitutionFactory, MembershipFactory

HEADERS = ["name", "short_name", "kind", "country", "website", "domains", "memberships"]
LUND = [
    "Lund University",
    "LU",
    "university",
    "SE",
    "https://www.lu.se",
    "*.lu.se; student.lu.se:students",
    "2020-01-01..2022-12-31; 2023-01-01..",
]
COPENHAGEN = [
    "University of Copenhagen",
    "UCPH",
    "University",  # the label works too
    "Denmark",
    "https://www.ku.dk",
    "*.KU.dk\nalumni.ku.dk:Students",
    "2024-01-01..2026-12-31",
]
NOVO = [
    "Novo Nordisk A/S",
    "Novo",
    "company",
    "DK",
    "",
    "novonordisk.com",
    "2025-03-01..2025-03-01",
]


@pytest.fixture(autouse=True)
def _messages_in_english():
    with translation.override("en"):
        yield


def snapshot():
    """Everything the member list holds, without database ids."""
    return {
        "institutions": sorted(
            Institution.objects.values_list("name", "short_name", "kind", "country", "website")
        ),
        "domains": sorted(
            InstitutionDomain.objects.values_list(
                "institution__name", "domain", "include_subdomains", "audience"
            )
        ),
        "memberships": sorted(
            Membership.objects.values_list("institution__name", "starts_on", "ends_on", "note"),
            key=repr,
        ),
    }


def dataset(*rows, headers=HEADERS):
    return tablib.Dataset(*[list(row) for row in rows], headers=list(headers))


def as_file(data: tablib.Dataset, file_format) -> bytes | str:
    return file_format.export_data(data)


def read_file(content, file_format) -> tablib.Dataset:
    return file_format.create_dataset(content)


def run_import(data, **kwargs):
    return InstitutionResource().import_data(data, **kwargs)


# -- the cell formats -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        (None, []),
        ("lu.se", [("lu.se", False, "staff")]),
        ("*.lu.se", [("lu.se", True, "staff")]),
        ("*.LU.SE:staff", [("lu.se", True, "staff")]),
        ("student.lu.se:students", [("student.lu.se", False, "students")]),
        ("student.lu.se : student", [("student.lu.se", False, "students")]),
        (
            " *.lu.se ;student.lu.se:students;\n\n@mau.se ",
            [
                ("lu.se", True, "staff"),
                ("mau.se", False, "staff"),
                ("student.lu.se", False, "students"),
            ],
        ),
        ("*.bücher.se", [("xn--bcher-kva.se", True, "staff")]),
    ],
)
def test_parse_domains(text, expected):
    assert [(d.domain, d.include_subdomains, d.audience) for d in parse_domains(text)] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lu", "“lu” is not an e-mail domain."),
        ("lu.se:teachers", "must be staff or students"),
        ("lu.se; LU.SE", "lu.se is listed twice."),
        ("*.*.lu.se", "is not an e-mail domain"),
        ("lu.se, ku.dk", "is not an e-mail domain"),
    ],
)
def test_parse_domains_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_domains(text)


D = datetime.date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("2024-01-01..2026-12-31", [Period(D(2024, 1, 1), D(2026, 12, 31))]),
        ("2027-01-01..", [Period(D(2027, 1, 1), None)]),
        ("2027-01-01 .. ", [Period(D(2027, 1, 1), None)]),
        (
            "2027-01-01..;2024-01-01..2026-12-31\n2025-01-01..2025-06-30",
            [
                Period(D(2024, 1, 1), D(2026, 12, 31)),
                Period(D(2025, 1, 1), D(2025, 6, 30)),
                Period(D(2027, 1, 1), None),
            ],
        ),
        ("2026-06-01..2026-06-01", [Period(D(2026, 6, 1), D(2026, 6, 1))]),
    ],
)
def test_parse_memberships(text, expected):
    assert parse_memberships(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024", "is not a period"),
        ("2024-01-01", "is not a period"),
        ("..2024-01-01", "is not a period"),
        ("2024-02-30..", "is not a period"),
        ("01/01/2024..", "is not a period"),
        ("2024-12-31..2024-01-01", "ends before it starts"),
        ("2024-01-01..; 2024-01-01..", "is listed twice"),
    ],
)
def test_parse_memberships_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_memberships(text)


def test_formats_are_the_inverse_of_parsing(db):
    institution = InstitutionFactory()
    InstitutionDomainFactory(institution=institution, domain="lu.se", include_subdomains=True)
    InstitutionDomainFactory(
        institution=institution, domain="student.lu.se", include_subdomains=False,
        audience="students",
    )  # fmt: skip
    MembershipFactory(institution=institution, starts_on=D(2027, 1, 1), ends_on=None)
    MembershipFactory(institution=institution, starts_on=D(2024, 1, 1), ends_on=D(2026, 12, 31))
    domains_text = format_domains(institution.domains.all())
    memberships_text = format_memberships(institution.memberships.all())
    assert domains_text == "*.lu.se; student.lu.se:students"
    assert memberships_text == "2024-01-01..2026-12-31; 2027-01-01.."
    assert [(d.domain, d.include_subdomains, d.audience) for d in parse_domains(domains_text)] == [
        ("lu.se", True, "staff"),
        ("student.lu.se", False, "students"),
    ]
    assert [(p.starts_on, p.ends_on) for p in parse_memberships(memberships_text)] == [
        (D(2024, 1, 1), D(2026, 12, 31)),
        (D(2027, 1, 1), None),
    ]


# -- importing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_creates_institutions_with_domains_and_memberships():
    result = run_import(dataset(LUND, COPENHAGEN, NOVO))
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["new"] == 3
    assert snapshot() == {
        "institutions": [
            ("Lund University", "LU", "university", "SE", "https://www.lu.se"),
            ("Novo Nordisk A/S", "Novo", "company", "DK", ""),
            ("University of Copenhagen", "UCPH", "university", "DK", "https://www.ku.dk"),
        ],
        "domains": [
            ("Lund University", "lu.se", True, "staff"),
            ("Lund University", "student.lu.se", False, "students"),
            ("Novo Nordisk A/S", "novonordisk.com", False, "staff"),
            ("University of Copenhagen", "alumni.ku.dk", False, "students"),
            ("University of Copenhagen", "ku.dk", True, "staff"),
        ],
        "memberships": sorted(
            [
                ("Lund University", D(2020, 1, 1), D(2022, 12, 31), ""),
                ("Lund University", D(2023, 1, 1), None, ""),
                ("Novo Nordisk A/S", D(2025, 3, 1), D(2025, 3, 1), ""),
                ("University of Copenhagen", D(2024, 1, 1), D(2026, 12, 31), ""),
            ],
            key=repr,
        ),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", [CSV(), XLSX()], ids=["csv", "xlsx"])
def test_importing_the_same_file_twice_changes_nothing(file_format):
    content = as_file(dataset(LUND, COPENHAGEN, NOVO), file_format)
    first = run_import(read_file(content, file_format))
    assert first.totals["new"] == 3
    before = snapshot()
    ids = {
        "domains": sorted(InstitutionDomain.objects.values_list("pk", flat=True)),
        "memberships": sorted(Membership.objects.values_list("pk", flat=True)),
    }
    second = run_import(read_file(content, file_format))
    assert not second.has_errors() and not second.has_validation_errors()
    assert second.totals["skip"] == 3
    assert second.totals["new"] == second.totals["update"] == second.totals["delete"] == 0
    assert snapshot() == before
    assert ids == {
        "domains": sorted(InstitutionDomain.objects.values_list("pk", flat=True)),
        "memberships": sorted(Membership.objects.values_list("pk", flat=True)),
    }


@pytest.mark.django_db
def test_headers_and_cells_are_forgiving():
    headers = ["Name", "Short Name", "KIND", "country", "Website", "Domains", "Memberships"]
    row = [" Lund University ", "LU", "University", "sverige", None, "*.lu.se", None]
    result = run_import(dataset(row, headers=headers))
    assert not result.has_errors() and not result.has_validation_errors()
    assert snapshot()["institutions"] == [("Lund University", "LU", "university", "SE", "")]


BAD_ROWS = [
    # (the bad second row, the column named, the reason shown)
    ({"domains": "lu..se"}, "domains", "“lu..se” is not an e-mail domain."),
    ({"domains": "ku.dk:faculty"}, "domains", "must be staff or students"),
    ({"memberships": "2024-01-01..2023-12-31"}, "memberships", "ends before it starts"),
    ({"memberships": "1 January 2024"}, "memberships", "is not a period"),
    ({"kind": "universty"}, "kind", "“universty” is not a kind"),
    ({"country": "Norway"}, "country", "“Norway” is not a country"),
    ({"website": "not a url"}, "website", "Enter a valid URL."),
    ({"name": ""}, "name", "This field cannot be blank."),
    # a domain the first row of the same file already gave to Lund
    ({"domains": "*.ku.dk; lu.se"}, "domains", "lu.se already identifies Lund University"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", [CSV(), XLSX()], ids=["csv", "xlsx"])
@pytest.mark.parametrize(("change", "column", "reason"), BAD_ROWS)
def test_a_file_with_one_bad_row_imports_nothing(file_format, change, column, reason):
    InstitutionFactory(name="Already There")
    before = snapshot()
    bad = dict(zip(HEADERS, COPENHAGEN, strict=True)) | change
    content = as_file(dataset(LUND, [bad[h] for h in HEADERS], NOVO), file_format)
    result = run_import(read_file(content, file_format))
    assert snapshot() == before
    assert result.has_validation_errors()
    invalid = result.invalid_rows
    assert [row.number for row in invalid] == [2]
    messages = invalid[0].field_specific_errors[column]
    assert any(reason in message for message in messages), messages


@pytest.mark.django_db
def test_a_domain_of_another_institution_in_the_database_is_refused():
    lund = InstitutionFactory(name="Lund University")
    InstitutionDomainFactory(institution=lund, domain="lu.se")
    row = list(COPENHAGEN)
    row[5] = "*.ku.dk; LU.SE"
    result = run_import(dataset(row))
    assert result.has_validation_errors()
    assert result.invalid_rows[0].field_specific_errors["domains"] == [
        "lu.se already identifies Lund University; remove it there first."
    ]
    assert not Institution.objects.filter(name="University of Copenhagen").exists()
    assert InstitutionDomain.objects.get().institution == lund


@pytest.mark.django_db
def test_a_file_without_the_name_column_is_refused():
    result = run_import(dataset(["university", "SE"], headers=["kind", "country"]))
    assert result.has_errors()
    assert "name" in str(result.base_errors[0].error)
    assert not Institution.objects.exists()


@pytest.mark.django_db
def test_a_row_describes_its_institution_completely():
    run_import(dataset(LUND))
    lund = Institution.objects.get(name="Lund University")
    current = lund.memberships.get(starts_on=D(2023, 1, 1))
    current.note = "Invoice 2023-17"
    current.save()
    changed = list(LUND)
    changed[5] = "lu.se"  # sub-domains no longer count, students' domain removed
    changed[6] = "2023-01-01..2027-12-31; 2028-01-01.."  # the older period dropped, one cut short
    result = run_import(dataset(changed))
    assert result.totals["update"] == 1
    assert sorted(lund.domains.values_list("domain", "include_subdomains")) == [("lu.se", False)]
    assert sorted(lund.memberships.values_list("starts_on", "ends_on", "note")) == [
        (D(2023, 1, 1), D(2027, 12, 31), "Invoice 2023-17"),  # the same row, note kept
        (D(2028, 1, 1), None, ""),
    ]


@pytest.mark.django_db
def test_a_file_without_the_domains_column_leaves_domains_alone():
    run_import(dataset(LUND))
    headers = ["name", "short_name", "kind", "country"]
    result = run_import(dataset(["Lund University", "Lund", "university", "SE"], headers=headers))
    assert result.totals["update"] == 1
    lund = Institution.objects.get(name="Lund University")
    assert lund.short_name == "Lund"
    assert lund.domains.count() == 2
    assert lund.memberships.count() == 2


@pytest.mark.django_db
def test_dry_run_changes_nothing_and_previews_the_change():
    run_import(dataset(LUND))
    before = snapshot()
    changed = list(LUND)
    changed[5] = "*.lu.se"
    result = run_import(dataset(changed), dry_run=True)
    assert snapshot() == before
    assert result.totals["update"] == 1
    diff = " ".join(result.rows[0].diff)
    assert "student.lu.se" in diff  # the preview shows the domain going


# -- exporting --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", [CSV(), XLSX()], ids=["csv", "xlsx"])
def test_an_export_reimports_to_the_same_data(file_format, django_assert_max_num_queries):
    run_import(dataset(LUND, COPENHAGEN, NOVO))
    aarhus = InstitutionFactory(name="Aarhus University", short_name="AU", website="")
    InstitutionDomainFactory(institution=aarhus, domain=" au.dk".strip(), include_subdomains=False)
    before = snapshot()

    with django_assert_max_num_queries(4):  # institutions, domains, memberships (+ count)
        exported = InstitutionResource().export()
    assert exported.headers == HEADERS
    content = as_file(exported, file_format)

    # into the same database: nothing to do
    again = run_import(read_file(content, file_format))
    assert again.totals["skip"] == 4
    assert snapshot() == before

    # into an empty one: the same data
    Institution.objects.all().delete()
    result = run_import(read_file(content, file_format))
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["new"] == 4
    assert snapshot() == before


@pytest.mark.django_db
def test_export_shows_the_documented_format():
    run_import(dataset(LUND))
    exported = InstitutionResource().export()
    assert exported.dict == [dict(zip(HEADERS, LUND, strict=True))]
