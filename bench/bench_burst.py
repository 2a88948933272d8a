"""A clinic uploads a whole follow-up visit at once: does classification keep up while outlines and comparisons run?

    .venv/bin/python bench/bench_burst.py                       # 30 and 100 photos, one lesion and 30 lesions
    .venv/bin/python bench/bench_burst.py --photos 30 --lesions 1

On `make run`'s embedded default (SQLite, the filesystem broker), photos are uploaded back to back through the upload
service (validation, storage, the message) and two worker topologies are compared side by side in one run:
- `shared` (before): one worker with a pool of two processes taking the classification and analysis queues together,
  as `make run` started it until now: a classification can wait behind outlines and comparisons (1-4 s each);
- `split` (after, the Procfile): a classifier process of its own, and an analyst at a lower priority for outlines,
  changes and mail; `split-2` the same with two classifying processes (not the default: `--topologies split-2`).
Prints, per topology and burst: upload saved -> prediction stored (the Prediction row's created_at minus the
LesionImage row's), p50/p95/max; and how long after the last upload every photo's change was measured.
Speed on this machine drifts 2-4x: compare figures from one run only.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

from bench_pipeline import BENCH_DIR, REPO, Worker, percentile, photos, run_scenario, scenario_env, setup_django

TOPOLOGIES = {
    "shared": [{"queues": "classification,analysis,celery", "concurrency": 2}],
    "split": [
        {"queues": "classification", "concurrency": 1},
        {"queues": "analysis,celery", "concurrency": 1, "nice": 10},
    ],
    # Whether a second classifying process helps on 2 cores (the classification is CPU-bound).
    "split-2": [
        {"queues": "classification", "concurrency": 2},
        {"queues": "analysis,celery", "concurrency": 1, "nice": 10},
    ],
}


def burst_child(name: str, topology: str, count: int, lesion_count: int) -> dict:
    setup_django()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import Clinic, Membership, User
    from lesions.models import Lesion, LesionImage, Patient, Prediction
    from lesions.services import add_lesion_image

    clinic = Clinic.objects.create(name=f"Burst clinic {name}")
    user = User.objects.create_user(username=f"burst-{name}")
    Membership.objects.create(user=user, clinic=clinic, role=Membership.Role.CLINICIAN)
    patient = Patient.objects.create(clinic=clinic, medical_record_number="BURST-1", first_name="B", last_name="B")
    lesions = [Lesion.objects.create(patient=patient, body_site="back") for _ in range(lesion_count)]
    workers = [
        Worker(
            BENCH_DIR / name / f"worker-{index}.log",
            spec["concurrency"],
            queues=spec["queues"],
            nice=spec.get("nice", 0),
        )
        for index, spec in enumerate(TOPOLOGIES[topology])
    ]
    try:
        uploaded = []
        for index, path in enumerate(photos(count)):
            content = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
            lesion = lesions[index % lesion_count]
            uploaded.append(add_lesion_image(lesion=lesion, upload=content, uploaded_by=user).pk)
        last_upload_at = time.monotonic()
        deadline = last_upload_at + 1800
        while LesionImage.objects.filter(pk__in=uploaded).exclude(change_status__in=["done", "failed"]).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the burst was not fully analysed within 30 minutes")
            time.sleep(0.2)
        analysed_after = time.monotonic() - last_upload_at
        predictions = {p.image_id: p.created_at for p in Prediction.objects.filter(image_id__in=uploaded)}
        images = LesionImage.objects.filter(pk__in=uploaded)
        latencies = [
            (predictions[image.pk] - image.created_at).total_seconds() * 1000
            for image in images
            if image.pk in predictions
        ]
        failed = images.exclude(status="done").count() + images.exclude(change_status="done").count()
    finally:
        for worker in workers:
            worker.stop()
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
        "classified": len(latencies),
        "not_done": failed,
        "all_changes_measured_s": analysed_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default="30,100", help="burst sizes")
    parser.add_argument("--lesions", default="1,30", help="how many lesions the burst is spread over")
    parser.add_argument("--topologies", default="shared,split")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--topology", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(burst_child(args.child, args.topology, int(args.photos), int(args.lesions))))
        return

    print(
        f"{'burst':<22}{'topology':<10}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'changes done after s':>22}"
        f"{'not done':>10}"
    )
    for count in map(int, args.photos.split(",")):
        for lesion_count in map(int, args.lesions.split(",")):
            for topology in args.topologies.split(","):
                name = f"burst-{count}-{lesion_count}-{topology}"
                result = run_scenario(
                    name,
                    scenario_env(name),
                    "--topology",
                    topology,
                    "--photos",
                    str(count),
                    "--lesions",
                    str(lesion_count),
                    script=__file__,
                )
                burst = f"{count} photos, {lesion_count} lesion{'s' if lesion_count > 1 else ''}"
                print(
                    f"{burst:<22}{topology:<10}{result['p50_ms']:>8.0f}{result['p95_ms']:>8.0f}"
                    f"{result['max_ms']:>8.0f}{result['all_changes_measured_s']:>22.1f}{result['not_done']:>10}",
                    flush=True,
                )
    load = subprocess.run(["cat", "/proc/loadavg"], capture_output=True, text=True).stdout.split()[:3]
    print(f"\nload average at the end: {' '.join(load)} (2 cores); repository {REPO}")


if __name__ == "__main__":
    sys.exit(main())
