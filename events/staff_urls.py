"""Pages for MVA staff outside the admin (check-in at the door)."""

app_name = "staff"

urlpatterns: list = []
