from django.urls import path

from booking import offer_page, pages

urlpatterns = [
    path("prendre-rendez-vous/<slug:address>/", pages.services, name="booking-services"),
    path("prendre-rendez-vous/<slug:address>/service/<int:service_id>/", pages.slots, name="booking-slots"),
    path("prendre-rendez-vous/<slug:address>/plage/<int:slot_id>/", pages.details, name="booking-details"),
    path(
        "prendre-rendez-vous/<slug:address>/service/<int:service_id>/attente/",
        pages.join_waitlist,
        name="booking-waitlist",
    ),
    path("prendre-rendez-vous/<slug:address>/code/<uuid:request_id>/", pages.code, name="booking-code"),
    path("prendre-rendez-vous/<slug:address>/choisir/<uuid:request_id>/", pages.choose, name="booking-choose"),
    path("prendre-rendez-vous/<slug:address>/reserve/<uuid:request_id>/", pages.done, name="booking-done"),
    # A freed slot offered to a waiting patient, from the offer's email.
    path("rendez-vous/offre/<str:token>/", offer_page.offer, name="waitlist-offer"),
]
