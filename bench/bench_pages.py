"""Server time of the clinic's pages, medians over repeated requests through Django's test client (middleware,
views, queries and templates; no network or browser).

    .venv/bin/python bench/bench_pages.py [--photos 50] [--repeats 20]

Builds its own SQLite database and media folder under var/bench/pages/ (wiped each run): one patient whose lesion
has --photos classified photos with measurements, and --patients other patients. Prints each page's median and p90
in milliseconds and its number of queries. The comparison is timed twice: measuring (registration and
measurements of the two latest photos) and answered from the cache.
Speed on this machine drifts 2-4x: compare figures from one run.
"""

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_DIR / "var" / "bench" / "pages"
sys.path.insert(0, str(REPO_DIR))


def configure() -> None:
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "skintrack.settings.test"
    os.environ["DATABASE_URL"] = f"sqlite:///{BENCH_DIR / 'bench.sqlite3'}"
    os.environ["DJANGO_MEDIA_ROOT"] = str(BENCH_DIR / "media")
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, and in-memory mail
    # As Django's test cases do: keep one connection across requests, so its queries can be counted.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    call_command("migrate", verbosity=0)


def build(*, photos: int, patients: int):
    from django.utils import timezone

    from tests.factories import LesionFactory, LesionImageFactory, MembershipFactory, PatientFactory, PredictionFactory

    clinician = MembershipFactory().user
    clinic = clinician.memberships.get().clinic
    lesion = LesionFactory(patient=PatientFactory(clinic=clinic), diagram_x=0.3, diagram_y=0.3)
    start = timezone.now() - timedelta(days=30 * photos)
    for index in range(photos):
        taken = start + timedelta(days=30 * index)
        image = LesionImageFactory(
            lesion=lesion, uploaded_by=clinician, lesion_scale=1 + index / photos / 2, captured_at=taken
        )
        PredictionFactory(image=image, most_likely="nv" if index % 3 else "mel", probability=0.5 + (index % 5) / 10)
        image.measurements = {"area_fraction": 0.05 + index / photos / 20}
        image.save(update_fields=["measurements"])
    for _ in range(patients):
        LesionFactory(patient=PatientFactory(clinic=clinic))
    return clinician, lesion


def timed(client, url: str, repeats: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    query_count = len(queries.captured_queries)  # read now: the next request resets the connection's query log
    timings = []
    for _ in range(repeats):
        begin = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - begin) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.9 * (len(timings) - 1))], query_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    configure()
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    clinician, lesion = build(photos=args.photos, patients=args.patients)
    client = Client()
    client.force_login(clinician)
    compare = reverse("lesion-compare", args=[lesion.pk])
    cache.clear()
    begin = time.perf_counter()
    client.get(compare)
    measuring_ms = (time.perf_counter() - begin) * 1000
    print(f"{args.photos} photos on the lesion, {args.patients + 1} patients; {args.repeats} requests per page")
    print(f"{'page':<40} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
    pages = {
        "dashboard": reverse("home"),
        "patient page": reverse("patient", args=[lesion.patient_id]),
        f"lesion page ({args.photos} photos)": reverse("lesion", args=[lesion.pk]),
        "lesion chart partial": reverse("lesion-chart", args=[lesion.pk]),
        "photo card partial": reverse("photo-card", args=[lesion.images.latest("id").pk]),
        "comparison (cached change)": compare,
    }
    for name, url in pages.items():
        median, p90, queries = timed(client, url, args.repeats)
        print(f"{name:<40} {median:>10.1f} {p90:>8.1f} {queries:>8}")
    print(f"{'comparison (measuring, first request)':<40} {measuring_ms:>10.1f}")


if __name__ == "__main__":
    main()
