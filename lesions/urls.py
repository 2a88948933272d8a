from django.urls import path

from lesions import views

urlpatterns = [
    path("", views.home, name="home"),
    path("learn/", views.learn, name="learn"),
    path("patients/new/", views.patient_new, name="patient-new"),
    path("patients/<int:pk>/", views.patient_detail, name="patient"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient-edit"),
    path("lesions/<int:pk>/", views.lesion_detail, name="lesion"),
    path("lesions/<int:pk>/edit/", views.lesion_edit, name="lesion-edit"),
    path("lesions/<int:pk>/delete/", views.lesion_delete, name="lesion-delete"),
    path("lesions/<int:pk>/diagnosis/", views.lesion_diagnosis, name="lesion-diagnosis"),
    path("lesions/<int:pk>/status/", views.lesion_status, name="lesion-status"),
    path("lesions/<int:pk>/report.pdf", views.lesion_report, name="lesion-report"),
    path("lesions/<int:pk>/chart/", views.lesion_chart, name="lesion-chart"),
    path("lesions/<int:pk>/photos/", views.photo_upload, name="photo-upload"),
    path("lesions/<int:pk>/compare/", views.lesion_compare, name="lesion-compare"),
    path("photos/<int:pk>/card/", views.photo_card, name="photo-card"),
    path("photos/<int:pk>/edit/", views.photo_edit, name="photo-edit"),
    path("photos/<int:pk>/delete/", views.photo_delete, name="photo-delete"),
    path("photos/<int:pk>/scale/", views.photo_scale, name="photo-scale"),
    path("photos/<int:pk>/classify-anyway/", views.photo_classify_anyway, name="photo-classify-anyway"),
    path("photos/<int:pk>/review/", views.photo_review, name="photo-review"),
    path("photos/<int:pk>/acknowledge/", views.photo_acknowledge, name="photo-acknowledge"),
    path("review/", views.review_queue, name="review-queue"),
    path("clinics/<int:pk>/dermatoscope/", views.clinic_dermatoscope, name="clinic-dermatoscope"),
    path("deleted/", views.deleted_records, name="deleted-records"),
    path("deleted/photos/<int:pk>/restore/", views.photo_restore, name="photo-restore"),
    path("deleted/lesions/<int:pk>/restore/", views.lesion_restore, name="lesion-restore"),
    path("photos/<int:pk>/outline.png", views.photo_outline, name="photo-outline"),
]
