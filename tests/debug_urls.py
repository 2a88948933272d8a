"""The site's URLs plus one view that fails with a patient's name in its local variables, as a real bug would."""

from django.urls import include, path

from lesions.models import Patient


def failing_view(request):
    patient = Patient.objects.get()
    raise ValueError(f"could not summarise {patient.last_name}")


urlpatterns = [path("failing/", failing_view), path("", include("skintrack.urls"))]
