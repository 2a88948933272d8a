"""Shared by the settings and Docker Compose tests: what production refuses to start without."""

import secrets

# What production refuses to start without (issue 13): each names a service or the address links point at.
PRODUCTION_REQUIRED = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgres://u:p@db.example:5432/skintrack",
    "REDIS_URL": "redis://cache.example:6379/0",
    "EMAIL_HOST": "smtp.example",
    "AWS_STORAGE_BUCKET_NAME": "media",
    "SKINTRACK_BASE_URL": "https://skintrack.example",
}
