from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("patients/<int:pk>/invite/", views.patient_invite, name="patient-invite"),
    path("my/ai-training/", views.ai_training_preference, name="ai-training"),
]
