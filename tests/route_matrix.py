"""The permission matrix's table: every route of the URL configuration x every kind of user -> the expected answer,
and the World its requests run in. `tests/test_permission_matrix.py` checks the table against the URL configuration
and every row against the running site; `tests/browser/test_phone_width.py` opens every page it lists."""

from dataclasses import dataclass, field

from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern, URLResolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit.models import AuditEvent
from lesions.models import ModelVersion
from lesions.services import delete_lesion, delete_photo
from sharing.links import share_token
from sharing.services import share_lesion
from tests.conftest import People
from tests.factories import LesionFactory, LesionImageFactory, UserFactory

ROLES = ("anonymous", "patient_a", "patient_b", "clinician_a", "clinician_b", "admin_a")
# "passes" means the request got past authentication and permissions: any answer but 401, 403, 404 or a 5xx.
PASSES = "passes"


def answers(*, anonymous, patient_a, patient_b, clinician_a, clinician_b, admin_a) -> dict:
    return dict(zip(ROLES, (anonymous, patient_a, patient_b, clinician_a, clinician_b, admin_a), strict=True))


def patient_a_data(ok, *, anonymous):
    """Patient A's own data: patient A and clinic A see it; patient B and clinic B get 404, which leaks nothing."""
    return answers(anonymous=anonymous, patient_a=ok, patient_b=404, clinician_a=ok, clinician_b=404, admin_a=ok)


def clinic_a_only(ok, *, anonymous, patient_a=404):
    return answers(anonymous=anonymous, patient_a=patient_a, patient_b=404, clinician_a=ok, clinician_b=404, admin_a=ok)


def clinic_admin_only(ok):
    """Clinic A's admin pages: its admin only; every other signed-in user is refused before any lookup (an admin of
    another clinic gets 404 for clinic A's members: tests/test_clinic_staff.py)."""
    return {**signed_in(403, anonymous=PAGE), "admin_a": ok}


def everyone(status):
    return answers(
        anonymous=status, patient_a=status, patient_b=status, clinician_a=status, clinician_b=status, admin_a=status
    )


def signed_in(status, *, anonymous):
    return {**everyone(status), "anonymous": anonymous}


@dataclass
class Route:
    url: str  # formatted with the World's attributes
    expected: dict
    method: str = "get"
    data: dict = field(default_factory=dict)


API, PAGE = 401, 302  # what an anonymous visitor gets: the API asks for credentials, pages send to sign-in
ROUTES = {
    "api:api-root": Route("/api/", signed_in(200, anonymous=API)),
    "api:token": Route("/api/auth/token/", everyone(400), method="post"),
    "api:logout": Route("/api/auth/logout/", signed_in(204, anonymous=API), method="post"),
    "api:schema": Route("/api/schema/", everyone(200)),
    "api:docs": Route("/api/docs/", everyone(200)),
    "api:patient-list": Route("/api/patients/", signed_in(200, anonymous=API)),
    "api:patient-detail": Route("/api/patients/{patient}/", patient_a_data(200, anonymous=API)),
    "api:patient-invite": Route(
        "/api/patients/{patient}/invite/", clinic_a_only(PASSES, anonymous=API, patient_a=403), method="post"
    ),
    "api:lesion-list": Route("/api/lesions/", signed_in(200, anonymous=API)),
    "api:lesion-detail": Route("/api/lesions/{lesion}/", patient_a_data(200, anonymous=API)),
    "api:lesion-diagnosis": Route(
        "/api/lesions/{lesion}/diagnosis/",
        # Patients are refused before any lookup (they never record diagnoses), so 403 tells them nothing.
        answers(anonymous=API, patient_a=403, patient_b=403, clinician_a=PASSES, clinician_b=404, admin_a=PASSES),
        method="post",
    ),
    "api:lesion-status": Route(
        "/api/lesions/{lesion}/status/",
        # As for diagnoses: patients are refused before any lookup.
        answers(anonymous=API, patient_a=403, patient_b=403, clinician_a=PASSES, clinician_b=404, admin_a=PASSES),
        method="post",
        data={"status": "referred"},
    ),
    # Nobody runs the worker here: the pair stays queued (202) for everyone allowed to ask.
    "api:lesion-compare": Route(
        "/api/lesions/{lesion}/compare/?before={earlier_image}&after={image}", patient_a_data(202, anonymous=API)
    ),
    "api:lesion-timeline": Route("/api/lesions/{lesion}/timeline/", patient_a_data(200, anonymous=API)),
    "api:lesion-images": Route("/api/lesions/{lesion}/images/", patient_a_data(PASSES, anonymous=API), method="post"),
    "api:lesion-share": Route("/api/lesions/{lesion}/share/", patient_a_data(PASSES, anonymous=API), method="post"),
    "api:lesion-restore": Route(
        "/api/lesions/{deleted_lesion}/restore/",
        # Patients are refused before any lookup; a clinician of the clinic finds it but only an admin restores.
        answers(anonymous=API, patient_a=403, patient_b=403, clinician_a=403, clinician_b=404, admin_a=200),
        method="post",
    ),
    "api:image-list": Route("/api/images/", signed_in(200, anonymous=API)),
    "api:image-restore": Route(
        "/api/images/{deleted_image}/restore/",
        answers(anonymous=API, patient_a=404, patient_b=404, clinician_a=403, clinician_b=404, admin_a=200),
        method="post",
    ),
    "api:image-detail": Route("/api/images/{image}/", patient_a_data(200, anonymous=API)),
    "api:image-file": Route("/api/images/{image}/file/", patient_a_data(200, anonymous=API)),
    "api:image-review": Route(
        "/api/images/{image}/review/",
        # Patient A sees the photo but never reviews it; clinic B cannot see it.
        clinic_a_only(PASSES, anonymous=API, patient_a=403),
        method="post",
        data={"disposition": "routine"},
    ),
    "api:image-acknowledge": Route(
        "/api/images/{image}/acknowledge/", clinic_a_only(PASSES, anonymous=API, patient_a=403), method="post"
    ),
    "api:image-review-queue": Route(
        "/api/images/review-queue/",
        answers(anonymous=API, patient_a=403, patient_b=403, clinician_a=200, clinician_b=200, admin_a=200),
    ),
    "api:image-thumbnail": Route("/api/images/{image}/thumbnail/", patient_a_data(200, anonymous=API)),
    # The photo is not held back here, so the clinic's request passes permissions and is refused with 409.
    "api:image-classify-anyway": Route(
        "/api/images/{image}/classify-anyway/", clinic_a_only(PASSES, anonymous=API, patient_a=403), method="post"
    ),
    "api:modelversion-list": Route("/api/models/", signed_in(200, anonymous=API)),
    "api:modelversion-detail": Route("/api/models/{model_version}/", signed_in(200, anonymous=API)),
    "api:share-list": Route("/api/shares/", signed_in(200, anonymous=API)),
    "api:share-detail": Route("/api/shares/{share}/", patient_a_data(200, anonymous=API)),
    "api:share-revoke": Route("/api/shares/{share}/revoke/", patient_a_data(PASSES, anonymous=API), method="post"),
    "api:auditevent-list": Route("/api/audit/", {**signed_in(403, anonymous=API), "admin_a": 200}),
    "api:auditevent-detail": Route("/api/audit/{audit_event}/", {**signed_in(403, anonymous=API), "admin_a": 200}),
    "api:staff-list": Route("/api/clinic/staff/", {**signed_in(403, anonymous=API), "admin_a": 200}),
    "api:staff-detail": Route("/api/clinic/staff/{membership}/", {**signed_in(403, anonymous=API), "admin_a": 200}),
    "api:staff-deactivate": Route(
        "/api/clinic/staff/{membership}/deactivate/", {**signed_in(403, anonymous=API), "admin_a": 200}, method="post"
    ),
    "login": Route("/accounts/login/", everyone(200)),
    "logout": Route("/accounts/logout/", everyone(302), method="post"),
    "password_change": Route("/accounts/password/change/", signed_in(200, anonymous=PAGE)),
    "password_change_done": Route("/accounts/password/change/done/", signed_in(200, anonymous=PAGE)),
    "password_reset": Route("/accounts/password/reset/", everyone(200)),
    "password_reset_done": Route("/accounts/password/reset/sent/", everyone(200)),
    "password_reset_confirm": Route("/accounts/password/reset/{reset_uid}/{reset_token}/", everyone(302)),
    "password_reset_complete": Route("/accounts/password/reset/done/", everyone(200)),
    "sharing:shared-lesion": Route("/s/{share_token}/", everyone(200)),
    "sharing:shared-image": Route("/s/{share_token}/images/{image}/", everyone(200)),
    "sharing:shared-report": Route("/s/{share_token}/report.pdf", everyone(200)),
    "lesion-report": Route("/lesions/{lesion}/report.pdf", patient_a_data(200, anonymous=PAGE)),
    "sharing:lesion-share": Route("/lesions/{lesion}/share/", patient_a_data(200, anonymous=PAGE)),
    "sharing:shares": Route("/shares/", signed_in(200, anonymous=PAGE)),
    "sharing:share-revoke": Route("/shares/{share}/revoke/", patient_a_data(302, anonymous=PAGE), method="post"),
    "portal:patient-invite": Route("/patients/{patient}/invite/", clinic_a_only(200, anonymous=PAGE, patient_a=403)),
    "portal:ai-training": Route(
        "/my/ai-training/",
        answers(anonymous=PAGE, patient_a=200, patient_b=200, clinician_a=403, clinician_b=403, admin_a=403),
    ),
    "sharing:notifications": Route(
        "/my/notifications/",
        answers(anonymous=PAGE, patient_a=403, patient_b=403, clinician_a=200, clinician_b=200, admin_a=200),
    ),
    "clinic:staff": Route("/clinic/staff/", clinic_admin_only(200)),
    "clinic:staff-role": Route(
        "/clinic/staff/{membership}/role/", clinic_admin_only(302), method="post", data={"role": "clinician"}
    ),
    "clinic:staff-deactivate": Route("/clinic/staff/{membership}/deactivate/", clinic_admin_only(200)),
    "clinic:audit": Route("/clinic/audit/", clinic_admin_only(200)),
    "clinic:audit-export": Route("/clinic/audit/export.csv", clinic_admin_only(200)),
    "home": Route("/", signed_in(PASSES, anonymous=PAGE)),
    "learn": Route("/learn/", everyone(200)),
    "patient-new": Route(
        "/patients/new/",
        answers(anonymous=PAGE, patient_a=403, patient_b=403, clinician_a=200, clinician_b=200, admin_a=200),
    ),
    "patient": Route("/patients/{patient}/", patient_a_data(200, anonymous=PAGE)),
    "patient-edit": Route("/patients/{patient}/edit/", clinic_a_only(200, anonymous=PAGE, patient_a=403)),
    "lesion-delete": Route(
        "/lesions/{lesion}/delete/", clinic_a_only(302, anonymous=PAGE, patient_a=403), method="post"
    ),
    "photo-edit": Route("/photos/{image}/edit/", clinic_a_only(200, anonymous=PAGE, patient_a=403)),
    "photo-delete": Route("/photos/{image}/delete/", clinic_a_only(302, anonymous=PAGE, patient_a=403), method="post"),
    # Refused (a drawn line is needed) but past the permission checks: the clinic of the photo only.
    "photo-scale": Route("/photos/{image}/scale/", clinic_a_only(400, anonymous=PAGE, patient_a=403), method="post"),
    # The clinic's members read the dermatoscope's field of view; only its admin sets it.
    "clinic-dermatoscope": Route("/clinics/{clinic}/dermatoscope/", clinic_a_only(200, anonymous=PAGE)),
    "deleted-records": Route(
        "/deleted/",
        answers(anonymous=PAGE, patient_a=403, patient_b=403, clinician_a=403, clinician_b=403, admin_a=200),
    ),
    # Deleted records are found among the clinic's own only; a clinician of the clinic may not restore them.
    "photo-restore": Route(
        "/deleted/photos/{deleted_image}/restore/",
        answers(anonymous=PAGE, patient_a=404, patient_b=404, clinician_a=403, clinician_b=404, admin_a=302),
        method="post",
    ),
    "lesion-restore": Route(
        "/deleted/lesions/{deleted_lesion}/restore/",
        answers(anonymous=PAGE, patient_a=404, patient_b=404, clinician_a=403, clinician_b=404, admin_a=302),
        method="post",
    ),
    "lesion": Route("/lesions/{lesion}/", patient_a_data(200, anonymous=PAGE)),
    "lesion-edit": Route(
        "/lesions/{lesion}/edit/", clinic_a_only(PASSES, anonymous=PAGE, patient_a=403), method="post"
    ),
    "lesion-diagnosis": Route(
        "/lesions/{lesion}/diagnosis/", clinic_a_only(PASSES, anonymous=PAGE, patient_a=403), method="post"
    ),
    "lesion-status": Route(
        "/lesions/{lesion}/status/",
        clinic_a_only(PASSES, anonymous=PAGE, patient_a=403),
        method="post",
        data={"status": "referred"},
    ),
    "lesion-chart": Route("/lesions/{lesion}/chart/", patient_a_data(200, anonymous=PAGE)),
    "lesion-compare": Route("/lesions/{lesion}/compare/", patient_a_data(200, anonymous=PAGE)),
    "photo-upload": Route("/lesions/{lesion}/photos/", patient_a_data(PASSES, anonymous=PAGE), method="post"),
    "photo-card": Route("/photos/{image}/card/", patient_a_data(200, anonymous=PAGE)),
    "photo-classify-anyway": Route(
        "/photos/{image}/classify-anyway/", clinic_a_only(PASSES, anonymous=PAGE, patient_a=403), method="post"
    ),
    "photo-review": Route(
        "/photos/{image}/review/",
        # The clinic is sent back to the lesion page (the analysis of the world's photo is still queued).
        clinic_a_only(302, anonymous=PAGE, patient_a=403),
        method="post",
    ),
    "photo-acknowledge": Route(
        "/photos/{image}/acknowledge/", clinic_a_only(PASSES, anonymous=PAGE, patient_a=403), method="post"
    ),
    "review-queue": Route(
        "/review/",
        answers(anonymous=PAGE, patient_a=403, patient_b=403, clinician_a=200, clinician_b=200, admin_a=200),
    ),
    # The world's photos are not reviewed: their outline (a result) is withheld from the patient until they are.
    "photo-outline": Route("/photos/{image}/outline.png", {**patient_a_data(200, anonymous=PAGE), "patient_a": 403}),
}


# Further methods of routes above, as "name METHOD".
OTHER_METHODS = {
    "api:patient-detail PATCH": Route(
        "/api/patients/{patient}/",
        # Patient A may change only their AI-training opt-out.
        clinic_a_only(200, anonymous=API, patient_a=403),
        method="patch",
        data={"first_name": "Corrected"},
    ),
    "api:lesion-detail PATCH": Route(
        "/api/lesions/{lesion}/",
        answers(anonymous=API, patient_a=403, patient_b=403, clinician_a=200, clinician_b=404, admin_a=200),
        method="patch",
        data={"label": "left shoulder, A"},
    ),
    "api:lesion-detail DELETE": Route(
        "/api/lesions/{lesion}/",
        answers(anonymous=API, patient_a=403, patient_b=403, clinician_a=204, clinician_b=404, admin_a=204),
        method="delete",
    ),
    "api:image-detail PATCH": Route(
        "/api/images/{image}/",
        clinic_a_only(200, anonymous=API, patient_a=403),
        method="patch",
        data={"captured_at": "2026-02-01T10:00:00Z"},
    ),
    "api:image-detail PATCH scale": Route(
        "/api/images/{image}/",
        clinic_a_only(200, anonymous=API, patient_a=403),
        method="patch",
        data={"mm_per_pixel": 0.02},
    ),
    "clinic-dermatoscope POST": Route(
        "/clinics/{clinic}/dermatoscope/",
        answers(anonymous=PAGE, patient_a=404, patient_b=404, clinician_a=403, clinician_b=404, admin_a=302),
        method="post",
        data={"dermatoscope_field_of_view_mm": "20"},
    ),
    "api:image-detail DELETE": Route(
        "/api/images/{image}/", clinic_a_only(204, anonymous=API, patient_a=403), method="delete"
    ),
}


def route_names(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from route_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


class World(People):
    """The shared cast, plus one of everything patient A has: two photos, a share, a model version."""

    def __init__(self):
        super().__init__()
        self.earlier_image_a, self.image_a = (
            LesionImageFactory(lesion=self.lesion_a, uploaded_by=self.clinician_a, captured_at=captured_at)
            for captured_at in ("2026-01-05T10:00:00Z", "2026-04-05T10:00:00Z")
        )
        # A user who never signs in during the test: signing in would invalidate their password-reset token.
        forgetful = UserFactory()
        shared = share_lesion(lesion=self.lesion_a, shared_by=self.clinician_a, to="gp@example.org")
        deleted_image = LesionImageFactory(lesion=self.lesion_a, uploaded_by=self.clinician_a)
        delete_photo(image=deleted_image, deleted_by=self.clinician_a)
        deleted_lesion = LesionFactory(patient=self.patient_a)
        delete_lesion(lesion=deleted_lesion, deleted_by=self.clinician_a)
        self.values = {
            "patient": self.patient_a.pk,
            "clinic": self.clinic_a.pk,
            "lesion": self.lesion_a.pk,
            "image": self.image_a.pk,
            "earlier_image": self.earlier_image_a.pk,
            "deleted_image": deleted_image.pk,
            "deleted_lesion": deleted_lesion.pk,
            "share": shared.pk,
            "share_token": share_token(shared),
            "model_version": ModelVersion.objects.create(name="lite0", version="matrix-test", sha256="0" * 64).pk,
            "membership": self.clinician_a.memberships.get().pk,
            "audit_event": AuditEvent.objects.create(action="view", clinic_id=self.clinic_a.pk).pk,
            "reset_uid": urlsafe_base64_encode(force_bytes(forgetful.pk)),
            "reset_token": default_token_generator.make_token(forgetful),
        }

    def user(self, role: str):
        return {
            "anonymous": None,
            "patient_a": self.patient_a_user,
            "patient_b": self.patient_b_user,
            "clinician_a": self.clinician_a,
            "clinician_b": self.clinician_b,
            "admin_a": self.admin_a,
        }[role]
