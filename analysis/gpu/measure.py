"""Measured mode: time a trace's matmuls on the local CUDA GPU and turn them into a calibration.

:func:`gpu_bench` asks a :class:`Measurement` (the seam; :class:`TorchCuda` is the real
one: torch on CUDA, board energy from NVML) for

- the idle board power, read before the benchmark touches the GPU;
- every distinct GEMM kernel the GPU model runs for the trace
  (:func:`tritium.analysis.gpu.rows.gemm_kernels`), in each measurable weight mode:
  BF16/FP16 with ``torch.matmul``, INT8 with ``torch._int_mm`` where its shape rules allow;
- a 8192^3 BF16 GEMM and a 1 GiB device-to-device copy, with their power.

and returns a :class:`BenchReport` whose :class:`~tritium.analysis.gpu.params.Calibration`
holds the measured shapes (their times replace the model's on this GPU, their power the
power model's), the GEMM efficiency and the copy kernel efficiency (over the DRAM model's
sustained share for the card's memory type) refitted to the big GEMM and the copy, the
measured idle power, and the memory-path and compute power coefficients solved from the
copy's and the GEMM's power, less the DRAM devices' power by the DRAM model (the GEMM's
only when it ran below the power limit). What
matmuls cannot measure (step overhead, attention bandwidth, launch costs) keeps the
default's values. ``tritium gpu-bench`` writes the calibration as TOML; ``--calibration
FILE`` on ``tritium compare`` and ``tritium report`` uses it.

Without a CUDA GPU :class:`TorchCuda` raises :class:`NoCudaError` (the CLI exits 2).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import pandas as pd

from tritium.analysis.gpu.calibrate import bisect_increasing, copy_tbps, gemm_tflops
from tritium.analysis.gpu.db import Gpu, load_gpu
from tritium.analysis.gpu.kernels import Traffic, dram_pj, dram_s, matmul_compute_s, peak_ops, sustained_share
from tritium.analysis.gpu.rows import gemm_kernels
from tritium.analysis.gpu.params import (COPY_EFFICIENCY_MAX, DEFAULT_CALIBRATION, MEASURABLE_WEIGHTS, Calibration,
                                         MeasuredGemm)
from tritium.base.errors import SpecError, TritiumError
from tritium.base.specio import check_choice

__all__ = ["Sample", "Measurement", "NoCudaError", "TorchCuda", "BenchReport", "gpu_bench", "detect_gpu",
           "BIG_GEMM", "COPY_BYTES"]

BIG_GEMM = 8192
"""Side of the square BF16 GEMM the GEMM efficiency is fitted to (the H100 anchor's size)."""
COPY_BYTES = 2**30
"""Bytes of the device-to-device copy the copy kernel efficiency is fitted to."""
_POWER_LIMITED = 0.97  # a kernel drawing this fraction of TDP or more ran power-limited


class NoCudaError(TritiumError):
    """No CUDA GPU (or no CUDA build of torch) on this machine."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed kernel: seconds per call on the GPU, average board power (None: not read)."""

    seconds: float
    watts: float | None


class Measurement(Protocol):
    """What :func:`gpu_bench` needs from a GPU (the seam tests replace)."""

    def device_name(self) -> str:
        """The GPU's name as its driver reports it ("NVIDIA H100 80GB HBM3")."""

    def software(self) -> str:
        """torch, CUDA and driver versions, one line."""

    def idle_power_w(self) -> float | None:
        """Board power with no work, W (None when it cannot be read)."""

    def matmul(self, m: int, k: int, n: int, weights: str) -> Sample | None:
        """Time ``(m x k) @ (k x n)`` in ``weights``; None when this GPU/torch cannot run it."""

    def copy(self, nbytes: int) -> Sample:
        """Time one device-to-device copy of ``nbytes``."""


_DETECT = (  # (substrings that must all appear, database name), most specific first
    (("H200",), "h200"),
    (("H100", "PCIE"), "h100-pcie"),
    (("H100", "HBM3"), "h100-sxm"),
    (("H100", "SXM"), "h100-sxm"),
    (("A100", "80GB"), "a100-80gb"),
    (("L40S",), "l40s"),
    (("RTX 4090",), "rtx-4090"),
    (("RTX 3090",), "rtx-3090"),
    (("ORIN",), "jetson-agx-orin-64gb"),
)


def detect_gpu(device_name: str) -> str:
    """The database GPU whose name the driver's ``device_name`` names.

    Raises:
        TritiumError: no database GPU matches (the message asks for ``--gpu``).
    """
    upper = device_name.upper()
    if "TI" in upper.split():
        match = None  # a Ti card is another card
    else:
        match = next((name for parts, name in _DETECT if all(p in upper for p in parts)), None)
        if match is None and upper.split()[-1:] == ["L4"]:
            match = "l4"
    if match is None:
        raise TritiumError(f"GPU '{device_name}' is not in the database; name the closest with --gpu NAME "
                           "or describe it in a GPU TOML file (see 'tritium gpus')")
    return match


@dataclass(frozen=True, slots=True)
class BenchReport:
    """What :func:`gpu_bench` measured and the calibration made from it.

    Attributes:
        calibration: the measured calibration (``gpu`` names the database GPU).
        gpu: the database GPU it was measured on. device_name, software: as reported.
        gemm_tflops: the 8192^3 BF16 GEMM, 10^12 FLOP/s. gemm_w: its power, W (None: not read).
        copy_tbps: the copy, 10^12 B/s counting read and write. copy_w: its power, W.
        idle_w: measured idle power, W (None: not read).
        shapes: one row per measured GEMM kernel (phase, m, k, n, weights, seconds,
            watts, tflops, model_seconds = the default calibration's time of it).
        notes: what could not be measured or fitted, and why.
    """

    calibration: Calibration
    gpu: str
    device_name: str
    software: str
    gemm_tflops: float
    gemm_w: float | None
    copy_tbps: float
    copy_w: float | None
    idle_w: float | None
    shapes: pd.DataFrame
    notes: tuple[str, ...]


def gpu_bench(
    trace: pd.DataFrame,
    *,
    measurement: Measurement | None = None,
    gpu: Gpu | str | None = None,
    weights: Sequence[str] = ("bf16",),
    name: str = "gpu-bench",
    progress: Callable[[int, int], None] | None = None,
) -> BenchReport:
    """Measure the GEMM kernels of ``trace`` on a GPU and fit a calibration to them.

    Args:
        trace: a trace table (:func:`tritium.workloads.trace`).
        measurement: the GPU to measure (default: :class:`TorchCuda` on CUDA device 0).
        gpu: the database GPU (or Gpu, or TOML file) it is; default: detected from the
            device's name (:func:`detect_gpu`).
        weights: weight modes whose GEMM kernels to time, each one of
            :data:`MEASURABLE_WEIGHTS` (kernels outside the mode, e.g. a BF16 LM head, are
            timed in their own dtype).
        name: the calibration's name.
        progress: ``progress(done, total)`` after each measurement.

    Raises:
        NoCudaError: no CUDA GPU (default measurement only).
        TritiumError: the device is not in the database and ``gpu`` is not given.
        SpecError: an unknown weight mode.
    """
    if isinstance(weights, str) or not weights:
        raise SpecError("weights", weights, f"must be a non-empty list of {', '.join(MEASURABLE_WEIGHTS)}")
    for w in weights:
        check_choice("weights", w, MEASURABLE_WEIGHTS)
    bench = measurement if measurement is not None else TorchCuda()
    device = bench.device_name()
    card = load_gpu(gpu) if gpu is not None else load_gpu(detect_gpu(device))
    idle = bench.idle_power_w()
    kernels = {(k.m, k.k, k.n, k.weights): k.phase for w in dict.fromkeys(weights)
               for k in gemm_kernels(trace, weights=w) if k.weights in MEASURABLE_WEIGHTS}
    total, done = len(kernels) + 2, 0
    notes: list[str] = []
    measured, rows = [], []
    for (m, k, n, w), phase in kernels.items():
        sample = bench.matmul(m, k, n, w)
        done += 1
        if progress:
            progress(done, total)
        if sample is None:
            notes.append(f"{w} {m}x{k}x{n} not measurable with stock torch kernels here: the model times it")
            continue
        measured.append(MeasuredGemm(m=m, k=k, n=n, weights=w, seconds=sample.seconds, watts=sample.watts))
        rows.append({"phase": phase, "m": m, "k": k, "n": n, "weights": w, "seconds": sample.seconds,
                     "watts": sample.watts, "tflops": 2.0 * m * k * n / sample.seconds / 1e12})
    big = bench.matmul(BIG_GEMM, BIG_GEMM, BIG_GEMM, "bf16")
    copy = bench.copy(COPY_BYTES)
    if progress:
        progress(total, total)
    if big is None:
        raise TritiumError(f"{device}: a BF16 {BIG_GEMM}^3 matmul could not run; nothing to calibrate against")
    cal, fit_notes = _fit(card, big, copy, idle, name, device, bench.software(), tuple(measured))
    shapes = pd.DataFrame(rows, columns=["phase", "m", "k", "n", "weights", "seconds", "watts", "tflops"])
    shapes["model_seconds"] = [_model_seconds(card, r) for r in shapes.itertuples(index=False)]
    return BenchReport(calibration=cal, gpu=card.name, device_name=device, software=bench.software(),
                       gemm_tflops=2.0 * BIG_GEMM**3 / big.seconds / 1e12, gemm_w=big.watts,
                       copy_tbps=2.0 * COPY_BYTES / copy.seconds / 1e12, copy_w=copy.watts, idle_w=idle,
                       shapes=shapes, notes=tuple(notes + fit_notes))


def _model_seconds(gpu: Gpu, row) -> float:
    """The default calibration's time of one measured shape (compulsory traffic, BF16 out)."""
    cal = DEFAULT_CALIBRATION
    peak = peak_ops(gpu, "int8" if row.weights == "int8" else "bf16")
    size = 1 if row.weights == "int8" else 2
    traffic = Traffic(stream=row.k * row.n * size, mixed=row.m * row.k * size + row.m * row.n * 2)
    return max(matmul_compute_s(gpu, cal, row.m, row.k, row.n, peak), dram_s(gpu, traffic, cal.matmul_kernel_efficiency))


def _fit(gpu: Gpu, big: Sample, copy: Sample, idle: float | None, name: str, device: str, software: str,
         measured: tuple[MeasuredGemm, ...]) -> tuple[Calibration, list[str]]:
    """Refit GEMM and copy kernel efficiency, idle power and the power coefficients."""
    notes = []
    base = DEFAULT_CALIBRATION.with_(name=name, gpu=gpu.name, gemm=measured,
                                     idle_w=idle if idle is not None and idle < gpu.tdp_w else None)
    tflops = 2.0 * BIG_GEMM**3 / big.seconds / 1e12
    ceiling = gemm_tflops(base.with_(gemm_efficiency=1.0), gpu)
    if tflops >= ceiling:
        notes.append(f"the {BIG_GEMM}^3 GEMM ran at {tflops:.1f} TFLOP/s, above the model's ceiling "
                     f"{ceiling:.1f}: gemm_efficiency set to 1")
    eff = bisect_increasing(lambda e: gemm_tflops(base.with_(gemm_efficiency=e), gpu), tflops, 1e-3, 1.0)
    base = base.with_(gemm_efficiency=min(eff, 1.0))
    tbps = 2.0 * COPY_BYTES / copy.seconds / 1e12
    bw = bisect_increasing(lambda e: copy_tbps(base.with_(copy_kernel_efficiency=e), gpu), tbps, 1e-3,
                           COPY_EFFICIENCY_MAX)
    base = base.with_(copy_kernel_efficiency=min(bw, COPY_EFFICIENCY_MAX))
    idle_w = base.idle_w if base.idle_w is not None else gpu.idle_w
    span = gpu.tdp_w - idle_w
    floor = base.power_floor
    copied = Traffic(mixed=2.0 * COPY_BYTES)
    u_m_copy = copied.total / (_reach(gpu, copied, base.copy_kernel_efficiency) * copy.seconds)
    dram_copy = dram_pj(gpu, copied) * 1e-12 / copy.seconds / span  # the DRAM devices, share of the span
    memory = base.power_memory_path
    if copy.watts is None:
        notes.append("copy power not read: power_memory_path kept at the default")
    elif copy.watts >= _POWER_LIMITED * gpu.tdp_w:
        notes.append(f"the copy ran power-limited ({copy.watts:.0f} W): power_memory_path kept at the default")
    else:
        memory = max(0.0, ((copy.watts - idle_w) / span - floor - dram_copy) / u_m_copy)
    compute = base.power_compute
    seconds = big.seconds
    u_c = 2.0 * BIG_GEMM**3 / (peak_ops(gpu, "bf16") * seconds)
    gemm = Traffic(stream=2.0 * BIG_GEMM**2, mixed=4.0 * BIG_GEMM**2)
    u_m = gemm.total / (_reach(gpu, gemm, base.matmul_kernel_efficiency) * seconds)
    dram_gemm = dram_pj(gpu, gemm) * 1e-12 / seconds / span
    if big.watts is None:
        notes.append("GEMM power not read: power_compute kept at the default")
    elif big.watts >= _POWER_LIMITED * gpu.tdp_w:
        needed = (1.0 - floor - memory * u_m - dram_gemm) / u_c
        compute = max(compute, needed)
        notes.append(f"the {BIG_GEMM}^3 GEMM ran power-limited ({big.watts:.0f} W of {gpu.tdp_w:g} W): "
                     f"power_compute = {compute:.3g}, at least the {needed:.3g} that reaches TDP")
    else:
        compute = max(0.0, ((big.watts - idle_w) / span - floor - memory * u_m - dram_gemm) / u_c)
    if idle is None:
        notes.append(f"idle power not read: the database's {gpu.idle_w:g} W is used")
    description = (f"measured by tritium gpu-bench on {device} ({software}): {tflops:.1f} TFLOP/s BF16 "
                   f"{BIG_GEMM}^3, {tbps:.2f} TB/s copy, {len(measured)} trace GEMM shapes; step overhead, "
                   "attention bandwidth and launch costs are the default calibration's")
    cal = base.with_(power_memory_path=min(memory, 100.0), power_compute=min(compute, 100.0), description=description)
    return cal, notes


def _reach(gpu: Gpu, traffic: Traffic, efficiency: float) -> float:
    """Bytes per second a kernel of ``efficiency`` moves ``traffic`` at (peak x sustained share x efficiency)."""
    return gpu.peak_bandwidth_bytes_s * sustained_share(gpu, traffic) * efficiency


class TorchCuda:
    """The real measurement: torch on CUDA device 0, board energy from NVML.

    Kernels are captured in a CUDA graph and replayed (no host launch gaps), cycling
    through enough weight copies to defeat the L2 cache; each measurement runs at least
    ``min_seconds`` so NVML's energy counter (or, on older GPUs, its power reading) has
    time to move.

    Raises:
        NoCudaError: torch is missing, is a CPU build, or sees no CUDA device.
    """

    def __init__(self, min_seconds: float = 0.5, cache_bytes: int = 256 * 2**20):
        try:
            import torch
        except ImportError:
            raise NoCudaError("gpu-bench needs torch with CUDA: pip install torch (a CUDA build) on a machine "
                              "with an NVIDIA GPU") from None
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            raise NoCudaError(f"gpu-bench needs a CUDA GPU: torch {torch.__version__} ({build}) sees none "
                              "(torch.cuda.is_available() is False); run it on a machine with an NVIDIA GPU")
        self.torch, self.min_seconds, self.cache_bytes = torch, min_seconds, cache_bytes
        self.nvml = _Nvml()

    def device_name(self) -> str:
        return self.torch.cuda.get_device_name(0)

    def software(self) -> str:
        t = self.torch
        return f"torch {t.__version__}, CUDA {t.version.cuda}, driver {self.nvml.driver()}"

    def idle_power_w(self) -> float | None:
        return self.nvml.idle_w()

    def matmul(self, m: int, k: int, n: int, weights: str) -> Sample | None:
        t = self.torch
        size = 1 if weights == "int8" else 2
        copies = max(1, min(64, math.ceil(self.cache_bytes / (k * n * size))))
        if weights == "int8":
            if m <= 16 or k % 8 or n % 8:
                return None  # torch._int_mm's shape rules on CUDA
            a = t.randint(-127, 128, (m, k), dtype=t.int8, device="cuda")
            bs = [t.randint(-127, 128, (n, k), dtype=t.int8, device="cuda").t() for _ in range(copies)]
            call = t._int_mm
        else:
            dtype = t.bfloat16 if weights == "bf16" else t.float16
            a = t.randn(m, k, dtype=dtype, device="cuda")
            bs = [t.randn(k, n, dtype=dtype, device="cuda") for _ in range(copies)]
            call = t.matmul
        try:
            return self._time([lambda b=b: call(a, b) for b in bs])
        except RuntimeError:
            return None
        finally:
            del a, bs
            t.cuda.empty_cache()

    def copy(self, nbytes: int) -> Sample:
        t = self.torch
        src = t.empty(nbytes, dtype=t.uint8, device="cuda")
        dst = t.empty_like(src)
        try:
            return self._time([lambda: dst.copy_(src)])
        finally:
            del src, dst
            t.cuda.empty_cache()

    def _time(self, calls: list[Callable[[], object]]) -> Sample:
        t = self.torch
        stream = t.cuda.Stream()
        with t.cuda.stream(stream):
            for call in calls * 2:  # warm up (cuBLAS picks its kernel)
                call()
        t.cuda.synchronize()
        graph = t.cuda.CUDAGraph()
        with t.cuda.graph(graph):
            for call in calls:
                call()
        start, end = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        once = start.elapsed_time(end) / 1e3
        replays = max(1, math.ceil(self.min_seconds / max(once, 1e-6)))
        energy0, wall0 = self.nvml.energy_j(), time.perf_counter()
        start.record()
        for _ in range(replays):
            graph.replay()
        end.record()
        end.synchronize()
        wall = time.perf_counter() - wall0
        watts = self.nvml.watts_since(energy0, wall)
        seconds = start.elapsed_time(end) / 1e3 / (replays * len(calls))
        return Sample(seconds, watts)


class _Nvml:
    """NVML readings of device 0 (None where NVML or the counter is unavailable)."""

    def __init__(self):
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nv, self.handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # no NVML: the bench still times, and says power was not read
            self.nv = self.handle = None

    def driver(self) -> str:
        return str(self.nv.nvmlSystemGetDriverVersion()) if self.nv else "unknown (no NVML)"

    def power_w(self) -> float | None:
        return self.nv.nvmlDeviceGetPowerUsage(self.handle) / 1e3 if self.nv else None

    def idle_w(self, seconds: float = 1.0) -> float | None:
        if not self.nv:
            return None
        samples = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            samples.append(self.power_w())
            time.sleep(0.05)
        return sum(samples) / len(samples)

    def energy_j(self) -> float | None:
        if not self.nv:
            return None
        try:
            return self.nv.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3
        except Exception:  # pre-Volta: no energy counter
            return None

    def watts_since(self, energy0: float | None, wall_s: float) -> float | None:
        if energy0 is not None:
            energy1 = self.energy_j()
            if energy1 is not None and wall_s > 0:
                return (energy1 - energy0) / wall_s
        return self.power_w()
