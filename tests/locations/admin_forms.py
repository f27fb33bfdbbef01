"""Turn a rendered admin change form (and its inlines) back into POST data, as a browser would."""

from __future__ import annotations

from typing import Any

from django import forms
from django.test.client import Client


def _form_data(form: forms.BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value = bound.value()
        if isinstance(bound.field, forms.NullBooleanField):
            data[bound.html_name] = {True: "true", False: "false"}.get(value, "unknown")
        elif isinstance(bound.field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(bound.field, forms.MultipleChoiceField) or isinstance(value, list):
            # Like unticked checkboxes, an empty selection sends nothing.
            data[bound.html_name] = [str(v) for v in value or []]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def changeform_data(client: Client, url: str, **overrides: Any) -> dict[str, Any]:
    """GET an admin add/change page and return what submitting it unchanged would POST."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    data = _form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_data(formset.management_form))
        for form in formset.forms:
            data.update(_form_data(form))
    data.update(overrides)
    return data


def inline_rows(prefix: str, initial: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """POST data for an inline formset of `initial` saved rows followed by new `rows`."""
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(initial + len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
    }
    for offset, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{initial + offset}-{key}"] = value
    return data
