from django.urls import path

from . import views

app_name = "events"

urlpatterns = [
    path("", views.event_list, name="home"),
    path("events/", views.event_list, name="list"),
    path("events/<slug:slug>/", views.event_detail, name="detail"),
    path("registrations/", views.my_registrations, name="my_registrations"),
    path("registrations/<str:ticket_code>/", views.registration_detail, name="registration"),
    # Placeholder until the check-in page lands (events/staff_urls.py).
    path("registrations/<str:ticket_code>/check-in/", views.registration_detail, name="check_in"),
]
