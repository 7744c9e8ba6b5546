"""An appointment's history is written in one place, by the app that owns
it, and whoever changes an appointment says who they are."""

import ast
from pathlib import Path

import pytest

from conftest import book, product_modules
from schedules.actors import HUB, PATIENT, Actor
from schedules.models import Appointment, StatusChange

ROOT = Path(__file__).resolve().parents[2]


def writes_a_history_line(tree: ast.AST) -> list[int]:
    """Lines that make StatusChange rows: `StatusChange(…)`, `cls(…)` in its
    own methods, or its manager's create and bulk_create."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "StatusChange":
            lines.append(node.lineno)
        if isinstance(func, ast.Attribute) and func.attr in ("create", "bulk_create", "get_or_create"):
            chain = func.value
            while isinstance(chain, ast.Attribute):
                chain = chain.value
            if isinstance(chain, ast.Name) and chain.id == "StatusChange":
                lines.append(node.lineno)
    return lines


def test_only_statuschange_write_down_makes_a_history_line():
    found = {
        str(path.relative_to(ROOT)): lines
        for path in product_modules()
        if (lines := writes_a_history_line(ast.parse(path.read_text())))
    }
    assert found == {}, found
    source = (ROOT / "schedules" / "models.py").read_text()
    tree = ast.parse(source)
    [status_change] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "StatusChange"]
    makers = [
        method.name
        for method in status_change.body
        if isinstance(method, ast.FunctionDef)
        and any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "cls" for n in ast.walk(method))
    ]
    assert makers == ["write_down"]


def test_who_changed_it_is_said_by_the_caller_not_guessed(slot, patient, django_user_model):
    """No context variable: the line names the actor passed to save()."""
    user = django_user_model.objects.create_user("accueil")
    appointment = Appointment(slot=slot, patient=patient)
    appointment.save(actor=Actor("staff", user))
    appointment.status = Appointment.Status.CANCELLED
    appointment.save(actor=PATIENT, said={"kind": "cancelled_online"})
    lines = list(appointment.history.values_list("actor", "user", "events"))
    assert [(actor, who) for actor, who, _events in lines] == [("staff", user.pk), ("patient", None)]
    assert lines[1][2][0] == {"kind": "cancelled_online"}


def test_a_save_with_no_actor_is_staff_with_no_name_as_from_a_shell(slot, patient):
    appointment = book(slot, patient)
    assert list(appointment.history.values_list("actor", "user")) == [("staff", None)]


@pytest.mark.django_db
def test_the_actor_is_keyword_only(slot, patient):
    """write_down(…, HUB) would read as a status or an event: refused."""
    appointment = book(slot, patient)
    with pytest.raises(TypeError):
        StatusChange.write_down(appointment.public_id, appointment.professional.clinic_id, "booked", [], HUB)
