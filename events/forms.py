"""The attendee's registration form: what a person tells us when registering.

The form only collects and checks input; whether a person may register, and at what price,
is decided by events.services (which calls events.pricing).
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import normalise_vat_number, validate_ean_number, validate_vat_number

NEEDS_FIELDS = ("dietary_needs", "accessibility_needs")

# Billing fields exist on the form only when the visitor's decided price is above zero.
BILLING_FIELDS = (
    "billing_organisation",
    "billing_address",
    "billing_vat_number",
    "billing_po_reference",
    "billing_ean_number",
)


class EanNumberField(forms.CharField):
    """An EAN number as people type it (spaces allowed), checked by the model's validator."""

    default_validators = [validate_ean_number]

    def to_python(self, value):
        return "".join(super().to_python(value).split())


class VatNumberField(forms.CharField):
    """A VAT number as people type it (spaces, dots, hyphens, any case), stored normalised
    and checked by the model's validator."""

    default_validators = [validate_vat_number]

    def to_python(self, value):
        return normalise_vat_number(super().to_python(value))


class RegistrationForm(forms.Form):
    dietary_needs = forms.CharField(
        label=_("Dietary needs"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example vegetarian, halal, or a food allergy."),
    )
    accessibility_needs = forms.CharField(
        label=_("Accessibility needs"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example step-free access, a hearing loop, or a seat near the front."),
    )
    listed_as_participant = forms.BooleanField(
        label=_("Show my name, job title and institution on the participant list"),
        required=False,
        help_text=_("Only other confirmed attendees of this event and MVA staff can see the list."),
    )
    billing_organisation = forms.CharField(
        label=_("Organisation to invoice"),
        max_length=200,
        required=False,
        help_text=_("If you pay yourself, enter your own name."),
        widget=forms.TextInput(attrs={"autocomplete": "billing organization"}),
    )
    billing_address = forms.CharField(
        label=_("Billing address"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "billing street-address"}),
    )
    billing_vat_number = VatNumberField(
        label=_("VAT number"),
        max_length=30,
        required=False,
        help_text=_("Optional. With the country code, for example DK12345678."),
    )
    billing_po_reference = forms.CharField(
        label=_("Purchase-order reference"),
        max_length=100,
        required=False,
        help_text=_("Optional; printed on the invoice."),
    )
    billing_ean_number = EanNumberField(
        label=_("EAN number"),
        required=False,
        help_text=_("Danish public institutions: the 13-digit EAN location number. Optional."),
    )

    def __init__(self, *args, fee_due: bool, **kwargs):
        # Labels without a colon, as on the account pages.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fee_due = fee_due
        if fee_due:
            self.fields["billing_organisation"].required = True
            self.fields["billing_address"].required = True
        else:
            for name in BILLING_FIELDS:
                del self.fields[name]

    def billing_fields(self):
        return [self[name] for name in BILLING_FIELDS if name in self.fields]

    def needs_fields(self):
        return [self[name] for name in NEEDS_FIELDS if name in self.fields]


class RegistrationDetailsForm(RegistrationForm):
    """The registrant changing what they told us, starting from what is stored. Once the
    event is over only the participant-list consent is asked (events.services decides when)."""

    def __init__(self, *args, registration, details_editable: bool, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                name: getattr(registration, name)
                for name in ("listed_as_participant", *NEEDS_FIELDS, *BILLING_FIELDS)
            },
        )
        super().__init__(*args, fee_due=registration.price > 0, **kwargs)
        if self.fee_due and not registration.billing_organisation:
            # Staff entered the person without invoice details: welcome, not demanded.
            self.fields["billing_organisation"].required = False
            self.fields["billing_address"].required = False
        if not details_editable:
            self.fee_due = False
            for name in [*NEEDS_FIELDS, *BILLING_FIELDS]:
                self.fields.pop(name, None)
