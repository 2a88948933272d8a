"""Load on the real stack: concurrent clients upload photos through the API; every photo must end `done`.

    .venv/bin/python bench/bench_load.py
    .venv/bin/python bench/bench_load.py --rounds 3          # three rounds side by side on the same stack
    .venv/bin/python bench/bench_load.py --uploads 50 --clients 5 --no-docs

Starts, all on loopback: a throwaway PostgreSQL database on 127.0.0.1:5432 (created, migrated, dropped at the
end), a redis-server of its own on a free port with an append-only file (as docker-compose.yml runs it),
gunicorn serving skintrack.wsgi with the base settings, debug off (the production settings also need an S3
bucket and an SMTP server, which this bench does not start), and two `celery worker` processes (one pool
process each); media go to a temporary folder. Then --clients threads send --uploads HAM10000 photos between
them, each as a clinician with an API token, and the script waits for every photo to be classified; --rounds
repeats that on the same stack (each round on a lesion of its own) and prints the rounds side by side.

Prints: upload throughput, p50/p95/max upload latency (the HTTP request, as the client sees it), errors (any
answer but 201, must be 0), the time until the last photo was classified, and the photos' final statuses and
predictions per photo (each must be `done` with exactly one). Unless --no-docs, writes the figures into
docs/reliability.md. Speed on this machine (2 cores shared with other work) drifts 2-4x: compare figures from
one run. Not part of the test suite.
"""

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_pipeline import percentile, photos  # noqa: E402 (bench/ is on the path as the script's folder)

from tests.fault_support import RedisServer, free_port  # noqa: E402

DOCS = REPO / "docs" / "reliability.md"
DOCS_START, DOCS_END = "<!-- bench_load: start -->", "<!-- bench_load: end -->"
START_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 120


def stack_environment(*, database_url: str, redis_url: str, media: Path) -> dict[str, str]:
    """What gunicorn, the workers and this process share: the base settings, debug off, on loopback services."""
    env = {key: value for key, value in os.environ.items() if key not in {"CELERY_BROKER_DIR"}}
    env.update(
        DJANGO_SETTINGS_MODULE="skintrack.settings.local",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_MEDIA_ROOT=str(media),
        SKINTRACK_MODEL_THREADS="1",
    )
    return env


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


class Process:
    """A server process group, started and stopped whole (gunicorn and celery fork children)."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log: Path, ready):
        self.name = name
        self.log = log
        with log.open("w") as output:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, start_new_session=True, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready(self):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"{name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_gunicorn(*, env, port: int, workers: int, threads: int, log: Path, token: str) -> Process:
    def answers(server: Process) -> bool:
        try:
            return (
                requests.get(
                    f"http://127.0.0.1:{port}/api/models/", timeout=5, headers={"Authorization": f"Token {token}"}
                ).status_code
                == 200
            )
        except (requests.ConnectionError, requests.Timeout):  # a first answer can take seconds on a busy machine
            return False

    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "skintrack.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--timeout=120",
    ]
    return Process("gunicorn", command, env=env, log=log, ready=answers)


def start_worker(*, env, name: str, log: Path) -> Process:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "skintrack",
        "worker",
        "--concurrency=1",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--hostname={name}@%h",
    ]
    return Process(name, command, env=env, log=log, ready=lambda worker: " ready." in worker.log.read_text())


def seed():
    """Migrate the throwaway database and create a clinic, a clinician with a token and a patient."""
    import django

    django.setup()
    from django.core.management import call_command
    from knox.models import AuthToken

    from accounts.models import Clinic, Membership, User
    from lesions.models import Patient

    call_command("migrate", verbosity=0, interactive=False)
    clinic = Clinic.objects.create(name="Load clinic")
    user = User.objects.create_user(username="load-clinician")
    Membership.objects.create(user=user, clinic=clinic, role=Membership.Role.CLINICIAN)
    patient = Patient.objects.create(clinic=clinic, medical_record_number="LOAD-1", first_name="L", last_name="D")
    return patient, AuthToken.objects.create(user=user)[1]


def new_lesion(patient):
    """Each round uploads to a lesion of its own, so that its photos are counted apart."""
    from lesions.models import Lesion

    return Lesion.objects.create(patient=patient, body_site="back")


def send_uploads(*, base_url: str, token: str, lesion_pk: int, files: list[Path], clients: int):
    """Each client thread takes the next photo until none is left. Returns (latencies s, answers, wall s)."""
    pending = list(reversed(files))
    lock = threading.Lock()
    latencies, answers = [], Counter()

    def client() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        while True:
            with lock:
                if not pending:
                    return
                path = pending.pop()
            started = time.perf_counter()
            try:
                answer = session.post(
                    f"{base_url}/api/lesions/{lesion_pk}/images/",
                    timeout=REQUEST_TIMEOUT_S,
                    files={"image": (path.name, path.read_bytes(), "image/jpeg")},
                )
                outcome = answer.status_code
            except requests.RequestException as error:
                outcome = type(error).__name__
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                answers[outcome] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, answers, time.perf_counter() - started


def wait_until_classified(lesion, timeout_s: float) -> float:
    """Seconds until every photo of the lesion has left `queued`/`running` (bounded by timeout_s)."""
    from lesions.models import LesionImage

    started = time.perf_counter()
    waiting = LesionImage.objects.filter(lesion=lesion, status__in=["queued", "running"])
    while waiting.exists() and time.perf_counter() - started < timeout_s:
        time.sleep(0.1)
    return time.perf_counter() - started


def outcome(lesion) -> dict:
    from django.db.models import Count

    from lesions.models import LesionImage

    images = LesionImage.objects.filter(lesion=lesion).annotate(predictions_count=Count("predictions"))
    return {
        "photos": images.count(),
        "statuses": Counter(images.values_list("status", flat=True)),
        "predictions_per_photo": Counter(images.values_list("predictions_count", flat=True)),
    }


def table_rows(figures: dict) -> list[tuple[str, str]]:
    classified_s = figures["upload_wall_s"] + figures["drain_s"]
    return [
        ("uploads / concurrent clients", f"{figures['uploads']} / {figures['clients']}"),
        ("upload phase wall time", f"{figures['upload_wall_s']:.1f} s"),
        ("upload throughput", f"{figures['throughput']:.1f} uploads/s"),
        ("upload latency p50 / p95 / max", "{:.0f} / {:.0f} / {:.0f} ms".format(*figures["latency_ms"])),
        ("errors (answers other than 201)", str(figures["errors"])),
        ("answers", ", ".join(f"{code}: {count}" for code, count in sorted(figures["answers"].items(), key=str))),
        ("last photo classified after the last upload", f"{figures['drain_s']:.1f} s"),
        ("all photos classified, from the first upload", f"{classified_s:.1f} s"),
        ("photos classified per second over that time", f"{figures['uploads'] / classified_s:.1f}"),
        ("photos stored / final statuses", f"{figures['photos']} / {dict(figures['statuses'])}"),
        ("predictions per photo (count: photos)", str(dict(figures["predictions_per_photo"]))),
    ]


def format_table(rounds: list[dict]) -> str:
    """One column per round, side by side: the same stack, minutes apart, on a machine whose speed drifts."""
    columns = [table_rows(figures) for figures in rounds]
    names = [name for name, _ in columns[0]]
    width = max(map(len, names))
    header = "| " + " | ".join(["figure".ljust(width), *(f"round {number}" for number in range(1, len(rounds) + 1))])
    lines = [header + " |", "|" + "|".join(["-" * (width + 2)] + ["---------"] * len(rounds)) + "|"]
    for index, name in enumerate(names):
        lines.append("| " + " | ".join([name.ljust(width), *(column[index][1] for column in columns)]) + " |")
    return "\n".join(lines)


def write_docs(date: str, table: str, setup: str, command: str) -> None:
    text = DOCS.read_text()
    if DOCS_START not in text or DOCS_END not in text:
        sys.exit(f"{DOCS} lacks the markers {DOCS_START} / {DOCS_END}")
    head, rest = text.split(DOCS_START, 1)
    _, tail = rest.split(DOCS_END, 1)
    section = f"{DOCS_START}\nMeasured {date} by `{command}`: {setup}\n\n{table}\n{DOCS_END}"
    DOCS.write_text(head + section + tail)


def measure(arguments) -> list[dict]:
    with contextlib.ExitStack() as cleanup:
        scratch = Path(tempfile.mkdtemp(prefix="skintrack-load-"))
        cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
        redis_server = RedisServer(
            program=shutil.which("redis-server") or sys.exit("redis-server is not installed"),
            folder=scratch / "redis",
            persistent=True,
        )
        redis_server.start()
        cleanup.callback(redis_server.crash)
        database = f"skintrack_load_{os.getpid()}"
        create_database(arguments.postgres, database)
        cleanup.callback(drop_database, arguments.postgres, database)
        env = stack_environment(
            database_url=database_url(arguments.postgres, database), redis_url=redis_server.url, media=scratch / "media"
        )
        os.environ.update(env)
        patient, token = seed()
        from django.db import connections

        cleanup.callback(connections.close_all)

        port = free_port()
        gunicorn = start_gunicorn(
            env=env,
            port=port,
            workers=arguments.gunicorn_workers,
            threads=arguments.gunicorn_threads,
            log=scratch / "gunicorn.log",
            token=token,
        )
        cleanup.callback(gunicorn.stop)
        for number in range(1, arguments.celery_workers + 1):
            worker = start_worker(env=env, name=f"load{number}", log=scratch / f"worker{number}.log")
            cleanup.callback(worker.stop)

        return [
            measure_round(arguments, base_url=f"http://127.0.0.1:{port}", token=token, lesion=new_lesion(patient))
            for _ in range(arguments.rounds)
        ]


def measure_round(arguments, *, base_url: str, token: str, lesion) -> dict:
    latencies, answers, upload_wall = send_uploads(
        base_url=base_url, token=token, lesion_pk=lesion.pk, files=photos(arguments.uploads), clients=arguments.clients
    )
    drain = wait_until_classified(lesion, arguments.classify_timeout)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "uploads": arguments.uploads,
        "clients": arguments.clients,
        "upload_wall_s": upload_wall,
        "throughput": len(latencies) / upload_wall,
        "latency_ms": [1000 * percentile(latencies, fraction) for fraction in (0.5, 0.95, 1.0)],
        "errors": sum(count for code, count in answers.items() if code != 201),
        "answers": answers,
        "drain_s": drain,
        **outcome(lesion),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--celery-workers", type=int, default=2)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL URL allowed to create and drop databases",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --uploads on the same stack, side by side")
    parser.add_argument("--classify-timeout", type=float, default=600.0)
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/reliability.md alone")
    arguments = parser.parse_args()

    rounds = measure(arguments)
    table = format_table(rounds)
    setup = (
        f"gunicorn ({arguments.gunicorn_workers} gthread workers x {arguments.gunicorn_threads} threads, "
        f"base settings, debug off), {arguments.celery_workers} celery workers (one pool process each), "
        f"PostgreSQL 15 and Redis 7 (append-only file) on loopback; the machine has 2 CPU cores shared with "
        f"other work, and its speed drifts 2-4x."
    )
    print(table)
    healthy = all(
        figures["errors"] == 0
        and figures["photos"] == arguments.uploads
        and figures["statuses"] == Counter({"done": arguments.uploads})
        and figures["predictions_per_photo"] == Counter({1: arguments.uploads})
        for figures in rounds
    )
    if not arguments.no_docs:
        write_docs(rounds[0]["date"], table, setup, command=" ".join(["bench/bench_load.py", *sys.argv[1:]]))
    if not healthy:
        sys.exit("FAILED: errors, or photos not all done with exactly one prediction")


if __name__ == "__main__":
    main()
