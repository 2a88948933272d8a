from datetime import datetime

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from factory.django import DjangoModelFactory

from accounts.models import Clinic, Membership, User
from inference import Prediction as ModelPrediction
from inference.serving.labels import CLASSES
from lesions import pipeline
from lesions.models import BodySite, Lesion, LesionImage, ModelVersion, Patient, Prediction
from lesions.services import add_lesion_image
from sharing.models import Share
from sharing.services import share_lesion
from tests.images import photo_bytes

PASSWORD = "correct-horse-battery"


class ClinicFactory(DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Membership.Role.CLINICIAN


class PatientFactory(DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    medical_record_number = factory.Sequence(lambda n: f"MRN-{n:05d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=90)
    sex = Patient.Sex.FEMALE
    family_physician_name = "Dr. Ada Hart"
    family_physician_email = "gp@example.org"


class LesionFactory(DjangoModelFactory):
    class Meta:
        model = Lesion

    patient = factory.SubFactory(PatientFactory)
    body_site = BodySite.BACK
    label = factory.Sequence(lambda n: f"Lesion {n}")


def clinician_of(lesion: Lesion) -> User:
    """A new clinician of the lesion's clinic: whoever a factory needs to act on the lesion when a test names no one."""
    return MembershipFactory(clinic=lesion.patient.clinic).user


class LesionImageFactory(DjangoModelFactory):
    """A photo stored through the real upload path (validated, thumbnailed, queued for classification): a real
    dermoscopic photo (tests.images.real_lesion_photo); `lesion_scale` enlarges its lesion, `content` gives other
    bytes.

    `outlined=True` runs the analysis queue's outline stage on it; `compared=True` also measures its change from
    the lesion's previous outlined photo, as the worker does (`change_from_previous`)."""

    class Meta:
        model = LesionImage
        # The stages write the photo's row themselves; saving the instance again after them would add nothing.
        skip_postgeneration_save = True

    class Params:
        lesion_scale = 1.0

    lesion = factory.SubFactory(LesionFactory)
    uploaded_by = factory.LazyAttribute(lambda image: clinician_of(image.lesion))
    captured_at = None
    modality = LesionImage.Modality.DERMOSCOPIC
    content = factory.LazyAttribute(lambda image: photo_bytes(lesion_scale=image.lesion_scale))

    @classmethod
    def _create(cls, model_class, *, content: bytes, **fields) -> LesionImage:
        upload = SimpleUploadedFile("lesion.jpg", content, content_type="image/jpeg")
        return add_lesion_image(upload=upload, **fields)

    @factory.post_generation
    def outlined(image, create, extracted, **kwargs):
        if extracted:
            pipeline.outline_image(image_pk=image.pk)
            image.refresh_from_db()

    @factory.post_generation
    def compared(image, create, extracted, **kwargs):
        if extracted:
            pipeline.analyse_image(image_pk=image.pk)
            image.refresh_from_db()


class ModelVersionFactory(DjangoModelFactory):
    class Meta:
        model = ModelVersion
        django_get_or_create = ("version",)

    name = "EfficientNet-Lite0"
    version = "lite0-2026.11-test"
    sha256 = "0" * 64


def spread_probabilities(*, most_likely: str, probability: float) -> dict[str, float]:
    """`most_likely` at `probability`, the other classes sharing the rest equally."""
    rest = (1 - probability) / (len(CLASSES) - 1)
    return {code: probability if code == most_likely else rest for code in CLASSES}


class PredictionFactory(DjangoModelFactory):
    """A prediction stored as the worker stores the classifier's answer (`pipeline.store_predictions`, which marks
    the photo classified); the two most likely classes and the malignancy follow from `probabilities` as the
    classifier derives them."""

    class Meta:
        model = Prediction

    class Params:
        most_likely = "nv"
        probability = 0.7

    image = factory.SubFactory(LesionImageFactory)
    model_version = factory.SubFactory(ModelVersionFactory)
    probabilities = factory.LazyAttribute(
        lambda prediction: spread_probabilities(most_likely=prediction.most_likely, probability=prediction.probability)
    )
    dx_type = factory.LazyFunction(lambda: {"histo": 0.6, "follow_up": 0.3, "consensus": 0.1, "confocal": 0.0})

    @classmethod
    def _create(cls, model_class, *, image, model_version, probabilities, dx_type) -> Prediction:
        answer = ModelPrediction.from_probabilities(probabilities, dx_type, model_version=model_version.version)
        pipeline.store_predictions(version=model_version, results=[(image, answer)])
        return model_class.objects.get(image=image, model_version=model_version)


class ShareFactory(DjangoModelFactory):
    """A share recorded through `sharing.services.share_lesion` (its token, expiry and photos as the service sets
    them; its email queued once committed), to the patient's family physician unless `to` names someone."""

    class Meta:
        model = Share

    lesion = factory.SubFactory(LesionFactory)
    shared_by = factory.LazyAttribute(lambda share: clinician_of(share.lesion))
    to = ""

    @classmethod
    def _create(cls, model_class, **fields) -> Share:
        return share_lesion(**fields)


BEFORE_TAKEN = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
AFTER_TAKEN = datetime.fromisoformat("2026-09-14T10:00:00+00:00")
EARLIER = {"akiec": 0.02, "bcc": 0.03, "bkl": 0.10, "df": 0.02, "mel": 0.13, "nv": 0.68, "vasc": 0.02}
LATER = {"akiec": 0.03, "bcc": 0.04, "bkl": 0.08, "df": 0.01, "mel": 0.57, "nv": 0.25, "vasc": 0.02}
GROWTH = 1.2  # the later photo's lesion is this much longer: the change measured flags it


def followed_lesion(lesion: Lesion, user: User, *, aligned: bool = True) -> tuple[LesionImage, LesionImage]:
    """Two dated photos of the lesion, classified and outlined by the pipeline: the lesion grew (x1.2 across) and its
    melanoma probability rose from 13% to 57%. `aligned`: the worker has also measured the pair's change."""
    before = LesionImageFactory(lesion=lesion, uploaded_by=user, captured_at=BEFORE_TAKEN, outlined=True)
    after = LesionImageFactory(
        lesion=lesion, uploaded_by=user, captured_at=AFTER_TAKEN, lesion_scale=GROWTH, outlined=True, compared=aligned
    )
    PredictionFactory(image=before, probabilities=EARLIER)
    PredictionFactory(image=after, probabilities=LATER)
    before.refresh_from_db()
    after.refresh_from_db()
    return before, after
