from django.urls import path

from clinic import views

app_name = "clinic"

urlpatterns = [
    path("clinic/staff/", views.staff, name="staff"),
    path("clinic/staff/<int:pk>/role/", views.staff_role, name="staff-role"),
    path("clinic/staff/<int:pk>/deactivate/", views.staff_deactivate, name="staff-deactivate"),
    path("clinic/audit/", views.audit, name="audit"),
    path("clinic/audit/export.csv", views.audit_export, name="audit-export"),
]
