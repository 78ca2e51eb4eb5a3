"""Load an Öresund demo data set. Idempotent: running it twice gives the same data."""

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from events.demo import load_events_demo
from members.demo import load_members_demo
from members.models import User

STAFF_EMAIL = "staff@mva.example"
STAFF_PASSWORD = "mva-demo-staff"  # noqa: S105 - demo log-in, printed for the newcomer


class Command(BaseCommand):
    help = "Create demo data (staff log-in, institutions, networks, events). Safe to re-run."

    @transaction.atomic
    def handle(self, *args, **options):
        staff = self._staff_user()
        self.stdout.write(f"Members: {load_members_demo()}")
        self.stdout.write(f"Events: {load_events_demo()}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded. Staff log-in: {staff.email} / {STAFF_PASSWORD} "
                "(http://127.0.0.1:8000/admin/)"
            )
        )

    def _staff_user(self) -> User:
        staff, created = User.objects.get_or_create(
            email=STAFF_EMAIL,
            defaults={
                "first_name": "Maja",
                "last_name": "Lindqvist",
                "job_title": "Event manager, Medicon Valley Alliance",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        if created:
            staff.set_password(STAFF_PASSWORD)
            staff.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=staff, email=STAFF_EMAIL, defaults={"verified": True, "primary": True}
        )
        return staff
