"""The Hub's URLs, plus the bare Django view `./hub bench` measures the
patient pages against."""

from django.http import HttpResponse
from django.urls import path

from hubsite import urls as hub

urlpatterns = [path("bench/bare/", lambda request: HttpResponse("ok")), *hub.urlpatterns]
handler500 = hub.handler500
