"""Shared by the page tests: the compare page once measured, and dates relative to now."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone


def measured_compare_page(client, lesion, params: dict | None = None):
    """The compare page once the worker has measured the pair: the first answer must say it is queued (a page never
    measures), then the worker's task runs, as the analysis queue would run it, and the page is asked again."""
    from lesions.tasks import measure_pair_task

    url = reverse("lesion-compare", args=[lesion.pk])
    first = client.get(url, params or {})
    assert first.status_code == 200 and first.context["queued"], "the page measured inside the request"
    assert "<strong>Measuring.</strong>" in first.content.decode()
    measure_pair_task(first.context["before"].pk, first.context["after"].pk)
    response = client.get(url, params or {})
    assert "queued" not in response.context
    return response


def days_ago(days: int):
    return timezone.now() - timedelta(days=days)
