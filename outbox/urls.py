from django.urls import path

from outbox import webhooks

# Twilio's webhooks (signed): delivery reports, SMS to the Hub's number, keys pressed in a call.
urlpatterns = [
    path("twilio/status/<uuid:message_id>/", webhooks.status, name="twilio-status"),
    path("twilio/sms/", webhooks.inbound_sms, name="twilio-sms"),
    path("twilio/voice/<uuid:message_id>/gather/", webhooks.gather, name="twilio-gather"),
]
