"""Import and export of the member list (members/resources.py), CSV and Excel."""

import codecs
import csv
import datetime
import io

import openpyxl
import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from import_export.formats.base_formats import CSV, XLSX

from members.models import Institution, InstitutionDomain, Membership
from members.resources import (
    CSVWithBOM,
    InstitutionResource,
    Period,
    format_domains,
    format_memberships,
    neutralise_formula,
    parse_domains,
    parse_memberships,
    restore_formula,
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
    assert [row.number for row in invalid] == [3]  # as the spreadsheet numbers it
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


# -- cells of any type ------------------------------------------------------------------------

NOT_TEXT_CELLS = [
    # (column, what Excel gives, the column with an error or None, the reason or what is stored)
    ("kind", 5, "kind", "“5” is not a kind"),
    ("kind", True, "kind", "“true” is not a kind"),
    ("country", 46, "country", "“46” is not a country"),
    ("country", 4.5, "country", "“4.5” is not a country"),
    ("website", 7, "website", "Enter a valid URL."),
    ("domains", 42, "domains", "“42” is not an e-mail domain."),
    ("memberships", 2024, "memberships", "“2024” is not a period"),
    # a date cell, which openpyxl reads as a naive datetime
    ("memberships", datetime.datetime.fromisoformat("2024-01-01"), "memberships", "not a period"),
    ("name", 1848, None, ("1848", "UCPH")),
    ("short_name", 2012, None, ("University of Copenhagen", "2012")),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("column", "cell", "bad_column", "expected"), NOT_TEXT_CELLS)
def test_a_cell_of_any_type_is_read_as_text(column, cell, bad_column, expected):
    row = dict(zip(HEADERS, COPENHAGEN, strict=True)) | {column: cell}
    read = read_file(as_file(dataset([row[h] for h in HEADERS]), XLSX()), XLSX())
    assert read[0][HEADERS.index(column)] == cell  # what the spreadsheet gives, not text
    result = run_import(read)
    assert not result.has_errors(), [
        error.error for row in result.error_rows for error in row.errors
    ]
    if bad_column is None:
        assert not result.has_validation_errors()
        assert list(Institution.objects.values_list("name", "short_name")) == [expected]
    else:
        messages = result.invalid_rows[0].field_specific_errors[bad_column]
        assert any(expected in message for message in messages), messages
        assert not Institution.objects.exists()


# -- files that are not the member list -------------------------------------------------------

NO_NAME = (
    "The file has no “name” column. The first row must name the columns: "
    "name, short_name, kind, country, website, domains, memberships."
)


def semicolon_csv() -> str:
    """As Excel writes it: ";" between columns, a cell holding ";" in quotes."""
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows([HEADERS, LUND, NOVO])
    return out.getvalue()


@pytest.mark.django_db
def test_a_csv_separated_by_semicolons_as_nordic_excel_writes_it_imports():
    """Excel in Sweden and Denmark saves "CSV" with ";" between the columns (and in
    Windows-1252)."""
    content = semicolon_csv().encode("cp1252")

    result = InstitutionResource().import_data(CSVWithBOM().create_dataset(content), dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    assert Institution.objects.count() == 2


UNREADABLE_FILES = [
    # (what the file is, its content, its format, the message)
    ("no name column", "kind,country\nuniversity,SE\n", CSVWithBOM(), NO_NAME),
    ("only headers, without name", "Short name,kind\n", CSVWithBOM(), NO_NAME),
    ("xlsx without its header row", as_file(dataset(NOVO, headers=LUND), XLSX()), XLSX(), NO_NAME),
    (
        "xlsx with an empty first row",
        as_file(dataset(LUND, headers=[None] * 7), XLSX()),
        XLSX(),
        NO_NAME,
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "file_format", "message"),
    [case[1:] for case in UNREADABLE_FILES],
    ids=[case[0] for case in UNREADABLE_FILES],
)
@pytest.mark.parametrize("dry_run", [True, False], ids=["preview", "import"])
def test_a_file_that_is_not_the_member_list_gets_one_message(
    content, file_format, message, dry_run
):
    InstitutionFactory(name="Already There")
    before = snapshot()
    result = run_import(read_file(content, file_format), dry_run=dry_run)
    assert [str(error.error) for error in result.base_errors] == [message]
    assert result.base_errors[0].traceback == ""
    assert not result.row_errors() and not result.invalid_rows and not result.rows
    assert snapshot() == before


@pytest.mark.django_db
def test_other_base_errors_keep_their_traceback_for_whoever_debugs_them():
    class Failing(InstitutionResource):
        def after_import(self, dataset, result, **kwargs):
            raise RuntimeError("a bug")

    result = Failing().import_data(dataset(LUND))
    assert "RuntimeError: a bug" in result.base_errors[0].traceback


def admin_upload(client, content: bytes, name: str, file_format: str):
    return client.post(
        reverse("admin:members_institution_import"),
        {"resource": "0", "format": file_format, "import_file": SimpleUploadedFile(name, content)},
    )


@pytest.mark.parametrize(
    ("content", "name", "file_format"),
    [
        (b"kind;country\r\nuniversity;SE\r\n", "members.csv", "0"),
        (as_file(dataset(NOVO, headers=LUND), XLSX()), "members.xlsx", "1"),
    ],
    ids=["csv without its name column", "xlsx without its header row"],
)
def test_the_import_page_shows_the_message_and_no_traceback(
    staff_client, content, name, file_format
):
    response = admin_upload(staff_client, content, name, file_format)
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    page = response.content.decode()
    assert "The file has no “name” column." in page
    assert "Traceback" not in page and "site-packages" not in page
    assert "Line number" not in page  # no row is read, so none fails on its own account


# -- formulas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "exported"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+46 40 32 10 00", "'+46 40 32 10 00"),
        ("-LU-", "'-LU-"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        # apostrophes of the value's own before such a character get one more, so the
        # import knows which to take off
        ("'=1", "''=1"),
        ("''-", "'''-"),
        ("'t Hooft Institute", "'t Hooft Institute"),
        ("Lund University", "Lund University"),
        ("a=b", "a=b"),
        ("", ""),
        (None, None),
        (5, 5),
    ],
)
def test_formulas_are_neutralised_and_restored(value, exported):
    assert neutralise_formula(value) == exported
    if isinstance(value, str):
        assert restore_formula(exported) == value


FORMULA_NAMES = ["=cmd|' /C calc'!A0", "+Plus Institute", "-Minus AB", "@home", "'=quoted"]


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", [CSVWithBOM(), XLSX()], ids=["csv", "xlsx"])
def test_an_export_neutralises_formulas_and_reimports_to_the_same_data(file_format):
    for number, name in enumerate(FORMULA_NAMES):
        institution = InstitutionFactory(name=name, short_name=f"={number}+1", website="")
        InstitutionDomainFactory(institution=institution, domain=f"inst{number}.se")
    before = snapshot()

    exported = InstitutionResource().export()
    short_names = {row[0]: row[1] for row in exported}
    assert short_names == {
        "'=cmd|' /C calc'!A0": "'=0+1",
        "'+Plus Institute": "'=1+1",
        "'-Minus AB": "'=2+1",
        "'@home": "'=3+1",
        "''=quoted": "'=4+1",
    }
    content = as_file(exported, file_format)

    again = run_import(read_file(content, file_format))
    assert not again.has_errors() and not again.has_validation_errors()
    assert again.totals["skip"] == len(FORMULA_NAMES)
    assert snapshot() == before

    Institution.objects.all().delete()
    result = run_import(read_file(content, file_format))
    assert result.totals["new"] == len(FORMULA_NAMES)
    assert snapshot() == before


@pytest.mark.django_db
def test_an_excel_export_holds_no_formula():
    InstitutionFactory(name='=HYPERLINK("http://evil.example")', short_name="@x")
    content = as_file(InstitutionResource().export(), XLSX())
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    name, short_name = sheet["A2"], sheet["B2"]
    assert (name.value, name.data_type) == ('\'=HYPERLINK("http://evil.example")', "s")
    assert (short_name.value, short_name.data_type) == ("'@x", "s")


# -- the byte-order mark ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_csv_export_starts_with_a_byte_order_mark_and_reimports():
    InstitutionFactory(name="Københavns Universitet", short_name="KU", website="")
    InstitutionFactory(name="Malmö universitet", short_name="MAU", website="")
    before = snapshot()
    content = as_file(InstitutionResource().export(), CSVWithBOM())
    assert content.startswith("\ufeffname,short_name,")
    assert content.count("\ufeff") == 1
    for read in (content, content.encode("utf-8")):
        data = read_file(read, CSVWithBOM())
        assert data.headers[0] == "name"
        Institution.objects.all().delete()
        result = run_import(data)
        assert result.totals["new"] == 2, result.base_errors
        assert snapshot() == before


BOM_CSV = "\ufeffName,short_name,kind,country\nLunds universitet,LU,university,SE\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [BOM_CSV, BOM_CSV.encode("utf-8")],
    ids=["text", "bytes"],
)
@pytest.mark.parametrize(
    "file_format",
    [CSV(encoding="utf-8"), CSV(encoding="utf-8-sig"), CSVWithBOM(), CSVWithBOM("utf-8")],
    ids=["csv-utf-8", "csv-utf-8-sig", "bom", "bom-utf-8"],
)
def test_a_csv_with_a_byte_order_mark_imports_however_it_is_read(content, file_format):
    result = run_import(read_file(content, file_format))
    assert not result.has_errors() and not result.has_validation_errors(), result.base_errors
    assert snapshot()["institutions"] == [("Lunds universitet", "LU", "university", "SE", "")]


def test_the_admin_exports_csv_with_a_byte_order_mark_and_imports_it_back(staff_client):
    InstitutionFactory(name="Aarhus Universitet", short_name="AU", website="")
    url = reverse("admin:members_institution_export")
    form = staff_client.get(url).context["form"]
    data = {"format": "0", "resource": "0"}
    data |= {name: "on" for name in form.fields if name.startswith("institutionresource_")}
    exported = staff_client.post(url, data)
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.startswith(codecs.BOM_UTF8 + b"name,short_name,")
    assert exported.content.count(codecs.BOM_UTF8) == 1
    assert "Aarhus Universitet" in exported.content.decode("utf-8-sig")

    Institution.objects.all().delete()
    preview = admin_upload(staff_client, exported.content, "institutions.csv", "0")
    assert "confirm_form" in preview.context, preview.context["result"].base_errors
    assert [row.import_type for row in preview.context["result"].rows] == ["new"]
