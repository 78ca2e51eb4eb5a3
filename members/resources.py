"""The member list as a file: import and export of institutions with their e-mail domains and
membership periods, one institution per row (django-import-export; CSV and Excel).

Columns (header names are case-insensitive; spaces count as underscores):

``name``
    The institution's full name. It identifies the institution: a row whose name exists
    updates that institution, any other row creates one.
``short_name``, ``website``
    Optional.
``kind``
    ``university``, ``hospital``, ``company``, ``investor``, ``public`` or ``other``
    (or the English label, e.g. "Public authority").
``country``
    ``DK``, ``SE`` or ``other`` (or Denmark / Sweden / Danmark / Sverige / Danmark).
``domains``
    The institution's e-mail domains, separated by ``;`` or line breaks. Each is written
    ``[*.]domain[:audience]``: a leading ``*.`` means the domain *and* every sub-domain
    (``*.lu.se`` covers lu.se and med.lu.se), without it only that exact domain counts;
    ``:students`` marks a domain that identifies students, ``:staff`` (the default) staff.
    Example: ``*.lu.se; student.lu.se:students``.
``memberships``
    The membership periods, separated by ``;`` or line breaks, each
    ``YYYY-MM-DD..YYYY-MM-DD`` (both ends inclusive) or ``YYYY-MM-DD..`` for one that runs on.
    Example: ``2024-01-01..2026-12-31; 2027-01-01..``.

A row describes its institution completely: when a file has the ``domains`` column, the
domains of each institution in it become exactly the ones listed (likewise ``memberships``);
a file without the column leaves them alone. A period already on record keeps its note.
The preview shows every change before it is confirmed.

The first row names the columns; a file without a ``name`` column is refused as a whole,
with one message saying so. Every cell is read as text, whatever type a spreadsheet gave it.
Rows whose every cell is empty (or only spaces) are skipped: spreadsheets keep cleared rows.
A CSV file may be UTF-8 (with or without a byte-order mark) or Windows-1252, which is what
Excel's plain "CSV" is on Swedish and Danish Windows.

The import is all or nothing: a file with any bad row imports nothing and the preview names
each bad row and why, numbered as the spreadsheet numbers it (the column names are row 1).
An institution may be in the file only once. Importing the same file twice changes nothing
the second time, and an export imports back to the same data: a cell that a spreadsheet
would run as a formula is exported with a leading apostrophe, which the import takes off
again (neutralise_formula).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

import tablib
from django.core.exceptions import ValidationError
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from import_export import exceptions, resources, results, widgets
from import_export.fields import Field
from import_export.formats import base_formats
from import_export.forms import SelectableFieldsExportForm

from .affiliation import InvalidDomain, forget_cached_affiliations, normalise_domain
from .models import Institution, InstitutionDomain, Membership

_ENTRY_SEPARATOR = re.compile(r"[;\n\r]+")
_PERIOD = re.compile(r"^(?P<starts>\d{4}-\d{2}-\d{2})\s*\.\.\s*(?P<ends>\d{4}-\d{2}-\d{2})?$")
_AUDIENCE_ALIASES = {
    "staff": InstitutionDomain.Audience.STAFF,
    "students": InstitutionDomain.Audience.STUDENTS,
    "student": InstitutionDomain.Audience.STUDENTS,
}
_COUNTRY_ALIASES = {
    "dk": Institution.Country.DENMARK,
    "denmark": Institution.Country.DENMARK,
    "danmark": Institution.Country.DENMARK,
    "se": Institution.Country.SWEDEN,
    "sweden": Institution.Country.SWEDEN,
    "sverige": Institution.Country.SWEDEN,
    "other": Institution.Country.OTHER,
}


# A cell starting with one of these is run as a formula by spreadsheet programs; exports hold
# text typed by the public or imported from files, so such cells are neutralised (OWASP "CSV
# injection"). The registrations' export uses the same rule (events/resources.py).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Apostrophes already in front of such a character are escaped too, so that the one
# neutralise_formula adds is always the one restore_formula takes off.
_NEEDS_APOSTROPHE = re.compile("^'*[" + re.escape("".join(FORMULA_PREFIXES)) + "]")


# Rows read in one import: reading and checking them runs inside the web request, which the
# server ends after 30 seconds (about 2,000 rows take 20).
MAX_ROWS = 1000


def neutralise_formula(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and _NEEDS_APOSTROPHE.match(value):
        return "'" + value
    return value


def restore_formula(value: str) -> str:
    """The text that neutralise_formula was given, from what it returned."""
    if value.startswith("'") and _NEEDS_APOSTROPHE.match(value):
        return value[1:]
    return value


def decode_csv(content: bytes) -> str:
    """The text of a CSV file: UTF-8 (a byte-order mark is dropped) when it is valid UTF-8,
    otherwise Windows-1252, the code page Excel's plain "CSV" uses on Swedish and Danish
    Windows (a superset of Latin-1 for the letters used here). Raises UnicodeDecodeError for
    bytes that are neither, such as a workbook sent as CSV."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Text in Windows-1252 with letters beyond ASCII is practically never valid UTF-8,
        # so trying UTF-8 first cannot misread such a file.
        return content.decode("cp1252")


def _delimiter_of(text: str) -> str:
    """The separator of a CSV file's columns, judged by its first line: "," as the export
    writes, or ";", as Excel writes "CSV" where the decimal comma is the custom (Sweden,
    Denmark)."""
    first_line = text.split("\n", 1)[0]
    return ";" if first_line.count(";") > first_line.count(",") else ","


class CSVWithBOM(base_formats.CSV):
    """CSV that Excel reads as UTF-8: without the byte-order mark it takes the file for the
    local code page and garbles å, ä and ø. A mark at the start of a file read is dropped.

    Files are read as bytes and decoded by `decode_csv`, whatever encoding the admin would
    pass: a file saved by Excel on Nordic Windows is Windows-1252, not UTF-8, and separates
    its columns by ";" (`_delimiter_of`). Every record
    of the file is one row of the dataset, empty lines included, so that dataset row n is
    row n + 1 of the spreadsheet (InstitutionResource skips blank rows and says which row
    is which)."""

    def is_binary(self):
        # The admin then hands over the file's bytes (and leaves the decoding to us) instead
        # of decoding it as UTF-8, which fails on a Windows-1252 file before we see it.
        return True

    def get_read_mode(self):
        return "rb"

    def export_data(self, dataset, **kwargs):
        return "\ufeff" + super().export_data(dataset, **kwargs)

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            in_stream = decode_csv(in_stream)
        text = in_stream.removeprefix("\ufeff")
        records = list(csv.reader(io.StringIO(text), delimiter=_delimiter_of(text)))
        data = tablib.Dataset()
        if not records:
            return data
        headers, *rows = records
        data.headers = headers
        width = len(headers)
        for row in rows:
            # tablib's reader drops empty lines, which shifts the rows below them, and refuses
            # a row longer than the header, which is how Excel writes a cleared cell to the
            # right of the table.
            while len(row) > width and not row[-1].strip():
                row.pop()
            data.append(row + [""] * (width - len(row)))
        return data


class ColumnNamesExportForm(SelectableFieldsExportForm):
    """The export page with each column's check box labelled by the column's name, as the
    file's header row has it: django-import-export labels it with the attribute's name
    title-cased and the column's name after it ("First Name (Förnamn)")."""

    def _get_field_label(self, resource, field_name: str) -> str:
        field = resource.fields.get(field_name)
        return str(field.column_name) if field is not None else field_name


#: The formats of the member list's file, for the admin's import and export.
FILE_FORMATS = [CSVWithBOM, base_formats.XLSX]


class UnreadableFile(ValueError):
    """A file that cannot be read as the member list at all, whatever its rows say."""


class _ErrorResult(results.Error):
    @property
    def traceback(self):
        # The admin prints a base error's traceback under its message. For a file refused on
        # purpose the message says what to fix; the traceback would only show server paths.
        if isinstance(self.error, UnreadableFile):
            return ""
        return super().traceback


class _Result(results.Result):
    def row_errors(self):
        # The library numbers these by their place among the row results; the admin's list
        # shows that number, so it is taken from the error rows, which are renumbered.
        return [(row.number, row.errors) for row in self.error_rows]

    def number_as_in_file(self, rows_in_file: list[int]) -> None:
        """Replace the numbers of failed rows, which count the rows imported from 1, with
        the spreadsheet's row numbers (rows_in_file[n - 1] for imported row n)."""
        for invalid in self.invalid_rows:
            invalid.number = rows_in_file[invalid.number - 1]
        for failed in self.error_rows:
            failed.number = rows_in_file[failed.number - 1]
            for error in failed.errors:
                if error.number is not None:
                    error.number = rows_in_file[error.number - 1]


# The first row of a file names the columns: the first row of data is row 2 in a spreadsheet.
FIRST_DATA_ROW = 2


def _is_blank(row) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in row)


def _name_key(value) -> str:
    # Two rows name the same institution when their names differ only by case or spaces.
    return " ".join(_as_text(value).split()).casefold()


def _column_name(header) -> str:
    # A CSV read without the utf-8-sig codec keeps the byte-order mark on the first header.
    return str(header or "").lstrip("\ufeff").strip().lower().replace(" ", "_")


def _as_text(value) -> str:
    # Excel gives numbers and dates for cells that look like them; every column is text here.
    if value is None:
        return ""
    return restore_formula(str(value).strip())


@dataclass(frozen=True, order=True)
class DomainEntry:
    domain: str
    include_subdomains: bool
    audience: str


@dataclass(frozen=True, order=True)
class Period:
    starts_on: date
    ends_on: date | None


def _entries(text) -> list[str]:
    if text is None:
        return []
    return [entry.strip() for entry in _ENTRY_SEPARATOR.split(str(text)) if entry.strip()]


def parse_domains(text) -> list[DomainEntry]:
    """The domains of a ``domains`` cell, normalised. Raises ValueError naming every bad entry."""
    found: list[DomainEntry] = []
    problems: list[str] = []
    for entry in _entries(text):
        value, audience = entry, InstitutionDomain.Audience.STAFF
        if ":" in entry:
            value, _colon, audience_text = entry.rpartition(":")
            audience = _AUDIENCE_ALIASES.get(audience_text.strip().lower())
            if audience is None:
                problems.append(
                    _("“%(entry)s”: the audience after “:” must be staff or students.")
                    % {"entry": entry}
                )
                continue
        value = value.strip()
        include_subdomains = value.startswith("*.")
        if include_subdomains:
            value = value[2:]
        try:
            domain = normalise_domain(value)
        except InvalidDomain:
            problems.append(_("“%(entry)s” is not an e-mail domain.") % {"entry": entry})
            continue
        if any(existing.domain == domain for existing in found):
            problems.append(_("%(domain)s is listed twice.") % {"domain": domain})
            continue
        found.append(DomainEntry(domain, include_subdomains, audience))
    if problems:
        raise ValueError(" ".join(problems))
    return sorted(found)


def format_domains(domains) -> str:
    """The ``domains`` cell for some InstitutionDomain rows (the inverse of parse_domains)."""
    entries = []
    for row in sorted(domains, key=lambda row: row.domain):
        text = f"*.{row.domain}" if row.include_subdomains else row.domain
        if row.audience != InstitutionDomain.Audience.STAFF:
            text += f":{row.audience}"
        entries.append(text)
    return "; ".join(entries)


def parse_memberships(text) -> list[Period]:
    """The periods of a ``memberships`` cell. Raises ValueError naming every bad entry."""
    found: list[Period] = []
    problems: list[str] = []
    for entry in _entries(text):
        match = _PERIOD.match(entry)
        try:
            if match is None:
                raise ValueError
            starts_on = date.fromisoformat(match["starts"])
            ends_on = date.fromisoformat(match["ends"]) if match["ends"] else None
        except ValueError:
            problems.append(
                _(
                    "“%(entry)s” is not a period; write YYYY-MM-DD..YYYY-MM-DD, or "
                    "YYYY-MM-DD.. for one that runs on."
                )
                % {"entry": entry}
            )
            continue
        if ends_on is not None and ends_on < starts_on:
            problems.append(
                _("“%(entry)s” ends before it starts.") % {"entry": entry},
            )
            continue
        period = Period(starts_on, ends_on)
        if period in found:
            problems.append(_("“%(entry)s” is listed twice.") % {"entry": entry})
            continue
        found.append(period)
    if problems:
        raise ValueError(" ".join(problems))
    return sorted(found, key=lambda p: (p.starts_on, p.ends_on or date.max))


def format_memberships(memberships) -> str:
    """The ``memberships`` cell for some Membership rows (the inverse of parse_memberships)."""
    periods = sorted(memberships, key=lambda m: (m.starts_on, m.ends_on or date.max))
    return "; ".join(
        f"{m.starts_on.isoformat()}..{m.ends_on.isoformat() if m.ends_on else ''}" for m in periods
    )


class _DomainsWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        return parse_domains(value)

    def render(self, value, obj=None, **kwargs):
        return format_domains(value or [])


class _MembershipsWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        return parse_memberships(value)

    def render(self, value, obj=None, **kwargs):
        return format_memberships(value or [])


class _RelatedRowsField(Field):
    """A column holding rows related to the institution (its domains or memberships) as text.

    Reading it gives the related rows as they are in the database, so the import preview
    shows the before and after; saving is left to the resource, after the institution exists.
    """

    def get_value(self, instance):
        if instance is None or instance.pk is None:
            return []
        return list(getattr(instance, self.attribute).all())

    def save(self, instance, row, is_m2m=False, **kwargs):
        pass


def _domain_key(rows) -> list[DomainEntry]:
    return sorted(DomainEntry(r.domain, r.include_subdomains, r.audience) for r in rows)


def _period_key(rows) -> list[Period]:
    return sorted(
        (Period(r.starts_on, r.ends_on) for r in rows),
        key=lambda p: (p.starts_on, p.ends_on or date.max),
    )


class InstitutionResource(resources.ModelResource):
    """Institutions with their domains and membership periods, one per row (see module doc)."""

    domains = _RelatedRowsField(attribute="domains", column_name="domains", widget=_DomainsWidget())
    memberships = _RelatedRowsField(
        attribute="memberships", column_name="memberships", widget=_MembershipsWidget()
    )

    class Meta:
        model = Institution
        fields = ("name", "short_name", "kind", "country", "website", "domains", "memberships")
        import_order = fields
        export_order = fields
        import_id_fields = ("name",)
        use_transactions = True
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True

    _related_fields = ("domains", "memberships")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The spreadsheet rows of each name in the file being imported (see import_data).
        self._rows_by_name: dict[str, list[int]] = {}

    @classmethod
    def get_error_result_class(cls):
        return _ErrorResult

    @classmethod
    def get_result_class(cls):
        return _Result

    # -- reading the file ---------------------------------------------------------------------

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        if dataset.headers:
            dataset.headers = [_column_name(header) for header in dataset.headers]
        rows_in_file = [
            number for number, row in enumerate(dataset, start=FIRST_DATA_ROW) if not _is_blank(row)
        ]
        refusal = self._refusal(dataset.headers or [])
        if refusal is None and len(rows_in_file) > MAX_ROWS:
            refusal = UnreadableFile(
                _(
                    "The file has %(count)d rows; a member list is imported %(max)d at most at "
                    "a time: split it into smaller files."
                )
                % {"count": len(rows_in_file), "max": MAX_ROWS}
            )
        if refusal is None and not rows_in_file:
            refusal = UnreadableFile(
                _("The file has no institutions: every row below the column names is empty.")
            )
        if refusal is not None:
            # Every row would fail for the same reason: say it once, and read no row.
            result = self.get_result_class()()
            result.diff_headers = self.get_diff_headers()
            result.total_rows = len(dataset)
            self.handle_import_error(result, refusal, raise_errors)
            return result
        rows = tablib.Dataset(headers=dataset.headers)
        for number in rows_in_file:
            rows.append(dataset[number - FIRST_DATA_ROW])
        self._rows_by_name = self._rows_by_name_in(rows, rows_in_file)
        try:
            # All or nothing, whoever calls: a row with a validation error rolls back the
            # others.
            result = super().import_data(
                rows,
                dry_run=dry_run,
                raise_errors=raise_errors,
                use_transactions=True,
                collect_failed_rows=collect_failed_rows,
                rollback_on_validation_errors=True,
                **kwargs,
            )
        except exceptions.ImportError as error:
            if error.number is not None:
                error.number = rows_in_file[error.number - 1]
            raise
        result.number_as_in_file(rows_in_file)
        return result

    @staticmethod
    def _rows_by_name_in(rows: tablib.Dataset, rows_in_file: list[int]) -> dict[str, list[int]]:
        """The spreadsheet rows of each institution's name (as `_name_key` compares names)."""
        found: dict[str, list[int]] = {}
        for number, name in zip(rows_in_file, rows["name"], strict=True):
            key = _name_key(name)
            if key:
                found.setdefault(key, []).append(number)
        return found

    def _refusal(self, headers: list[str]) -> UnreadableFile | None:
        # Without "name" no row can be matched to an institution. Typical cause: a sheet
        # without its header row.
        if "name" in headers:
            return None
        return UnreadableFile(
            _("The file has no “name” column. The first row must name the columns: %(columns)s.")
            % {"columns": ", ".join(self._meta.fields)}
        )

    def before_import_row(self, row, **kwargs):
        for column, value in list(row.items()):
            row[column] = _as_text(value)
        if row.get("kind"):
            kind = row["kind"].lower()
            by_label = {str(label).lower(): value for value, label in Institution.Kind.choices}
            row["kind"] = by_label.get(kind, kind)
        if row.get("country"):
            country = row["country"]
            row["country"] = _COUNTRY_ALIASES.get(country.lower(), country)
        super().before_import_row(row, **kwargs)

    def import_instance(self, instance, row, **kwargs):
        errors: dict = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if "kind" in row and row["kind"] not in Institution.Kind.values:
            errors["kind"] = ValidationError(
                _("“%(value)s” is not a kind; use one of: %(choices)s.")
                % {"value": row["kind"], "choices": ", ".join(Institution.Kind.values)}
            )
        if "country" in row and row["country"] not in Institution.Country.values:
            errors["country"] = ValidationError(
                _("“%(value)s” is not a country; use one of: %(choices)s.")
                % {"value": row["country"], "choices": ", ".join(Institution.Country.values)}
            )
        rows_of_name = self._rows_by_name.get(_name_key(row.get("name")), [])
        if len(rows_of_name) > 1:
            # Otherwise the later row would silently overwrite the earlier one. Every such row
            # is marked, so that staff see all of them in the preview.
            errors.setdefault("name", []).append(
                ValidationError(
                    _(
                        "“%(name)s” is in rows %(rows)s: an institution can be in the file "
                        "only once."
                    )
                    % {
                        "name": row["name"],
                        "rows": get_text_list([str(n) for n in rows_of_name], _("and")),
                    }
                )
            )
        for name in self._related_fields:
            field = self.fields[name]
            if field.column_name not in row:
                continue
            try:
                cleaned = field.clean(row)
            except ValueError as error:
                errors[name] = ValidationError(str(error))
                continue
            if name == "domains":
                taken = self._domains_of_others(instance, [entry.domain for entry in cleaned])
                if taken:
                    errors[name] = ValidationError(taken)
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _domains_of_others(instance: Institution, domains: list[str]) -> list[str]:
        others = InstitutionDomain.objects.filter(domain__in=domains).select_related("institution")
        if instance.pk is not None:
            others = others.exclude(institution_id=instance.pk)
        return [
            _("%(domain)s already identifies %(institution)s; remove it there first.")
            % {"domain": other.domain, "institution": other.institution.name}
            for other in others
        ]

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not super().skip_row(instance, original, row, import_validation_errors):
            return False
        if original is None or original.pk is None:
            return False
        if "domains" in row and parse_domains(row["domains"]) != _domain_key(
            original.domains.all()
        ):
            return False
        return not (
            "memberships" in row
            and parse_memberships(row["memberships"]) != _period_key(original.memberships.all())
        )

    # -- writing the related rows -------------------------------------------------------------

    def after_save_instance(self, instance, row, **kwargs):
        super().after_save_instance(instance, row, **kwargs)
        if not kwargs.get("using_transactions") and kwargs.get("dry_run"):
            return
        if "domains" in row:
            self._save_domains(instance, parse_domains(row["domains"]))
        if "memberships" in row:
            self._save_memberships(instance, parse_memberships(row["memberships"]))

    @staticmethod
    def _save_domains(institution: Institution, wanted: list[DomainEntry]) -> None:
        by_domain = {entry.domain: entry for entry in wanted}
        existing = {row.domain: row for row in institution.domains.all()}
        stale = [row.pk for domain, row in existing.items() if domain not in by_domain]
        if stale:
            InstitutionDomain.objects.filter(pk__in=stale).delete()
        for domain, entry in by_domain.items():
            row = existing.get(domain)
            if row is None:
                InstitutionDomain.objects.create(
                    institution=institution,
                    domain=domain,
                    include_subdomains=entry.include_subdomains,
                    audience=entry.audience,
                )
            elif (row.include_subdomains, row.audience) != (
                entry.include_subdomains,
                entry.audience,
            ):
                row.include_subdomains = entry.include_subdomains
                row.audience = entry.audience
                row.save(update_fields=["include_subdomains", "audience"])

    @staticmethod
    def _save_memberships(institution: Institution, wanted: list[Period]) -> None:
        missing = Counter(wanted)
        unmatched: list[Membership] = []
        for membership in institution.memberships.order_by("starts_on", "pk"):
            period = Period(membership.starts_on, membership.ends_on)
            if missing[period] > 0:
                missing[period] -= 1
            else:
                unmatched.append(membership)
        to_create = sorted(missing.elements(), key=lambda p: (p.starts_on, p.ends_on or date.max))
        # A period whose end changed is the same membership, extended or cut short: keep the
        # row (and its note) and move its end.
        for period in list(to_create):
            same_start = next((m for m in unmatched if m.starts_on == period.starts_on), None)
            if same_start is not None:
                same_start.ends_on = period.ends_on
                same_start.save(update_fields=["ends_on"])
                unmatched.remove(same_start)
                to_create.remove(period)
        if unmatched:
            Membership.objects.filter(pk__in=[m.pk for m in unmatched]).delete()
        Membership.objects.bulk_create(
            Membership(institution=institution, starts_on=p.starts_on, ends_on=p.ends_on)
            for p in to_create
        )
        # bulk_create sends no signals (members/signals.py), so cached affiliations are reset here.
        forget_cached_affiliations()

    # -- export -------------------------------------------------------------------------------

    def export_field(self, field, instance, **kwargs):
        return neutralise_formula(super().export_field(field, instance, **kwargs))

    def filter_export(self, queryset, **kwargs):
        # The admin's list may already prefetch some of these; the cells sort on their own.
        seen = {
            getattr(lookup, "prefetch_to", lookup) for lookup in queryset._prefetch_related_lookups
        }
        missing = [name for name in self._related_fields if name not in seen]
        return queryset.prefetch_related(*missing) if missing else queryset
