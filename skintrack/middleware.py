from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Adds the site's Content-Security-Policy to every HTML answer, so injected markup cannot run scripts."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", settings.SKINTRACK_CONTENT_SECURITY_POLICY)
        return response
