from django.urls import path

from sharing import views

app_name = "sharing"

urlpatterns = [
    path("s/<str:token>/", views.shared_lesion, name="shared-lesion"),
    path("s/<str:token>/images/<int:image_pk>/", views.shared_image, name="shared-image"),
    path("s/<str:token>/report.pdf", views.shared_report, name="shared-report"),
    path("lesions/<int:pk>/share/", views.lesion_share, name="lesion-share"),
    path("shares/", views.share_list, name="shares"),
    path("shares/<int:pk>/revoke/", views.share_revoke, name="share-revoke"),
    path("my/notifications/", views.notifications, name="notifications"),
]
