"""django-allauth's texts that the site cannot word itself, in its Swedish and Danish.

allauth's Swedish and Danish do not follow the site's spelling ("epost-adress", "emailadresse"
for e-postadress and e-mailadresse; "verifiera" for bekräfta) and name two-factor authentication
and the authenticator app otherwise than the site's pages. Most of what people read from allauth
is worded by the site's own templates: the pages and e-mails (templates/account/,
templates/mfa/) and the messages shown after an action (templates/account/messages/,
templates/mfa/messages/). What is left are texts allauth writes in Python: form errors, the
admin's names of its models, a form label. Those are marked here so that makemessages keeps
them in the project's catalog, which takes precedence over allauth's (LOCALE_PATHS comes first),
and translates them the site's way. The English catalog (locale/en) rewords the few English
ones a visitor reads ("email" becomes "e-mail", as everywhere on the site); its other entries
are left empty, which keeps the text as written.

Only texts of allauth's own are marked, never a general word ("Remove", "user"): the project's
catalog would translate that word everywhere, in Django's admin too. Texts that cannot appear
with the site's settings (usernames, phone numbers, security keys, signing in or confirming an
address by code, the errors that enumeration prevention keeps back) are left out, and so is the
error for a sixth address, which the e-mail page never offers to add.
"""

from django.utils.translation import gettext_lazy, gettext_noop

ALLAUTH_TEXTS = (
    # Errors of the account forms (allauth.account.adapter.DefaultAccountAdapter.error_messages
    # and allauth.account.forms).
    gettext_noop("The email address and/or password you specified are not correct."),
    gettext_noop("This email address is already associated with this account."),
    gettext_noop("You must type the same password each time."),
    gettext_noop("Too many failed login attempts. Try again later."),
    # Errors of the two-factor forms (allauth.mfa.adapter.DefaultMFAAdapter.error_messages).
    gettext_noop(
        "You cannot add an email address to an account protected by two-factor authentication."
    ),
    gettext_noop("You cannot deactivate two-factor authentication."),
    gettext_noop(
        "You cannot generate recovery codes without having two-factor authentication enabled."
    ),
    gettext_noop(
        "You cannot activate two-factor authentication until you have verified your email address."
    ),
    # The label of the code on the page that activates an authenticator app.
    gettext_noop("Authenticator code"),
    # The admin: allauth's apps, models, fields and actions.
    gettext_noop("email address"),
    gettext_noop("email addresses"),
    gettext_noop("verified"),
    gettext_noop("Mark selected email addresses as verified"),
    gettext_noop("Marked {email} as verified."),
    gettext_noop("Failed to mark {email} as verified."),
    gettext_noop("MFA"),
    gettext_noop("TOTP Authenticator"),
)


def name_authenticators() -> None:
    """Give allauth's Authenticator model translatable names.

    allauth declares no verbose name for it, so the admin shows Django's default, the class
    name split into words ("Authenticators"), which no catalog can translate. Call this once
    the apps are loaded (an AppConfig.ready()).
    """
    from allauth.mfa.models import Authenticator

    Authenticator._meta.verbose_name = gettext_lazy("authenticator")
    Authenticator._meta.verbose_name_plural = gettext_lazy("authenticators")
