"""Uploads are refused by size before they are written anywhere: by the request's Content-Length before its body
is read (UploadSizeLimitMiddleware), and per file while it streams in (BoundedUploadHandler), so that a 400 MB
upload never becomes a 400 MB temporary file on its way to the 20 MB refusal."""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

# Room for the multipart framing and the form's other fields (date, modality, CSRF token) around one photo.
MULTIPART_ALLOWANCE_BYTES = 256 * 1024


def max_request_bytes() -> int:
    return settings.SKINTRACK_MAX_UPLOAD_BYTES + MULTIPART_ALLOWANCE_BYTES


def too_large_message(size: int) -> str:
    limit = settings.SKINTRACK_MAX_UPLOAD_BYTES / 1_048_576
    return f"The upload is {size / 1_048_576:.1f} MB; photos can be at most {limit:.0f} MB. Choose a smaller photo."


class UploadSizeLimitMiddleware:
    """Answers 413 to a request whose declared body is larger than one photo and its form, without reading it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads no body then either
        if declared > max_request_bytes():
            message = too_large_message(declared)
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            page = f'<!doctype html><title>Upload too large</title><p role="alert">{escape(message)}</p>'
            return HttpResponse(page, status=413)
        return self.get_response(request)


class RefusedUpload(UploadedFile):
    """What is kept of a file that passed SKINTRACK_MAX_UPLOAD_BYTES: its name and how many bytes arrived, no
    content; lesions.uploads.clean_uploaded_image refuses it by its size with its usual message."""

    def __init__(self, *, name: str, content_type: str, size: int):
        super().__init__(file=io.BytesIO(), name=name, content_type=content_type, size=size)


class BoundedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: passes each file's data on to the handlers that store it (memory or a
    temporary file) only up to SKINTRACK_MAX_UPLOAD_BYTES; past that, the rest is counted and dropped."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.SKINTRACK_MAX_UPLOAD_BYTES:
            return None  # the handlers after this one never see it
        return raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.received > settings.SKINTRACK_MAX_UPLOAD_BYTES:
            return RefusedUpload(name=self.file_name, content_type=self.content_type, size=self.received)
        return None  # the storing handler completes the file
