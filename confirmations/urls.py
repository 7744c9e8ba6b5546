from django.urls import path

from confirmations import patient_pages

urlpatterns = [
    # Patient pages, from the links in emails (R25, R26, D11).
    path("rendez-vous/annuler/<str:token>/", patient_pages.cancel, name="patient-cancel"),
    path("rendez-vous/confirmer/<str:token>/", patient_pages.confirm, name="patient-confirm"),
]
