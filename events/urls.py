from django.urls import path, register_converter

from . import privacy_views, staff_views, views


class TicketCodeConverter:
    """A ticket code as events.models.new_ticket_code makes them (URL-safe base64). Anything
    else is no ticket: a 404 before any query, whatever bytes were sent."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TicketCodeConverter, "ticket")

app_name = "events"

urlpatterns = [
    path("", views.event_list, name="home"),
    path("events/", views.event_list, name="list"),
    # The calendar file sits beside the page: /events/<slug>.ics next to /events/<slug>/.
    path("events/<slug:slug>.ics", views.event_ics, name="calendar"),
    path("events/<slug:slug>/", views.event_detail, name="detail"),
    path("events/<slug:slug>/register/", views.register, name="register"),
    path("events/<slug:slug>/participants/", views.participants, name="participants"),
    path("registrations/", views.my_registrations, name="my_registrations"),
    path("registrations/<ticket:ticket_code>/", views.registration_detail, name="registration"),
    path(
        "registrations/<ticket:ticket_code>/details/",
        views.change_details,
        name="change_details",
    ),
    path(
        "registrations/<ticket:ticket_code>/cancel/",
        views.cancel_registration,
        name="cancel_registration",
    ),
    path("registrations/<ticket:ticket_code>/ticket.png", views.ticket_png, name="ticket_png"),
    # Staff at the door: the ticket's QR code opens this page (events/tickets.py).
    path("registrations/<ticket:ticket_code>/check-in/", staff_views.check_in, name="check_in"),
    # The signed-in person's privacy pages: what we keep, a copy of it, deleting the account.
    path("account/privacy/", privacy_views.privacy_settings, name="privacy_settings"),
    path("account/privacy/export.json", privacy_views.export_data, name="privacy_export"),
    path("account/privacy/delete/", privacy_views.delete_account, name="privacy_delete"),
]
