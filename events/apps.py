from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("Events")

    def ready(self):
        # The outbox renders event e-mails at send time with the renderers registered here.
        from . import emails, signals  # noqa: F401 - signals connects its receivers

        emails.register_renderers()
