from allauth.account import app_settings as account_settings
from django import forms
from django.utils.translation import gettext_lazy as _


class SignupForm(forms.Form):
    """Extra fields on allauth's sign-up form (allauth calls `signup`)."""

    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    job_title = forms.CharField(
        label=_("Job title"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
    )

    field_order = ["first_name", "last_name", "job_title", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # allauth adds the e-mail field; say in the browser what the adapter enforces.
        if "email" in self.fields:
            self.fields["email"].widget.attrs["maxlength"] = str(account_settings.EMAIL_MAX_LENGTH)

    def signup(self, request, user):
        user.first_name = self.cleaned_data["first_name"]
        user.last_name = self.cleaned_data["last_name"]
        user.job_title = self.cleaned_data.get("job_title", "")
        user.language = getattr(request, "LANGUAGE_CODE", "") or ""
        user.save(update_fields=["first_name", "last_name", "job_title", "language"])
