"""Building the image: `collectstatic` with production's static-file storage, needing no secret and no service
(none exists yet when the image is built). Production serves these files; it adds the services on top."""

from skintrack.settings.base import *  # noqa: F403
from skintrack.settings.base import STORAGES

STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
