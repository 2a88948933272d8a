from datetime import timedelta

from django.utils import timezone

from audit.services import ACTION_BY_METHOD, record_event, saw_patient_since

# API routes that hold no patient data, or that record their own event (the token views record sign-in and out).
UNAUDITED_API_ROUTES = {"api:schema", "api:docs", "api:token", "api:logout", "api:api-root"}
# What a page loads by itself after it: thumbnails and outlines (image tags), the result card it polls and the chart
# it redraws (htmx). Fetched by a page's session, one of these shows nothing more than the page's own event records.
PAGE_PART_ROUTES = {"api:image-thumbnail", "photo-outline", "photo-card", "lesion-chart"}
# Images load lazily as the reader scrolls, and a card polls while the worker runs: parts arrive minutes after.
PAGE_PARTS_FOLLOW_WITHIN = timedelta(minutes=10)


class AuditMiddleware:
    """An audit event for each request that touched patient data: any request a view marked with a target (pages,
    share links, downloads, lists) and every API request, refused or not. A list showing several clinics' patients
    gets one event per clinic. A part of a page (PAGE_PART_ROUTES) adds no event of its own when the same user's
    view of the same patient was recorded a moment before; a refused one, or one without such a view, is recorded.
    API clients (tokens) are recorded for every call."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        targets = getattr(request, "audit_targets", None)
        if (targets is not None or self.is_api_data_route(request)) and not self.is_part_of_an_audited_page(
            request, targets, response
        ):
            for target in targets or (None,):
                record_event(
                    request=request,
                    action=getattr(request, "audit_action", None) or ACTION_BY_METHOD.get(request.method, "view"),
                    target=target,
                    status_code=response.status_code,
                    changes=getattr(request, "audit_changes", None),
                )
        return response

    @staticmethod
    def is_api_data_route(request) -> bool:
        match = request.resolver_match
        return match is not None and match.namespace == "api" and match.view_name not in UNAUDITED_API_ROUTES

    @staticmethod
    def is_part_of_an_audited_page(request, targets, response) -> bool:
        match = request.resolver_match
        if match is None or match.view_name not in PAGE_PART_ROUTES or not targets or response.status_code >= 400:
            return False
        if getattr(request, "auth", None) is not None or not request.user.is_authenticated:
            return False
        since = timezone.now() - PAGE_PARTS_FOLLOW_WITHIN
        return all(
            target.patient_id is not None
            and saw_patient_since(user=request.user, patient_id=target.patient_id, since=since)
            for target in targets
        )
