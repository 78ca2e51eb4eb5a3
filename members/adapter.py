from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from django import forms
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from outbox.messages import format_moment, plain_text_body
from outbox.services import PRERENDERED, queue_email

SITE_NAME = "MVA Events"


@dataclass(frozen=True)
class Site:
    """What allauth's templates expect of `current_site` (a name and a domain).

    The project has no django.contrib.sites: the name is the brand, the same on every
    installation, and the address is SITE_URL, which the registration e-mails use too.
    """

    name: str
    domain: str


def current_site() -> Site:
    return Site(name=SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


def _has_confirmed(user, email: str) -> bool:
    return (
        getattr(user, "pk", None) is not None
        and EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()
    )


def _link_lifetime(template_prefix: str) -> timedelta | None:
    """How long the link in a mail works, for the mails whose link expires."""
    if template_prefix in (
        "account/email/email_confirmation",
        "account/email/email_confirmation_signup",
    ):
        return timedelta(days=account_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS)
    if template_prefix == "account/email/password_reset_key":
        # allauth's token generator is Django's, which honours PASSWORD_RESET_TIMEOUT.
        return timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    return None


class AccountAdapter(DefaultAccountAdapter):
    """Sends allauth's mails (verification, password reset, …) through the outbox, so a
    broker or mail-server outage delays them instead of losing them."""

    def send_mail(self, template_prefix, email, context):
        # allauth's own send_mail, which this replaces, is where `current_site`, `email` and
        # `request` enter the context; without them its templates greet "Hello from !".
        ctx = {
            "request": self.request,
            "email": email,
            "current_site": current_site(),
            "site_url": settings.SITE_URL,
        }
        user = context.get("user")
        if user is not None and _has_confirmed(user, email):
            # A name is whatever the person who signed up typed: it goes only to addresses
            # confirmed to be theirs, not to one somebody may have typed in by mistake.
            ctx["recipient_name"] = user.first_name
        lifetime = _link_lifetime(template_prefix)
        if lifetime is not None:
            ctx["link_expires"] = format_moment(moment=timezone.now() + lifetime)
        ctx.update(context)
        # The HTML layout titles the message with its subject.
        subject = render_to_string(f"{template_prefix}_subject.txt", ctx)
        ctx["subject"] = self.format_email_subject(" ".join(subject.splitlines()).strip())
        message = self.render_mail(template_prefix, email, ctx)
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        queue_email(
            kind=PRERENDERED,
            recipient=email,
            language=translation.get_language() or "en",
            subject=message.subject,
            body_text=plain_text_body(message.body),
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
