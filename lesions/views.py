from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from lesions.models import Patient


@login_required
def home(request):
    patients = Patient.objects.visible_to(request.user).prefetch_related("lesions")
    return render(request, "lesions/home.html", {"patients": patients})
