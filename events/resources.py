"""Export of registrations (CSV and Excel) for the back office, through django-import-export.

Export only: registrations are made through events.services, never imported.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.formats.base_formats import XLSX

from members.resources import CSVWithBOM, neutralise_formula

from .models import Registration
from .pricing import price_reason_for

# Names and free text come from the public: export_field neutralises cells a spreadsheet
# would run as formulas, and the CSV carries the byte-order mark Excel needs for å, ä and ø.
EXPORT_FORMATS = [CSVWithBOM, XLSX]


class NumberCell(widgets.Widget):
    """A number column: a number in a workbook, so that SUM adds it up and Excel does not
    flag "number stored as text"; in CSV written as before ("1200.00", a point whatever the
    exporter's language), which every program reads.

    django-import-export asks for native values (force_native_type) for binary formats
    such as .xlsx only."""

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        if kwargs.get("force_native_type"):
            return value
        return str(value)


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


class RegistrationResource(resources.ModelResource):
    """One row per registration, with the attendee, the price and its reason, and the
    special-category needs (catering and access planning are the purpose they were asked for)."""

    id = fields.Field(attribute="id", column_name=_("ID"), widget=NumberCell())
    event = fields.Field(attribute="event__title", column_name=_("Event"))
    first_name = fields.Field(attribute="first_name", column_name=_("First name"))
    last_name = fields.Field(attribute="last_name", column_name=_("Last name"))
    email = fields.Field(attribute="email", column_name=_("E-mail address"))
    job_title = fields.Field(attribute="job_title", column_name=_("Job title"))
    institution = fields.Field(column_name=_("Institution"))
    institution_kind = fields.Field(column_name=_("Institution kind"))
    country = fields.Field(column_name=_("Country"))
    category = fields.Field(column_name=_("Admission category"))
    price = fields.Field(attribute="price", column_name=_("Price"), widget=NumberCell())
    currency = fields.Field(attribute="currency", column_name=_("Currency"))
    price_reason = fields.Field(column_name=_("Reason for the price"))
    status = fields.Field(column_name=_("Status"))
    registered_at = fields.Field(column_name=_("Registered at"))
    checked_in_at = fields.Field(column_name=_("Checked in at"))
    dietary_needs = fields.Field(attribute="dietary_needs", column_name=_("Dietary needs"))
    accessibility_needs = fields.Field(
        attribute="accessibility_needs", column_name=_("Accessibility needs")
    )
    listed_as_participant = fields.Field(column_name=_("On the participant list"))
    billing_organisation = fields.Field(
        attribute="billing_organisation", column_name=_("Billing organisation")
    )
    billing_address = fields.Field(attribute="billing_address", column_name=_("Billing address"))
    billing_vat_number = fields.Field(attribute="billing_vat_number", column_name=_("VAT number"))
    billing_po_reference = fields.Field(
        attribute="billing_po_reference", column_name=_("Purchase-order reference")
    )
    billing_ean_number = fields.Field(attribute="billing_ean_number", column_name=_("EAN number"))

    class Meta:
        model = Registration
        name = _("Registrations")
        fields = (
            "id",
            "event",
            "first_name",
            "last_name",
            "email",
            "job_title",
            "institution",
            "institution_kind",
            "country",
            "category",
            "price",
            "currency",
            "price_reason",
            "status",
            "registered_at",
            "checked_in_at",
            "dietary_needs",
            "accessibility_needs",
            "listed_as_participant",
            "billing_organisation",
            "billing_address",
            "billing_vat_number",
            "billing_po_reference",
            "billing_ean_number",
        )
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        # One query for the whole export, in a stable order staff can read.
        return queryset.select_related("event", "institution").order_by(
            "event__starts_at", "last_name", "first_name", "id"
        )

    def export_field(self, field, instance, **kwargs):
        # Only text can be a formula: numbers (NumberCell) pass through unchanged.
        return neutralise_formula(super().export_field(field, instance, **kwargs))

    def dehydrate_institution(self, registration: Registration) -> str:
        if registration.institution_name:
            return registration.institution_name
        return registration.institution.name if registration.institution else ""

    def dehydrate_institution_kind(self, registration: Registration) -> str:
        institution = registration.institution
        return str(institution.get_kind_display()) if institution else ""

    def dehydrate_country(self, registration: Registration) -> str:
        institution = registration.institution
        return str(institution.get_country_display()) if institution else ""

    def dehydrate_category(self, registration: Registration) -> str:
        return str(registration.get_category_display())

    def dehydrate_price_reason(self, registration: Registration) -> str:
        # In the language of the staff member exporting, like the other columns.
        return price_reason_for(registration=registration, for_staff=True)

    def dehydrate_status(self, registration: Registration) -> str:
        return str(registration.get_status_display())

    def dehydrate_registered_at(self, registration: Registration) -> str:
        return _local(registration.created_at)

    def dehydrate_checked_in_at(self, registration: Registration) -> str:
        return _local(registration.checked_in_at)

    def dehydrate_listed_as_participant(self, registration: Registration) -> str:
        return str(_("yes") if registration.listed_as_participant else _("no"))


class RegistrationResourceWithoutNeeds(RegistrationResource):
    """The same rows without the special-category needs, for staff who may not see them."""

    class Meta(RegistrationResource.Meta):
        fields = tuple(
            name
            for name in RegistrationResource.Meta.fields
            if name not in ("dietary_needs", "accessibility_needs")
        )
        exclude = ("dietary_needs", "accessibility_needs")
        export_order = fields
