"""Pages for MVA staff outside the admin.

The check-in page sits under the ticket's own URL in events/urls.py (events:check_in, the
address the ticket's QR code holds); the staff's other pages are admin views
(events/admin.py). Nothing else is routed here yet.
"""

app_name = "staff"

urlpatterns: list = []
