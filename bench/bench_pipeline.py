"""The classification pipeline, measured end to end with a real broker and one real `celery worker`.

    .venv/bin/python bench/bench_pipeline.py
    .venv/bin/python bench/bench_pipeline.py --uploads 50 --brokers filesystem --polling-intervals 0.01,0.05,0.1

Prints, side by side in one run:
- latency from upload saved (the LesionImage row's created_at) to prediction stored (the Prediction row's
  created_at), p50/p95 over --uploads sequential uploads, for Redis and for the embedded filesystem broker at each
  polling interval; and the idle worker's CPU use, which is what a short polling interval costs;
- per upload, the worker's task run time (p50, prediction and outline, from its log) and CPU time (which drifts
  far less than wall-clock time on a shared machine);
- the worker's resident memory with the model loaded (main process + pool child), and whether TensorFlow is mapped;
- `rescore` and `predict_images` throughput (images/s) over --batch-images photos.
Photos are HAM10000 images from /work/shared/data/ham10000/images. Each scenario runs in a child process with its
own SQLite database, media and broker folders under var/bench/ (DATABASE_URL, when set, is used instead).
Speed on this machine drifts 2-4x: compare figures from one run, and quote medians of several runs.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "var" / "bench"
HAM_IMAGES = Path("/work/shared/data/ham10000/images")
WARM_UP_UPLOADS = 5
IDLE_SECONDS = 5.0


def scenario_env(name: str, *, redis_url: str = "", polling_interval: float = 0.0) -> dict[str, str]:
    """The environment a scenario's bench process and worker share: the production settings path, per-scenario
    database, media and broker."""
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "CELERY_POLLING_INTERVAL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="skintrack.settings.local",
        DJANGO_DEBUG="false",
        DJANGO_LOG_LEVEL="WARNING",
        DJANGO_MEDIA_ROOT=str(BENCH_DIR / name / "media"),
        CELERY_BROKER_DIR=str(BENCH_DIR / name / "broker"),
    )
    env.setdefault("DATABASE_URL", f"sqlite:///{BENCH_DIR / name / 'bench.sqlite3'}")
    if redis_url:
        env["REDIS_URL"] = redis_url
    if polling_interval:
        env["CELERY_POLLING_INTERVAL"] = str(polling_interval)
    return env


def run_scenario(name: str, env: dict[str, str], *arguments: str, script: str = __file__) -> dict:
    """Run `script --child NAME ARGUMENTS` in its own process and environment; its last line is the JSON result."""
    shutil.rmtree(BENCH_DIR / name, ignore_errors=True)
    (BENCH_DIR / name).mkdir(parents=True)
    command = [sys.executable, script, "--child", name, *arguments]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"scenario {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def photos(count: int) -> list[Path]:
    available = sorted(HAM_IMAGES.glob("*.jpg"))
    if not available:
        sys.exit(f"no photos in {HAM_IMAGES}")
    return [available[index % len(available)] for index in range(count)]


# --- inside a scenario's child process (Django configured from the environment) ---


def setup_django():
    import django

    sys.path.insert(0, str(REPO))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def clinic_lesion():
    from accounts.models import Clinic, Membership, User
    from lesions.models import Lesion, Patient

    run = time.time_ns()
    clinic = Clinic.objects.create(name=f"Bench clinic {run}")
    user = User.objects.create_user(username=f"bench-{run}")
    Membership.objects.create(user=user, clinic=clinic, role=Membership.Role.CLINICIAN)
    patient = Patient.objects.create(clinic=clinic, medical_record_number="BENCH-1", first_name="B", last_name="B")
    return Lesion.objects.create(patient=patient, body_site="back"), user


def upload(lesion, user, path: Path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from lesions.services import add_lesion_image

    content = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
    return add_lesion_image(lesion=lesion, upload=content, uploaded_by=user)


class Worker:
    def __init__(self, log: Path, concurrency: int, *, queues: str = "classification,analysis,celery", nice: int = 0):
        self.log = log
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "skintrack",
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={log.stem}@%h",
            f"--logfile={log}",
        ]
        if nice:
            command = ["nice", "-n", str(nice), *command]
        self.process = subprocess.Popen(
            command, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 180
        while not log.exists() or " ready." not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"worker did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.1)

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [self.process.pid, *map(int, children)]

    def cpu_seconds(self) -> float:
        ticks = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory_mb(self, field: str) -> list[float]:
        """A /proc/PID/smaps_rollup field per process: Rss counts pages the pool child shares with its parent
        in both; Pss splits them, so the sum of Pss is what the worker really holds."""
        sizes = []
        for pid in self.pids():
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            sizes.append(int(next(line for line in rollup if line.startswith(f"{field}:")).split()[1]) / 1024)
        return sizes

    def maps_tensorflow(self) -> bool:
        return any("tensorflow" in Path(f"/proc/{pid}/maps").read_text() for pid in self.pids())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def wait_for_prediction(image_pk: int, timeout: float = 60.0):
    from lesions.models import LesionImage, Prediction

    deadline = time.monotonic() + timeout
    while True:
        prediction = Prediction.objects.filter(image_id=image_pk).only("created_at").first()
        if prediction is not None:
            return prediction
        if LesionImage.objects.filter(pk=image_pk, status=LesionImage.Status.FAILED).exists():
            raise RuntimeError(f"image {image_pk} failed: {LesionImage.objects.get(pk=image_pk).error}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no prediction for image {image_pk} after {timeout} s")
        time.sleep(0.005)


def task_runtimes(log: Path) -> list[float]:
    """Each task's run time (prediction and outline), as the worker logged it."""
    return [float(match) for match in re.findall(r"succeeded in ([0-9.]+)s", log.read_text())]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency_child(name: str, uploads: int, concurrency: int) -> dict:
    setup_django()
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    lesion, user = clinic_lesion()
    worker = Worker(BENCH_DIR / name / "worker.log", concurrency)
    try:
        latencies = []
        for index, path in enumerate(photos(WARM_UP_UPLOADS + uploads)):
            if index == WARM_UP_UPLOADS:
                worker_cpu_at_start = worker.cpu_seconds()
            image = upload(lesion, user, path)
            prediction = wait_for_prediction(image.pk)
            if index >= WARM_UP_UPLOADS:
                latencies.append((prediction.created_at - image.created_at).total_seconds() * 1000)
        time.sleep(1.0)  # let the last task's outline finish before measuring the idle worker
        worker_cpu_per_upload = (worker.cpu_seconds() - worker_cpu_at_start) / uploads
        cpu_before = worker.cpu_seconds()
        time.sleep(IDLE_SECONDS)
        idle_cpu = (worker.cpu_seconds() - cpu_before) / IDLE_SECONDS
        rss, pss = worker.memory_mb("Rss"), worker.memory_mb("Pss")
        tensorflow = worker.maps_tensorflow()
    finally:
        worker.stop()
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
        "uploads": len(latencies),
        "idle_cpu_percent": 100 * idle_cpu,
        # CPU time drifts far less than wall-clock time on a shared machine: what each upload costs the worker.
        "worker_cpu_ms_per_upload": 1000 * worker_cpu_per_upload,
        "task_runtime_p50_ms": 1000 * statistics.median(task_runtimes(BENCH_DIR / name / "worker.log")),
        "worker_rss_mb": rss,
        "worker_pss_mb": pss,
        "tensorflow_loaded": tensorflow,
    }


def throughput_child(name: str, count: int) -> dict:
    setup_django()
    from inference.serving.preprocessing import load_rgb
    from lesions import pipeline, registry
    from lesions.models import LesionImage

    lesion, user = clinic_lesion()
    paths = photos(count)
    for path in paths:
        upload(lesion, user, path)
    classifier = registry.served_classifier()
    single = []
    for path in paths[:50]:
        start = time.perf_counter()
        classifier.predict([path.read_bytes()])
        single.append((time.perf_counter() - start) * 1000)

    def rescore() -> float:
        start = time.perf_counter()
        pipeline.rescore_images(
            images=LesionImage.objects.order_by("pk").iterator(chunk_size=500),
            classifier=classifier,
            on_batch=lambda n: None,
        )
        return count / (time.perf_counter() - start)

    def predict_folder() -> float:
        start = time.perf_counter()
        for _ in pipeline.predict_in_batches(paths, read=load_rgb, classifier=classifier):
            pass
        return count / (time.perf_counter() - start)

    rescore_rates = [rescore() for _ in range(2)]
    predict_rates = [predict_folder() for _ in range(2)]
    return {
        "single_image_p50_ms": statistics.median(single),
        "rescore_images_per_s": rescore_rates,
        "predict_images_per_s": predict_rates,
        "images": count,
        "model": f"{classifier.name} {classifier.version}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--brokers", default="redis,filesystem")
    parser.add_argument("--redis-url", default=os.environ.get("SKINTRACK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--polling-intervals", default="0.05", help="filesystem broker intervals to compare, s")
    parser.add_argument("--concurrency", default="1", help="worker pool sizes to compare, e.g. 1,2")
    parser.add_argument("--batch-images", type=int, default=1000, help="photos for rescore/predict_images; 0: skip")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.kind == "latency":
            print(json.dumps(latency_child(args.child, args.uploads, args.concurrency)))
        else:
            print(json.dumps(throughput_child(args.child, args.batch_images)))
        return

    print(
        f"{'scenario':<26}{'p50 ms':>7}{'p95 ms':>7}{'max ms':>7}{'task ms':>8}{'CPU ms':>7}{'idle CPU %':>11}"
        "  worker MB: Pss total (Rss main + children)"
    )
    brokers = args.brokers.split(",")
    scenarios = []
    for concurrency in args.concurrency.split(","):
        if "redis" in brokers:
            name = f"redis-c{concurrency}"
            scenarios.append((name, concurrency, scenario_env(name, redis_url=args.redis_url)))
        if "filesystem" in brokers:
            for interval in map(float, args.polling_intervals.split(",")):
                name = f"filesystem-{interval:g}s-c{concurrency}"
                scenarios.append((name, concurrency, scenario_env(name, polling_interval=interval)))
    for name, concurrency, env in scenarios:
        result = run_scenario(
            name, env, "--kind", "latency", "--uploads", str(args.uploads), "--concurrency", concurrency
        )
        rss = " + ".join(f"{size:.0f}" for size in result["worker_rss_mb"])
        tensorflow = "  TensorFlow LOADED" if result["tensorflow_loaded"] else ""
        print(
            f"{name:<26}{result['p50_ms']:>7.1f}{result['p95_ms']:>7.1f}{result['max_ms']:>7.1f}"
            f"{result['task_runtime_p50_ms']:>8.1f}{result['worker_cpu_ms_per_upload']:>7.1f}"
            f"{result['idle_cpu_percent']:>11.1f}  {sum(result['worker_pss_mb']):.0f} ({rss}){tensorflow}",
            flush=True,
        )
    if args.batch_images:
        result = run_scenario(
            "throughput", scenario_env("throughput"), "--kind", "throughput", "--batch-images", str(args.batch_images)
        )
        print(f"\nmodel {result['model']}; {result['images']} HAM10000 photos")
        print(f"single photo, classifier.predict p50: {result['single_image_p50_ms']:.1f} ms")
        print("rescore images/s (two runs):        " + ", ".join(f"{r:.0f}" for r in result["rescore_images_per_s"]))
        print("predict_images images/s (two runs): " + ", ".join(f"{r:.0f}" for r in result["predict_images_per_s"]))


if __name__ == "__main__":
    main()
