from django.urls import path

from outbox import local_outbox

urlpatterns = [
    path("messages/", local_outbox.messages, name="dev-messages"),
    path("messages/<uuid:message_id>/reply/", local_outbox.reply, name="dev-reply"),
]
