from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts.api import ObtainToken, RevokeToken
from audit.api import AuditEventViewSet
from clinic.api import StaffViewSet
from lesions.api import LesionImageViewSet, LesionViewSet, ModelVersionViewSet, PatientViewSet
from portal.api import PatientInviteView
from sharing.api import LesionShareView, ShareViewSet

app_name = "api"


router = DefaultRouter()
router.register("patients", PatientViewSet, basename="patient")
router.register("lesions", LesionViewSet, basename="lesion")
router.register("images", LesionImageViewSet, basename="image")
router.register("models", ModelVersionViewSet, basename="modelversion")
router.register("shares", ShareViewSet, basename="share")
router.register("audit", AuditEventViewSet, basename="auditevent")
router.register("clinic/staff", StaffViewSet, basename="staff")

urlpatterns = [
    path("auth/token/", ObtainToken.as_view(), name="token"),
    path("auth/logout/", RevokeToken.as_view(), name="logout"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from this same address (?script), not inline: the content-security
    # policy runs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("lesions/<int:pk>/share/", LesionShareView.as_view(), name="lesion-share"),
    path("patients/<int:pk>/invite/", PatientInviteView.as_view(), name="patient-invite"),
    *router.urls,
]
