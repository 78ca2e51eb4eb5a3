"""Receivers of allauth's signals. They only call events.services."""

from allauth.account.signals import email_confirmed, user_logged_in
from django.dispatch import receiver

from . import services


@receiver(user_logged_in, dispatch_uid="events.claim_guest_registrations_on_log_in")
def claim_guest_registrations_on_log_in(sender, request, user, **kwargs):
    # Staff may have entered the person as a guest since they last signed in.
    services.claim_guest_registrations(user=user)


@receiver(email_confirmed, dispatch_uid="events.claim_guest_registrations_on_confirmation")
def claim_guest_registrations_on_confirmation(sender, request, email_address, **kwargs):
    # A newly verified address may be one staff registered as a guest's.
    services.claim_guest_registrations(user=email_address.user)
