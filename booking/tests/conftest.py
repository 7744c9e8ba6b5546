"""Fixtures of the online booking tests: a clinic open to online booking, on a known day."""

from datetime import datetime

import pytest
import time_machine

from conftest import TORONTO

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TORONTO)  # ten days before the shared slot (2026-12-03 14:30)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_clinic(clinic, service):
    clinic.online_booking, clinic.booking_address = True, "clinique-du-parc"
    clinic.save()
    service.online_booking = True
    service.save()
    return clinic
