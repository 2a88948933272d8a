from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/", include("skintrack.api_urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("clinic.urls")),
    path("", include("sharing.urls")),
    path("", include("portal.urls")),
    path("", include("lesions.urls")),
]
