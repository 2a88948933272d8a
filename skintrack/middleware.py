import ipaddress

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.utils.cache import add_never_cache_headers
from django.views import defaults
from django.views.debug import ExceptionReporter

from skintrack.addresses import client_ip


class NoStoreMiddleware:
    """No answer of this site is kept by a browser or a proxy cache: pages, API answers and photos carry patients'
    data, and a shared computer's cache, or the back button after signing out, must not show them. (Static
    files are served before this middleware, by WhiteNoise, and stay cacheable.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response


class ContentSecurityPolicyMiddleware:
    """Adds the site's Content-Security-Policy to every HTML answer, so injected markup cannot run scripts."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", settings.SKINTRACK_CONTENT_SECURITY_POLICY)
        return response


def is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


class ClientSafeExceptionReporter(ExceptionReporter):
    """Stands in for Django's debug traceback (settings, request, local variables: patient data) when the client is
    not this machine: it answers the page production would."""

    def get_traceback_html(self) -> str:
        return self.production_page().content.decode()

    def get_traceback_text(self) -> str:
        return self.production_page().content.decode()

    def production_page(self):
        if isinstance(self.exc_value, (SuspiciousOperation, BadRequest, MultiPartParserError)):
            return defaults.bad_request(self.request, self.exc_value)
        return defaults.server_error(self.request)


class LoopbackOnlyDebugPagesMiddleware:
    """With DEBUG on (`make run`), debug pages reach this machine only. Any other client (by its address, never by
    the Host header it wrote) gets production's error pages: no traceback, no URLconf listing. Outermost, so that
    it also covers the errors other middleware raise (a spoofed Host header is refused by CommonMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.DEBUG or is_loopback(client_ip(request)):
            return self.get_response(request)
        request.exception_reporter_class = ClientSafeExceptionReporter
        response = self.get_response(request)
        # Django's debug 404 page (with the URL patterns) has no hook like the reporter's: every HTML 404 a remote
        # client gets is production's instead.
        if response.status_code == 404 and response.get("Content-Type", "").startswith("text/html"):
            return defaults.page_not_found(request, Http404())
        return response
