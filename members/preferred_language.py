"""The language a person prefers: the one they last chose with the language switcher while
signed in (or signed up in), stored on their account, so that a sign-in on another browser
speaks to them in it."""

from django.conf import settings

from .models import User


def remember_language(*, user: User, language: str) -> bool:
    """Store `language` as the signed-in person's preferred one. Returns whether it was
    stored: an unknown language, or an anonymous visitor, changes nothing."""
    if not getattr(user, "is_authenticated", False) or language not in dict(settings.LANGUAGES):
        return False
    if user.language != language:
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language
    return True


def language_for_sign_in(*, user: User, chosen_on_this_browser: str | None) -> str | None:
    """The language to speak on signing in: the person's preferred one, unless this browser
    has already chosen one with the switcher (that choice is the more recent); None to leave
    the language as it is."""
    if chosen_on_this_browser in dict(settings.LANGUAGES):
        return None
    if user.language in dict(settings.LANGUAGES):
        return user.language
    return None
