from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.utils import translation
from django.utils.translation import gettext

from outbox.services import PRERENDERED, queue_email


class AccountAdapter(DefaultAccountAdapter):
    """Sends allauth's mails (verification, password reset, …) through the outbox, so a
    broker or mail-server outage delays them instead of losing them."""

    def send_mail(self, template_prefix, email, context):
        message = self.render_mail(template_prefix, email, context)
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        queue_email(
            kind=PRERENDERED,
            recipient=email,
            language=translation.get_language() or "en",
            subject=message.subject,
            body_text=message.body,
            body_html=html,
        )

    def clean_email(self, email: str) -> str:
        # Django's form field accepts up to 320 characters, the address columns hold 254 (the
        # longest address SMTP can carry); refuse longer ones here, with a message, rather
        # than let the database refuse them with an error page.
        email = super().clean_email(email)
        max_length = account_settings.EMAIL_MAX_LENGTH
        if len(email) > max_length:
            raise forms.ValidationError(
                gettext("Enter an e-mail address of at most %(max_length)d characters.")
                % {"max_length": max_length},
                code="max_length",
            )
        return email
