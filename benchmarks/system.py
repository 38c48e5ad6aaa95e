"""The machine, the versions, process memory and small statistics helpers."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata

import psutil

from qa_service.evaluation.questions import percentile

PACKAGES = ("onnxruntime", "torch", "sentence-transformers", "transformers", "tokenizers", "optimum",
            "faiss-cpu", "numpy", "bm25s", "flask", "gunicorn")


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}


def machine() -> dict:
    cpu = _lscpu()
    flags = cpu.get("Flags", "").split()
    return {
        "cpu": cpu.get("Model name", platform.processor() or "unknown"),
        "cores": os.cpu_count(),
        "simd": ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags) or "none listed",
        "hypervisor": cpu.get("Hypervisor vendor", "none"),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
        found["wrk"] = (out.stdout or out.stderr).split("Copyright")[0].replace("wrk", "").strip()
    return found


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (gunicorn's workers)."""
    try:
        return sorted(child.pid for child in psutil.Process(pid).children())
    except psutil.Error:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def memory_mib(pid: int) -> dict[str, float]:
    """Resident (RSS) and proportional (PSS: shared pages split between sharers) size, MiB."""
    try:
        info = psutil.Process(pid).memory_full_info()
    except psutil.Error:
        return {}
    result = {"rss": round(info.rss / 2**20, 1)}
    if hasattr(info, "pss"):
        result["pss"] = round(info.pss / 2**20, 1)
    return result


def pct(values, q: float) -> float:
    return float(percentile(list(values), q))


def median(values) -> float:
    return pct(values, 50)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
