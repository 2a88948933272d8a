"""Workers killed with SIGKILL mid-task, again and again: is any photo left stuck, any stage lost, anything duplicated?

    .venv/bin/python bench/bench_sigkill.py                     # Redis and the embedded broker
    .venv/bin/python bench/bench_sigkill.py --brokers filesystem --photos 20 --kills 6

For each broker: the `make run` topology (a classifier, an analyst and beat, as in the Procfile) and a burst of photos
(HAM10000 copies and 600x450 originals, over three lesions). While they are processed, the classifier and the analyst
are killed in turn with SIGKILL (the OOM killer, a host crash) at the moment a photo's stage of theirs is running,
and started again. Then the photos are waited for. Prints, per broker:
- photos stuck: a stage still queued or running at the end (after --settle seconds);
- stages lost: a stage that ended `failed` (an interruption is not a reason to fail a photo);
- duplicated: photos with more than one prediction, and mask files that no photo refers to;
- the longest a killed photo's stage took to be done after its kill: the embedded broker's restarted worker sends
  its stages again at once; on Redis the safety net (beat) sends them after the stage's time limit.
Production's visibility timeout (300 s) is kept, so Redis's own redelivery plays no part in the figures.
"""

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from bench_pipeline import BENCH_DIR, REPO, Worker, run_scenario, scenario_env, setup_django

HAM = Path("/work/shared/data/ham10000")


class Beat:
    def __init__(self, folder: Path):
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "skintrack",
            "beat",
            "--loglevel=INFO",
            f"--schedule={folder / 'celerybeat-schedule'}",
            f"--logfile={folder / 'beat.log'}",
        ]
        self.process = subprocess.Popen(
            command, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def sigkill_child(name: str, count: int, kills: int, settle: float, seed: int) -> dict:
    setup_django()
    import os
    import signal

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models import Count

    from accounts.models import Clinic, Membership, User
    from lesions.models import Lesion, LesionImage, Patient
    from lesions.services import add_lesion_image

    rng = random.Random(seed)
    folder = BENCH_DIR / name
    clinic = Clinic.objects.create(name=f"Kill clinic {name}")
    user = User.objects.create_user(username=f"kill-{name}")
    Membership.objects.create(user=user, clinic=clinic, role=Membership.Role.CLINICIAN)
    patient = Patient.objects.create(clinic=clinic, medical_record_number="KILL-1", first_name="K", last_name="K")
    lesions = [Lesion.objects.create(patient=patient, body_site="back") for _ in range(3)]
    originals = sorted((HAM / "originals").glob("*.jpg"))
    copies = sorted((HAM / "images").glob("*.jpg"))
    paths = [(originals if index % 2 else copies)[index] for index in range(count)]
    roles = {
        "classifier": {"queues": "classification", "fields": ["status"]},
        "analyst": {"queues": "analysis,celery", "fields": ["outline_status", "change_status"], "nice": 10},
    }
    generation = {role: 0 for role in roles}

    def start(role: str) -> Worker:
        generation[role] += 1
        spec = roles[role]
        return Worker(folder / f"{role}-{generation[role]}.log", 1, queues=spec["queues"], nice=spec.get("nice", 0))

    workers = {role: start(role) for role in roles}
    beat = Beat(folder)
    killed: dict[int, float] = {}  # photo -> when the worker running one of its stages was killed
    try:
        uploaded = []
        for index, path in enumerate(paths):
            upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
            uploaded.append(add_lesion_image(lesion=lesions[index % 3], upload=upload, uploaded_by=user).pk)
        photos = LesionImage.objects.filter(pk__in=uploaded)
        for kill in range(kills):
            role = list(roles)[kill % 2]
            deadline = time.monotonic() + 60
            running = []
            while not running and time.monotonic() < deadline:
                running = [
                    pk
                    for field in roles[role]["fields"]
                    for pk in photos.filter(**{field: "running"}).values_list("pk", flat=True)
                ]
                time.sleep(rng.uniform(0.0, 0.05))
            if not running:
                continue  # that worker has nothing left to do
            os.killpg(workers[role].process.pid, signal.SIGKILL)
            workers[role].process.wait()
            now = time.monotonic()
            killed.update({pk: now for pk in running})
            workers[role] = start(role)
        finished_at: dict[int, float] = {}
        deadline = time.monotonic() + settle
        unfinished = {"queued", "running"}
        while time.monotonic() < deadline:
            for image in photos.only("status", "outline_status", "change_status"):
                states = {image.status, image.outline_status, image.change_status}
                if not states & unfinished:
                    finished_at.setdefault(image.pk, time.monotonic())
            if len(finished_at) == len(uploaded):
                break
            time.sleep(0.5)
        stuck = [image.pk for image in photos if {image.status, image.outline_status, image.change_status} & unfinished]
        failed = [
            (image.pk, image.error)
            for image in photos
            if "failed" in {image.status, image.outline_status, image.change_status}
        ]
        duplicated = photos.annotate(n=Count("predictions")).filter(n__gt=1).count()
        referenced = set(LesionImage.objects.exclude(mask="").values_list("mask", flat=True))
        stored = {f"lesion-masks/{path.name}" for path in (folder / "media" / "lesion-masks").glob("*.png")}
        recovery = [finished_at[pk] - at for pk, at in killed.items() if pk in finished_at]
    finally:
        beat.stop()
        for worker in workers.values():
            worker.stop()
    return {
        "photos": len(uploaded),
        "kills": sum(generation.values()) - len(roles),
        "photos_caught_mid_stage": len(killed),
        "stuck": len(stuck),
        "stages_failed": failed,
        "duplicated_predictions": duplicated,
        "orphan_mask_files": len(stored - referenced),
        "longest_recovery_s": max(recovery, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default="redis,filesystem")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--kills", type=int, default=6, help="kills, alternating classifier and analyst")
    parser.add_argument("--settle", type=float, default=240.0, help="seconds to wait for the photos after the kills")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(sigkill_child(args.child, args.photos, args.kills, args.settle, args.seed)))
        return

    print(
        f"{'broker':<12}{'photos':>7}{'kills':>6}{'caught':>7}{'stuck':>6}{'stages failed':>14}{'duplicated':>11}"
        f"{'orphan masks':>13}{'longest recovery s':>19}"
    )
    for broker in args.brokers.split(","):
        name = f"sigkill-{broker}"
        environment = scenario_env(name, redis_url=args.redis_url if broker == "redis" else "")
        if broker == "redis":
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
        result = run_scenario(
            name,
            environment,
            "--photos",
            str(args.photos),
            "--kills",
            str(args.kills),
            "--settle",
            str(args.settle),
            "--seed",
            str(args.seed),
            script=__file__,
        )
        print(
            f"{broker:<12}{result['photos']:>7}{result['kills']:>6}{result['photos_caught_mid_stage']:>7}"
            f"{result['stuck']:>6}{len(result['stages_failed']):>14}{result['duplicated_predictions']:>11}"
            f"{result['orphan_mask_files']:>13}{result['longest_recovery_s']:>19.1f}",
            flush=True,
        )
        for pk, error in result["stages_failed"]:
            print(f"  photo {pk} failed: {error}")


if __name__ == "__main__":
    main()
