from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self):
        from . import signals  # noqa: F401  (connects the receivers)
        from .allauth_texts import name_authenticators

        name_authenticators()
