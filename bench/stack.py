"""What the load benchmarks share: `kanal dev` in a subprocess on free ports, more partners made with the CLI,
a keep-alive HTTP client for the API, and realistic report bodies (many videos, some reported many times).

Everything stays on 127.0.0.1; the stack's state is in memory and goes with its process.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kanal.adapters.dynamodb import DynamoCases
from kanal.models import Case
from kanal_local.emulator import free_port

KANAL = str(Path(sys.executable).with_name("kanal"))

#: Partners beyond the three that `kanal dev` seeds, in the order they are created.
EXTRA_PARTNERS = (
    ("Mafindo", "civil_society"),
    ("Kominfo", "government"),
    ("JPPR", "civil_society"),
    ("KIPP Indonesia", "civil_society"),
    ("Bawaslu DKI Jakarta", "election_agency"),
    ("KPU Jawa Barat", "election_agency"),
    ("Cekfakta", "civil_society"),
    ("Komdigi", "government"),
)


class StackFailed(Exception):
    """The local stack did not start, or a command against it failed."""


def clean_env() -> dict[str, str]:
    """This process's environment without anything that points AWS clients or kanal elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KANAL_", "TABLE_", "URGENT_", "NORMAL_"))}
    return {**env, "PYTHONUNBUFFERED": "1"}


@dataclass
class Stack:
    """A running `kanal dev` and what its .kanal/dev.json says."""

    process: subprocess.Popen[bytes]
    folder: Path
    info: dict[str, Any]
    partners: list[dict[str, str]] = field(default_factory=list)

    @property
    def log(self) -> Path:
        """The stack's output: one line per request, the functions' error logs, the triggers' failures."""
        return self.folder / "kanal-dev.log"

    @property
    def api(self) -> tuple[str, int]:
        """Host and port of the API."""
        host, port = self.info["api_url"].removeprefix("http://").rsplit(":", 1)
        return host, int(port)

    @property
    def env(self) -> dict[str, str]:
        """The variables that point AWS clients and the CLI at this stack."""
        env: dict[str, str] = self.info["env"]
        return env

    def client(self, service: str) -> Any:
        """A boto3 client on the stack's moto server."""
        import boto3

        session: Any = boto3.session.Session()
        return session.client(
            service,
            endpoint_url=self.info["aws_endpoint"],
            region_name=self.info["region"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def ensure_partners(self, count: int, timeout: float = 60) -> list[dict[str, str]]:
        """The first ``count`` partners, creating those beyond the seeded ones with `kanal partners create`."""
        self.partners = list(self.info["partners"])
        names = list(EXTRA_PARTNERS) + [(f"Mitra Uji {n}", "civil_society") for n in range(len(EXTRA_PARTNERS), count)]
        wanted = names[: max(0, count - len(self.partners))]
        # A few CLI processes at a time: each is a fresh interpreter, about 0.7 s.
        for start in range(0, len(wanted), 4):
            running = [
                subprocess.Popen(  # noqa: S603 - our own console script
                    [KANAL, "partners", "create", "--name", name, "--kind", kind],
                    cwd=self.folder,
                    env=clean_env(),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                for name, kind in wanted[start : start + 4]
            ]
            for process in running:
                out, err = process.communicate(timeout=timeout)
                if process.returncode != 0:
                    raise StackFailed(f"kanal partners create failed: {err.decode().strip()}")
                self.partners.append(json.loads(out))
        return self.partners[:count]

    def status(self) -> dict[str, int]:
        """The stack process's /proc status lines in kB (VmHWM is its peak resident memory)."""
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        return {
            name: int(value.split()[0])
            for name, _, value in (line.partition(":") for line in lines)
            if name in ("VmHWM", "VmRSS")
        }

    def failures_logged(self) -> list[str]:
        """Lines of the stack's output that tell of a failure: 5xx answers, errors logged, failed triggers."""
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if FAILURE.search(line)]


#: A gateway line with a 5xx status, a Powertools log record at ERROR or above, a trigger's failure.
FAILURE = re.compile(r" [A-Z]+ \S+ 5\d\d \d+ms |\"level\": ?\"(ERROR|CRITICAL)\"|Traceback|failed|retrying")


@contextmanager
def running(timeout: float = 60, prefix: tuple[str, ...] = ()) -> Iterator[Stack]:
    """`kanal dev` on a free port in a fresh folder, stopped (and the folder removed) on exit.

    ``prefix`` runs it under another program, e.g. ``("py-spy", "record", "-o", "out.svg", "--")``.
    """
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as name:
        folder = Path(name)
        described = folder / ".kanal" / "dev.json"
        with (folder / "kanal-dev.log").open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - our own console script
                [*prefix, KANAL, "dev", "--port", str(free_port())],
                cwd=folder,
                env=clean_env(),
                stdout=log,
                stderr=log,
            )
        try:
            deadline = time.monotonic() + timeout
            while not described.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise StackFailed(f"kanal dev did not start: {(folder / 'kanal-dev.log').read_text()[-2000:]}")
                time.sleep(0.05)
            yield Stack(process, folder, json.loads(described.read_text()))
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Api:
    """One partner's keep-alive connection to the API."""

    def __init__(self, host: str, port: int, key: str, timeout: float = 10) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """Status and parsed JSON body; status 0 when the connection failed (counted, never retried or raised)."""
        payload = json.dumps(body).encode() if body is not None else None
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.connection.request(method, path, body=payload, headers={**self.headers, **(headers or {})})
            answer = self.connection.getresponse()
            raw = answer.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return 0, {"error": repr(error)}
        if answer.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            return answer.status, json.loads(raw) if raw else None
        except ValueError:
            return answer.status, {"raw": raw[:200].decode(errors="replace")}

    def close(self) -> None:
        """Drop the connection."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# --- Report bodies -------------------------------------------------------------------------------------------

ACCOUNTS = ("relawan.digital", "info.pilkada", "suara.rakyat88", "kabar_tps", "akun.contoh", "warta.daerah")
#: Every spelling of one video's URL that partners paste; all of them name the same content.
SPELLINGS = (
    "https://www.tiktok.com/@{account}/video/{video}",
    "https://www.tiktok.com/@{account}/video/{video}?is_from_webapp=1&sender_device=pc",
    "https://m.tiktok.com/v/{video}.html",
    "https://tiktok.com/@{account}/video/{video}/",
    "https://www.tiktok.com/@{account}/video/{video}?lang=id-ID#comments",
)
CATEGORIES = {
    "misinformation": 35,
    "campaign_violation": 20,
    "hate_speech": 15,
    "election_integrity": 15,
    "synthetic_media": 10,
    "other": 5,
}
#: Provinces and cities on the official list (checked below): Jakarta, Bandung, Semarang, Surabaya, Denpasar,
#: Makassar, Medan, Balikpapan, Jayapura, Aceh, and two provinces.
REGIONS = ("31", "31.71", "31.74", "32.73", "33.74", "35.78", "51.71", "73.71", "12.71", "64.71", "91.71", "11")
CLAIMS = (
    "Video menyebarkan klaim palsu bahwa TPS {n} dipindahkan ke balai desa sebelah.",
    "Akun mengunggah ajakan memilih pasangan calon nomor urut {n} pada masa tenang.",
    "Konten berisi ujaran kebencian terhadap kelompok pemilih di kecamatan {n}.",
    "Rekaman suara calon yang diduga hasil rekayasa AI, diunggah ulang {n} kali.",
    "Klaim bahwa surat suara tercoblos sudah beredar di {n} TPS, tanpa bukti.",
    "Informasi keliru tentang jadwal pemungutan suara; disebut diundur {n} hari.",
)
DETAILS = (
    " Video sudah ditonton lebih dari {n} ribu kali dan dibagikan ulang di grup percakapan.",
    " Pelapor menerima aduan warga melalui posko pengaduan.",
    " Tangkapan layar terlampir; akun yang sama mengunggah konten serupa sebelumnya.",
    " Mohon ditinjau segera karena menjelang hari pemungutan suara.",
    "",
)
LEGAL = ("UU 7/2017 Pasal 280 ayat (1)", "UU 7/2017 Pasal 278 ayat (2)", "UU 10/2016 Pasal 69", "PKPU 15/2023 Pasal 72")
WIB = timezone(timedelta(hours=7))


def seeded(seed: int) -> random.Random:
    """A repeatable generator of report bodies (not for secrets)."""
    return random.Random(seed)  # noqa: S311 - load generation


def _check_regions() -> None:
    from kanal import regions

    unknown = [code for code in REGIONS if not regions.exists(code)]
    if unknown:
        raise ValueError(f"not on the official list: {unknown}")


_check_regions()


@dataclass
class Videos:
    """Which video a report is about: mostly from a pool where a few are reported far more than others
    (weights 1/rank), sometimes the video going viral right now (a new one every ``viral_every`` seconds,
    which every partner reports within seconds, while its case is being opened)."""

    count: int
    viral_share: float = 0.2
    viral_every: float = 1.0
    first: int = 7_318_300_000_000_000_000
    first_viral: int = 7_400_000_000_000_000_000
    started: float = field(default_factory=time.monotonic)
    weights: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.weights = [1 / (rank + 1) for rank in range(self.count)]

    def start(self) -> None:
        """The first viral video goes viral now."""
        self.started = time.monotonic()

    def pick(self, rng: random.Random) -> int:
        """A video id."""
        if rng.random() < self.viral_share:
            return self.first_viral + int((time.monotonic() - self.started) / self.viral_every) * 7919
        return self.first + rng.choices(range(self.count), self.weights)[0] * 7919


@dataclass(frozen=True)
class Draft:
    """A report about to be sent: which video (for the checks), its body and headers."""

    video: int
    body: dict[str, Any]
    headers: dict[str, str]


def draft(rng: random.Random, video: int, partner: int, number: int, now: datetime | None = None) -> Draft:
    """A realistic body for ``video``: any of its URL spellings, weighted categories, optional fields often set."""
    now = now or datetime.now(UTC)
    url = rng.choice(SPELLINGS).format(account=rng.choice(ACCOUNTS), video=video)
    category = rng.choices(list(CATEGORIES), list(CATEGORIES.values()))[0]
    description = rng.choice(CLAIMS).format(n=rng.randint(2, 99)) + rng.choice(DETAILS).format(n=rng.randint(5, 900))
    body: dict[str, Any] = {
        "content_url": url,
        "category": category,
        "region_code": rng.choice(REGIONS),
        "description": description,
    }
    if rng.random() < 0.7:
        body["evidence_urls"] = [
            f"https://arsip.mitra{partner}.or.id/tangkapan/{number}-{i}.png" for i in range(rng.randint(1, 3))
        ]
    if rng.random() < 0.4:
        body["legal_basis"] = rng.choice(LEGAL)
    if rng.random() < 0.3:
        body["election"] = rng.choice(("pemilu-2024", "pilkada-2024"))
    if rng.random() < 0.8:
        body["observed_at"] = (now - timedelta(minutes=rng.randint(1, 600))).astimezone(WIB).isoformat()
    if rng.random() < 0.6:
        body["partner_reference"] = f"M{partner:02d}-{number:06d}"
    # Half the requests carry an Idempotency-Key, as integrations that retry do (one more write each).
    headers = {"Idempotency-Key": f"load-{partner}-{number}-{rng.getrandbits(32):08x}"} if rng.random() < 0.5 else {}
    return Draft(video, body, headers)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies in seconds, in milliseconds."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1] * 1000, 1)}


# --- Reading the stack's state -------------------------------------------------------------------------------


def incomplete(cases: dict[str, Case], expected: dict[str, set[str]]) -> list[str]:
    """The expected cases not built yet, lacking some of their reports, or not queued."""
    return [
        case_id
        for case_id, reports in expected.items()
        if case_id not in cases or cases[case_id].report_count < len(reports) or cases[case_id].queued is None
    ]


def wait_for_cases(
    stack: Stack, expected: dict[str, set[str]], deadline: float
) -> tuple[dict[str, Case], float | None]:
    """The cases (by id) once each holds its expected report ids and is queued, or as they are at ``deadline``
    (monotonic); and how long the wait took (None: not complete by then)."""
    stored = DynamoCases(stack.client("dynamodb"), stack.env["KANAL_TABLE_NAME"])
    started = time.perf_counter()
    while True:
        cases = stored.get_many(expected)
        if not incomplete(cases, expected):
            return cases, time.perf_counter() - started
        if time.monotonic() > deadline:
            return cases, None
        time.sleep(0.25)


def drain_queue(sqs: Any, url: str, hide_for: int = 600) -> list[dict[str, Any]]:
    """Every message now in the queue (received and hidden for ``hide_for`` s, so each is seen once), as bodies."""
    bodies: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=hide_for, WaitTimeSeconds=0
        )
        messages = answer.get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(message["Body"]) for message in messages]
