from audit.services import ACTION_BY_METHOD, record_event

# API routes that hold no patient data, or that record their own event (the token views record sign-in and out).
UNAUDITED_API_ROUTES = {"api:schema", "api:docs", "api:token", "api:logout", "api:api-root"}


class AuditMiddleware:
    """An audit event for each request that touched patient data: any request a view marked with a target (pages,
    share links, downloads, lists) and every API request, refused or not. A list showing several clinics' patients
    gets one event per clinic."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        targets = getattr(request, "audit_targets", None)
        if targets is not None or self.is_api_data_route(request):
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
