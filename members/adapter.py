import stringprep
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.utils import filter_users_by_email
from django import forms
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from outbox.messages import format_moment, plain_text_body
from outbox.services import PRERENDERED, queue_email

from .affiliation import InvalidDomain, normalise_address, normalise_domain
from .preferred_language import language_for_sign_in

SITE_NAME = "MVA Events"

# Characters that show as nothing, or as a mere gap, so that one mailbox can be typed as
# two addresses that look alike: controls (Cc), format characters such as zero-width
# spaces, soft hyphens and direction overrides (Cf), spaces and separators (Zs, Zl, Zp),
# and code points without an agreed glyph (Cs, Co, Cn).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# Blank letters and marks outside those categories (Hangul fillers, Khmer inherent vowels);
# the variation selectors and the like that IDNA drops are caught by stringprep's table B.1.
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u17b4\u17b5\u3164\uffa0")


def has_invisible_characters(value: str) -> bool:
    """Whether the text holds a character a reader cannot see (or tell from a space)."""
    return any(
        unicodedata.category(character) in _INVISIBLE_CATEGORIES
        or character in _BLANK_CHARACTERS
        or stringprep.in_table_b1(character)
        for character in value
    )


def login_spelling(email: str) -> str:
    """The spelling to look an account up by, for an address typed at log-in: the canonical
    one (`normalise_address`), except when an account holds the address exactly as typed.
    Only an address stored before addresses were normalised can; it signs in as before."""
    if has_invisible_characters(email):
        return email
    try:
        canonical = normalise_address(email.lower())
    except InvalidDomain:
        return email
    if canonical == email.lower() or filter_users_by_email(email):
        return email
    return canonical


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


def on_the_site(url: str) -> str:
    """The same path, query and fragment on the site's public address (SITE_URL)."""
    link = urlsplit(url)
    site = urlsplit(settings.SITE_URL)
    path = site.path.rstrip("/") + link.path
    return urlunsplit((site.scheme, site.netloc, path, link.query, link.fragment))


class AccountAdapter(DefaultAccountAdapter):
    """Sends allauth's mails (verification, password reset, …) through the outbox, so a
    broker or mail-server outage delays them instead of losing them."""

    def post_login(self, request, user, **kwargs):
        # Signing in speaks the person's preferred language, unless this browser chose one.
        response = super().post_login(request, user, **kwargs)
        language = language_for_sign_in(
            user=user, chosen_on_this_browser=request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        )
        if language is not None:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response

    def send_confirmation_mail(self, request, emailconfirmation, signup):
        # allauth skips this, silently, when a link went out a few minutes ago; the e-mail
        # page (members.views.email_addresses) says so when it was not called.
        if request is not None:
            request.confirmation_mail_sent = True
        return super().send_confirmation_mail(request, emailconfirmation, signup)

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
        # Links lead to the site's public address (SITE_URL), as every other mail's do, not
        # to whatever host name the request that caused the mail came in by.
        context = {
            key: on_the_site(value)
            if key.endswith("_url") and isinstance(value, str) and urlsplit(value).netloc
            else value
            for key, value in context.items()
        }
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
        """An address for sign-up, adding an address or a password reset, in its canonical
        spelling (`normalise_address`), which allauth then checks for uniqueness: another
        spelling of a mailbox already on an account is that account's address."""
        email = super().clean_email(email)
        if not email:
            return email
        # Django's validator lets any character from U+00A1 on into a domain, and IDNA drops
        # some of them: "evil@med.lu.se\u200b" would be a second account for med.lu.se's
        # mailbox. Refused rather than dropped, so what is stored is what was seen.
        if has_invisible_characters(email):
            raise forms.ValidationError(
                gettext(
                    "This e-mail address contains a space or an invisible character, often "
                    "picked up when copying and pasting. Type it in again by hand."
                ),
                code="invisible_characters",
            )
        try:
            email = normalise_address(email)
        except InvalidDomain:
            # Django's checks passed, IDNA's did not (say "straße.de", which IDNA 2003 and
            # 2008 send to different domains, or an "xn--" label that decodes to nothing).
            raise forms.ValidationError(
                gettext("Enter a valid e-mail address."), code="invalid"
            ) from None
        # Django's form field accepts up to 320 characters, the address columns hold 254 (the
        # longest address SMTP can carry, counted in the punycode form it travels in);
        # refuse longer ones here, with a message, rather than let the database or the mail
        # server refuse them later.
        max_length = account_settings.EMAIL_MAX_LENGTH
        local, _, domain = email.rpartition("@")
        if max(len(email), len(local) + 1 + len(normalise_domain(domain))) > max_length:
            raise forms.ValidationError(
                gettext("Enter an e-mail address of at most %(max_length)d characters.")
                % {"max_length": max_length},
                code="max_length",
            )
        return email
