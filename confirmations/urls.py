from django.urls import path

from confirmations import patient_pages, webhooks

urlpatterns = [
    # Patient pages, from the links in emails (R25, R26, D11).
    path("rendez-vous/annuler/<str:token>/", patient_pages.cancel, name="patient-cancel"),
    path("rendez-vous/confirmer/<str:token>/", patient_pages.confirm, name="patient-confirm"),
    # Twilio webhooks (signed).
    path("twilio/status/<uuid:message_id>/", webhooks.status, name="twilio-status"),
    path("twilio/sms/", webhooks.inbound_sms, name="twilio-sms"),
    path("twilio/voice/<uuid:message_id>/gather/", webhooks.gather, name="twilio-gather"),
]
