"""allauth's forms in the site's words (settings.ACCOUNT_FORMS).

allauth labels its fields in title case ("Remember Me", "Current Password") and calls the
address "Email"; the site writes sentence case and "E-mail address". These subclasses change
those texts only (and the log-in form reads an address in its canonical spelling): fields,
validation and saving stay allauth's. (They live apart from
members/forms.py, which allauth's forms module itself imports for the sign-up form's extra
fields: defined there, they would be an import cycle.)
"""

from allauth.account import forms as allauth_forms
from django import forms
from django.utils.translation import gettext_lazy as _

from .adapter import login_spelling

EMAIL_LABEL = _("E-mail address")
NEW_PASSWORD = _("New password")
NEW_PASSWORD_AGAIN = _("New password (again)")


def _relabel(field: forms.Field, label) -> None:
    """Give a field a new label, and its placeholder too where allauth repeats the label."""
    field.label = label
    if "placeholder" in field.widget.attrs:
        field.widget.attrs["placeholder"] = label


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self.fields["login"], EMAIL_LABEL)
        if "remember" in self.fields:
            self.fields["remember"].label = _("Remember me")

    def clean_login(self) -> str:
        # Either spelling of a mailbox ("bücher.example", "xn--bcher-kva.example") signs in
        # to the one account, and failed attempts under both count against one rate limit:
        # allauth authenticates, rate-limits and verifies by the address returned here.
        return login_spelling(super().clean_login())


class AccountSignupForm(allauth_forms.SignupForm):
    # allauth names the e-mail field after the extra fields' form has run, so it is renamed
    # here.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "email" in self.fields:
            _relabel(self.fields["email"], EMAIL_LABEL)


class AddEmailForm(allauth_forms.AddEmailForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self.fields["email"], EMAIL_LABEL)


class ResetPasswordForm(allauth_forms.ResetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self.fields["email"], EMAIL_LABEL)


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self.fields["oldpassword"], _("Current password"))
        _relabel(self.fields["password1"], NEW_PASSWORD)
        _relabel(self.fields["password2"], NEW_PASSWORD_AGAIN)


class ResetPasswordKeyForm(allauth_forms.ResetPasswordKeyForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self.fields["password1"], NEW_PASSWORD)
        _relabel(self.fields["password2"], NEW_PASSWORD_AGAIN)
