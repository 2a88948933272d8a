from django.urls import path

from lesions import views

urlpatterns = [
    path("", views.home, name="home"),
]
