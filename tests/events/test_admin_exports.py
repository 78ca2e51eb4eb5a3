"""The export pages and files of the back office: numbers that are numbers in Excel, and
check boxes named as the file's columns, in the staff member's language."""

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.admin import IMPORT_EXPORT_TEXTS
from events.models import AdmissionCategory
from members.models import Institution
from tests.factories import (
    EventFactory,
    InstitutionFactory,
    RegistrationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_registration_changelist")
EXPORT = reverse("admin:events_registration_export")


@pytest.fixture
def registrations():
    event = EventFactory(title="Annual meeting")
    return [
        RegistrationFactory(
            event=event,
            user=None,
            last_name="Andersen",
            price=Decimal("1200.00"),
            category=AdmissionCategory.NON_MEMBER,
        ),
        RegistrationFactory(
            event=event,
            user=None,
            last_name="Berg",
            first_name="=SUM(A1:A9)",
            price=Decimal("500.50"),
            category=AdmissionCategory.MEMBER,
        ),
        RegistrationFactory(
            event=event,
            user=None,
            last_name="Carlsen",
            price=Decimal("0.00"),
            category=AdmissionCategory.MEMBER_UNIVERSITY_STAFF,
        ),
    ]


def export(client, registrations, file_format: str):
    form = client.post(
        CHANGELIST,
        {"action": "export_admin_action", "_selected_action": [r.pk for r in registrations]},
    )
    assert form.status_code == 200
    choices = form.context["form"].fields["format"].choices
    index = next(value for value, label in choices if str(label).lower() == file_format)
    columns = ("id", "first_name", "last_name", "price", "currency")
    return client.post(
        EXPORT,
        {
            "format": index,
            "resource": 0,
            "export_items": [r.pk for r in registrations],
            **{f"registrationresourcewithoutneeds_{name}": "on" for name in columns},
            **{f"registrationresource_{name}": "on" for name in columns},
        },
    )


# --- Numbers in Excel -----------------------------------------------------------------------------


def test_the_excel_export_writes_ids_and_prices_as_numbers(client, staff, registrations):
    response = export(client, registrations, "xlsx")

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == ("ID", "First name", "Last name", "Price", "Currency")
    assert [row[0] for row in rows] == [r.pk for r in registrations]
    assert [row[3] for row in rows] == [1200, 500.5, 0]
    # Number cells, which SUM adds up and Excel does not flag as "number stored as text".
    for cells in sheet.iter_rows(min_row=2):
        assert (cells[0].data_type, cells[3].data_type) == ("n", "n")
        assert cells[4].data_type == "s"
    # Text a spreadsheet would run as a formula is still neutralised.
    assert rows[1][1] == "'=SUM(A1:A9)"


def test_the_csv_export_writes_numbers_as_before(client, staff, registrations):
    response = export(client, registrations, "csv")

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1:] == [
        [str(registrations[0].pk), registrations[0].first_name, "Andersen", "1200.00", "DKK"],
        [str(registrations[1].pk), "'=SUM(A1:A9)", "Berg", "500.50", "DKK"],
        [str(registrations[2].pk), registrations[2].first_name, "Carlsen", "0.00", "DKK"],
    ]


def test_the_csv_export_writes_a_decimal_point_in_every_language(
    client, staff, registrations, in_language
):
    in_language("sv")
    response = export(client, registrations, "csv")
    assert "1200.00" in response.content.decode("utf-8-sig")


# --- The export pages -----------------------------------------------------------------------------


def checkbox_labels(response) -> list[str]:
    return re.findall(
        r'<label for="id_\w+resource\w*_\w+">([^<]*)</label>', response.content.decode()
    )


def test_the_export_page_names_the_columns_as_the_file_does(client, staff, registrations):
    page = client.post(
        CHANGELIST,
        {"action": "export_admin_action", "_selected_action": [registrations[0].pk]},
    )
    labels = checkbox_labels(page)
    assert labels[:5] == ["ID", "Event", "First name", "Last name", "E-mail address"]
    assert "Reason for the price" in labels
    assert not [label for label in labels if "(" in label], labels


def test_the_export_page_names_the_columns_in_the_staff_member_s_language(
    client, staff, registrations, in_language
):
    in_language("sv")
    page = client.post(
        CHANGELIST,
        {"action": "export_admin_action", "_selected_action": [registrations[0].pk]},
    )
    labels = checkbox_labels(page)
    assert labels[2:4] == ["Förnamn", "Efternamn"]
    assert "First Name" not in page.content.decode()


def test_the_institution_export_page_names_the_file_s_columns(client):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_institution"))
    client.force_login(viewer)
    InstitutionFactory(name="Lund University", kind=Institution.Kind.UNIVERSITY)

    page = client.get(reverse("admin:members_institution_export"))

    assert checkbox_labels(page) == [
        "name",
        "short_name",
        "kind",
        "country",
        "website",
        "domains",
        "memberships",
    ]


def test_the_export_page_s_count_of_selected_rows_is_marked_for_translation():
    """django-import-export has no Swedish or Danish catalog: each of its texts on the export
    page must be marked in ours, as its template writes it."""
    marked = set()
    for text in IMPORT_EXPORT_TEXTS:
        if isinstance(text, str):
            marked.add(text)
        else:  # the plural, as {% blocktranslate count len=… trimmed %} looks it up
            marked |= {text % {"len": count} for count in (1, 2)}
    assert {"Export 1 selected item.", "Export 2 selected items."} <= marked
