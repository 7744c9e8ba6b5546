"""The Hub's settings, plus the developer tools' app and URLs: what
`./hub bench` and `./hub mutants` run under (DJANGO_SETTINGS_MODULE)."""

from hubsite.settings import *  # noqa: F403
from hubsite.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
ROOT_URLCONF = "devtools.urls"
