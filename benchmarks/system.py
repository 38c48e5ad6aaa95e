"""The machine, the versions, process memory and small statistics helpers."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

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
    meminfo = Path("/proc/meminfo").read_text() if os.path.exists("/proc/meminfo") else ""
    found = re.search(r"MemTotal:\s+(\d+)", meminfo)
    total_kb = int(found.group(1)) if found else 0
    return {
        "cpu": cpu.get("Model name", platform.processor() or "unknown"),
        "cores": os.cpu_count(),
        "simd": ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags) or "none listed",
        "hypervisor": cpu.get("Hypervisor vendor", "none"),
        "ram_gib": round(total_kb / 1024 / 1024, 1),
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
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> dict[str, float]:
    """Resident (RSS) and proportional (PSS: shared pages split between sharers) size, MiB."""
    result = {}
    for file, keys in ((f"/proc/{pid}/status", ("VmRSS",)), (f"/proc/{pid}/smaps_rollup", ("Pss",))):
        try:
            text = Path(file).read_text()
        except OSError:
            continue
        for key in keys:
            match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
            if match:
                result[key.lower().replace("vm", "")] = round(int(match.group(1)) / 1024, 1)
    return result


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def median(values) -> float:
    return pct(values, 50)
