"""The member list's import as staff meet it with real files: blank rows, one institution twice,
Latin-1 CSV from a Nordic Excel, files in the wrong format, and row numbers that match the
spreadsheet (members/resources.py, members/admin.py)."""

import io

import openpyxl
import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from import_export import exceptions
from import_export.formats.base_formats import XLSX

from members.models import Institution
from members.resources import CSVWithBOM, InstitutionResource
from tests.factories import InstitutionFactory

HEADER = "name,short_name,kind,country,website,domains,memberships"
LUND = 'Lund University,LU,university,SE,https://www.lu.se,"*.lu.se; student.lu.se:students",'
AARHUS = "Aarhus University,AU,university,DK,,*.au.dk,2023-01-01.."
NOVO = "Novo Nordisk A/S,Novo,company,DK,,novonordisk.com,"
BAD_KIND = "Copenhagen Business School,CBS,school,DK,,cbs.dk,"


@pytest.fixture(autouse=True)
def _messages_in_english():
    with translation.override("en"):
        yield


def csv_file(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def xlsx_file(*rows) -> bytes:
    """A workbook whose sheet holds the rows from row 1 on; None is an empty row."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row or [], start=1):
            sheet.cell(row=number, column=column, value=value)
    if rows and rows[-1] is None:
        # Excel keeps a cleared row that still has formatting in the file, with no value.
        sheet.cell(row=len(rows), column=1).number_format = "0.00"
    content = io.BytesIO()
    workbook.save(content)
    return content.getvalue()


def cells(line: str) -> list[str]:
    return next(iter(tablib.import_set(HEADER + "\n" + line, format="csv")))


def run_import(content: bytes, file_format, **kwargs):
    return InstitutionResource().import_data(file_format.create_dataset(content), **kwargs)


def upload(client, content: bytes, name: str, file_format: str):
    return client.post(
        reverse("admin:members_institution_import"),
        {"resource": "0", "format": file_format, "import_file": SimpleUploadedFile(name, content)},
    )


def confirm(client, preview):
    form = preview.context["confirm_form"]
    return client.post(
        reverse("admin:members_institution_process_import"),
        {name: form[name].value() for name in form.fields},
    )


def names() -> list[str]:
    return sorted(Institution.objects.values_list("name", flat=True))


# -- 1. blank rows ----------------------------------------------------------------------------

BLANK_CSV_ROWS = [
    ",,,,,,",  # what Excel writes for a cleared row
    " , ,\t, ,,,",  # spaces only
    "",  # an empty line
    ",,,,,,,,",  # wider than the header: a cleared cell to the right of the table
    ",,",  # narrower
]


@pytest.mark.django_db
@pytest.mark.parametrize("blank", BLANK_CSV_ROWS, ids=repr)
def test_blank_csv_rows_are_skipped_silently(blank):
    result = run_import(csv_file(HEADER, LUND, blank, AARHUS, blank, blank), CSVWithBOM())
    assert not result.has_errors(), [str(error.error) for error in result.base_errors]
    assert not result.has_validation_errors(), result.invalid_rows
    assert result.totals["new"] == 2
    assert result.totals["skip"] == 0
    assert [row.import_type for row in result.rows] == ["new", "new"]
    assert names() == ["Aarhus University", "Lund University"]


@pytest.mark.django_db
def test_empty_excel_rows_are_skipped_silently():
    content = xlsx_file(
        HEADER.split(","),
        cells(LUND),
        None,
        ["  ", None, "", None, None, None, None],
        cells(AARHUS),
        None,
    )
    result = run_import(content, XLSX())
    assert not result.has_errors(), [str(error.error) for error in result.base_errors]
    assert not result.has_validation_errors(), result.invalid_rows
    assert result.totals["new"] == 2
    assert result.totals["skip"] == 0
    assert names() == ["Aarhus University", "Lund University"]


@pytest.mark.parametrize(
    ("content", "name", "file_format"),
    [
        (csv_file(HEADER, LUND, AARHUS, ",,,,,,", ",,,,,,"), "members.csv", "0"),
        (
            xlsx_file(HEADER.split(","), cells(LUND), None, cells(AARHUS), None),
            "members.xlsx",
            "1",
        ),
    ],
    ids=["csv", "xlsx"],
)
def test_the_admin_imports_a_file_with_blank_rows(staff_client, content, name, file_format):
    preview = upload(staff_client, content, name, file_format)
    assert "confirm_form" in preview.context, preview.context["result"].invalid_rows
    assert [row.import_type for row in preview.context["result"].rows] == ["new", "new"]
    assert confirm(staff_client, preview).status_code == 302
    assert names() == ["Aarhus University", "Lund University"]


@pytest.mark.django_db
def test_a_file_of_blank_rows_only_gets_one_message():
    result = run_import(csv_file(HEADER, ",,,,,,", "", " ,"), CSVWithBOM())
    assert [str(error.error) for error in result.base_errors] == [
        "The file has no institutions: every row below the column names is empty."
    ]
    assert result.base_errors[0].traceback == ""
    assert not result.invalid_rows and not result.rows


# -- 2. one institution twice -----------------------------------------------------------------

TWICE = "is in rows 2 and 4: an institution can be in the file only once."


@pytest.mark.django_db
@pytest.mark.parametrize(
    "again",
    [LUND, LUND.replace("LU,", "Lund,", 1), LUND.replace("Lund University", " lund university ")],
    ids=["same row", "other cells", "other case and spaces"],
)
def test_the_same_institution_twice_is_an_error_naming_both_rows(again):
    InstitutionFactory(name="Already There")
    result = run_import(csv_file(HEADER, LUND, NOVO, again), CSVWithBOM(), dry_run=True)
    assert result.has_validation_errors()
    assert [row.number for row in result.invalid_rows] == [2, 4]
    for row in result.invalid_rows:
        # each row's message names the institution as that row spells it
        assert row.field_specific_errors["name"] == [f"“{row.values[0]}” {TWICE}"]
    assert result.invalid_rows[0].values[0] == "Lund University"
    assert names() == ["Already There"]


@pytest.mark.django_db
def test_an_institution_three_times_names_every_row():
    result = run_import(csv_file(HEADER, LUND, LUND, NOVO, ",,,,,,", LUND), CSVWithBOM())
    assert [row.number for row in result.invalid_rows] == [2, 3, 6]
    assert result.invalid_rows[0].field_specific_errors["name"] == [
        "“Lund University” is in rows 2, 3 and 6: an institution can be in the file only once."
    ]
    assert not Institution.objects.exists()


@pytest.mark.django_db
def test_rows_without_a_name_are_not_duplicates_of_each_other():
    blank_name = "," + NOVO.split(",", 1)[1]
    result = run_import(csv_file(HEADER, blank_name, blank_name), CSVWithBOM())
    for row in result.invalid_rows:
        assert row.field_specific_errors["name"] == ["This field cannot be blank."]


def test_the_admin_preview_names_both_rows_and_offers_no_confirmation(staff_client):
    preview = upload(staff_client, csv_file(HEADER, LUND, AARHUS, LUND), "members.csv", "0")
    assert preview.status_code == 200
    assert "confirm_form" not in preview.context
    assert "is in rows 2 and 4: an institution can be in the file only once." in (
        preview.content.decode()
    )
    assert not Institution.objects.exists()


# -- 3. encodings and unreadable files --------------------------------------------------------

NORDIC = (
    "name,short_name,kind,country\r\n"
    "Umeå universitet,UmU,university,SE\r\n"
    "Københavns Universitet,KU,university,DK\r\n"
    "Malmö universitet,MAU,university,Sverige\r\n"
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [
        NORDIC.encode("cp1252"),
        NORDIC.encode("latin-1"),
        NORDIC.encode("utf-8"),
        NORDIC.encode("utf-8-sig"),
        NORDIC,
    ],
    ids=["cp1252", "latin-1", "utf-8", "utf-8 with bom", "text"],
)
def test_a_csv_in_utf_8_or_the_nordic_windows_code_page_imports(content):
    result = CSVWithBOM().create_dataset(content)
    assert result.headers[0] == "name"
    imported = InstitutionResource().import_data(result)
    assert not imported.has_errors() and not imported.has_validation_errors()
    assert names() == ["Københavns Universitet", "Malmö universitet", "Umeå universitet"]


def test_the_admin_imports_a_latin_1_csv(staff_client):
    preview = upload(staff_client, NORDIC.encode("cp1252"), "members.csv", "0")
    assert "form" in preview.context and not preview.context["form"].errors
    assert "confirm_form" in preview.context, preview.context["result"].base_errors
    assert "Umeå universitet" in preview.content.decode()
    # the confirmation reads the file again
    assert confirm(staff_client, preview).status_code == 302
    assert names() == ["Københavns Universitet", "Malmö universitet", "Umeå universitet"]


@pytest.mark.parametrize(
    ("content", "name", "file_format", "format_name"),
    [
        (b"not a spreadsheet", "members.xlsx", "1", "Excel"),
        (csv_file(HEADER, LUND), "members.csv", "1", "Excel"),
        (b"\x81\x8d\x8f\x90\x9d", "members.csv", "0", "CSV"),
    ],
    ids=["text as xlsx", "csv as xlsx", "bytes that are no text"],
)
def test_a_file_unreadable_in_the_chosen_format_gets_a_plain_message(
    staff_client, content, name, file_format, format_name
):
    response = upload(staff_client, content, name, file_format)
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    [message] = response.context["form"].errors["import_file"]
    assert message == (
        f"The file could not be read as {format_name}. Check that you chose the format the "
        "file is saved in: CSV, or Excel workbook (.xlsx)."
    )
    page = response.content.decode()
    for technical in ("BadZipFile", "UnicodeDecodeError", "encountered", "Traceback"):
        assert technical not in page
    assert not Institution.objects.exists()


# -- 4. row numbers as in the spreadsheet -----------------------------------------------------


@pytest.mark.django_db
def test_row_numbers_count_the_header_row():
    result = run_import(csv_file(HEADER, LUND, BAD_KIND, NOVO), CSVWithBOM())
    assert [row.number for row in result.invalid_rows] == [3]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "file_format"),
    [
        (csv_file(HEADER, LUND, ",,,,,,", "", BAD_KIND, NOVO, ",,,,,,"), CSVWithBOM()),
        (
            xlsx_file(HEADER.split(","), cells(LUND), None, None, cells(BAD_KIND), cells(NOVO)),
            XLSX(),
        ),
    ],
    ids=["csv", "xlsx"],
)
def test_row_numbers_count_blank_rows_and_match_the_spreadsheet(content, file_format):
    result = run_import(content, file_format)
    assert [row.number for row in result.invalid_rows] == [5]


@pytest.mark.django_db
def test_a_cell_over_several_lines_is_one_row():
    several_lines = 'Malmö University,MAU,university,SE,,"mau.se\nstudent.mau.se:students",'
    result = run_import(csv_file(HEADER, several_lines, BAD_KIND), CSVWithBOM())
    assert [row.number for row in result.invalid_rows] == [3]


@pytest.mark.django_db
def test_rows_that_fail_for_another_reason_are_numbered_as_in_the_spreadsheet():
    class Failing(InstitutionResource):
        def import_instance(self, instance, row, **kwargs):
            if row["name"] == "Novo Nordisk A/S":
                raise RuntimeError("a bug")
            super().import_instance(instance, row, **kwargs)

    dataset = CSVWithBOM().create_dataset(csv_file(HEADER, LUND, ",,,,,,", NOVO))
    result = Failing().import_data(dataset)
    assert [row.number for row in result.error_rows] == [4]
    assert [error.number for row in result.error_rows for error in row.errors] == [4]
    assert [line for line, _errors in result.row_errors()] == [4]


@pytest.mark.django_db
def test_a_row_error_raised_to_the_caller_carries_the_spreadsheet_row_number():
    dataset = CSVWithBOM().create_dataset(csv_file(HEADER, LUND, ",,,,,,", BAD_KIND))
    with pytest.raises(exceptions.ImportError) as raised:
        InstitutionResource().import_data(dataset, raise_errors=True)
    assert raised.value.number == 4


def test_the_admin_shows_the_spreadsheet_row_number(staff_client):
    content = csv_file(HEADER, LUND, ",,,,,,", BAD_KIND)
    response = upload(staff_client, content, "members.csv", "0")
    assert [row.number for row in response.context["result"].invalid_rows] == [4]
    assert "<td>4 </td>" in response.content.decode()
