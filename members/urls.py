from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("account/affiliation/", views.affiliation, name="affiliation"),
]
