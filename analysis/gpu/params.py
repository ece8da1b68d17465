"""The GPU model's calibration: every efficiency, overhead and power coefficient in one record.

:class:`Calibration` holds the parameters that turn a roofline into the time and energy of
real kernels (see :mod:`tritium.analysis.gpu.model`). All are fractions of a GPU's own
peaks, fractions of what its DRAM type sustains (:mod:`tritium.sim.dram`), or absolute
overheads, so one calibration serves every card in the database.
:data:`DEFAULT_CALIBRATION` is fitted to measured H100 anchors by
:func:`tritium.analysis.gpu.calibrate.fit_calibration` (reproduced by a test);
``tritium gpu-bench`` writes a measured one (:mod:`tritium.analysis.gpu.measure`).

On disk a calibration is TOML: the scalar fields at the top level and a ``gemm`` array
with one table per measured matmul shape (:class:`MeasuredGemm`; ``[[gemm]]`` tables
work too). Unknown keys are errors.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import tomli_w

from tritium.base.errors import SpecError
from tritium.base.fileio import write_text_atomic
from tritium.base.specio import check_choice, check_float, check_int, from_mapping, load_toml, to_mapping

__all__ = ["COPY_EFFICIENCY_MAX", "RENAMED_KEYS", "MEASURABLE_WEIGHTS", "MeasuredGemm", "Calibration", "DEFAULT_CALIBRATION", "Engine", "ENGINES",
           "DEFAULT_ENGINE", "with_engine", "engine_of",
           "load_calibration", "save_calibration", "calibration_to_toml"]

MEASURABLE_WEIGHTS = ("bf16", "fp16", "int8")
"""Weight modes whose matmuls ``gpu-bench`` can time with stock torch kernels."""

_NAME = re.compile(r"[A-Za-z0-9._-]+")

COPY_EFFICIENCY_MAX = 1.25
"""Upper bound of :attr:`Calibration.copy_kernel_efficiency` (above 1: the DRAM model's
``mixed`` pattern is pessimistic for a GPU's write batching; see the attribute)."""

RENAMED_KEYS = {
    "bandwidth_efficiency": "copy_kernel_efficiency",
    "matmul_bandwidth_factor": "matmul_kernel_efficiency",
    "attention_bandwidth_factor": "attention_kernel_efficiency",
    "power_memory": "power_memory_path",
}
"""Calibration keys from before the DRAM model (:mod:`tritium.sim.dram`) -> the key that
replaced them. The meaning changed (a share of the DRAM's sustained bandwidth, not of the
bare peak; the memory path without the DRAM devices), so an old file is refused with the
new name rather than read with a silently different meaning."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasuredGemm:
    """One matmul shape timed on a real GPU: ``m x k`` activations times ``k x n`` weights.

    Attributes:
        m, k, n: the shape (>= 1). weights: one of :data:`MEASURABLE_WEIGHTS`.
        seconds: GPU time of one call (CUDA events over back-to-back calls), s.
        watts: average board power while it ran (NVML), W; None when not measured.
    """

    m: int
    k: int
    n: int
    weights: str
    seconds: float
    watts: float | None = None

    def __post_init__(self) -> None:
        for key in ("m", "k", "n"):
            check_int(key, getattr(self, key), lo=1)
        check_choice("weights", self.weights, MEASURABLE_WEIGHTS)
        check_float("seconds", self.seconds, lo=0, lo_open=True, hi=1e4)
        object.__setattr__(self, "seconds", float(self.seconds))
        if self.watts is not None:
            check_float("watts", self.watts, lo=0, lo_open=True, hi=1e4)
            object.__setattr__(self, "watts", float(self.watts))


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Parameters of the GPU kernel and power model (fractions of the card's own peaks).

    Time of one kernel = max(compute time, DRAM time) + launch overhead + kernel latency
    (+ all-reduce time under tensor parallelism); see :mod:`tritium.analysis.gpu.model`.
    DRAM time = each access pattern's bytes over peak x the share the GPU's DRAM type
    sustains for that pattern (:func:`tritium.sim.dram.sustained_bandwidth_fraction`, the
    chip's model) x the kernel's ``*_kernel_efficiency``: the DRAM's refresh, row and
    turnaround losses are the DRAM model's; the kernel efficiencies hold only what the
    kernel loses beyond them.

    Attributes:
        name: label of the calibration ("default", or the file it came from).
        description: where its numbers come from.
        gpu: the database GPU a measured calibration was taken on ("" = any GPU); its
            per-shape timings (``gemm``) apply to that GPU only.
        gemm_efficiency: fraction of the dense tensor peak one SM sustains in a full
            wave of large (>= 128x128) tiles. Fitted: H100 8192^3 BF16 = 798 TFLOP/s.
        copy_kernel_efficiency: what a plain streaming kernel (a copy, an element-wise or
            norm kernel) reaches of the bandwidth the GPU's DRAM sustains for its traffic:
            achievable = peak x ``sustained_bandwidth_fraction(gpu.memory_type, "mixed")``
            (:mod:`tritium.sim.dram`, the same model the chip pays) x this. Fitted: H100
            device-to-device copy = 3.0 TB/s (read + write). It comes out at 1.03: the copy
            beats the DRAM model's HBM3 ``mixed`` ceiling (0.877 of peak) by 3%, because that
            pattern drains writes in 2 KiB batches per channel and a GPU's controller batches
            deeper; values up to 1.25 are allowed for that reason. Was ``bandwidth_efficiency``
            (a share of the bare peak) before the DRAM model: do not multiply the two.
        attention_efficiency: fraction of the tensor peak fused (Flash) attention
            reaches in prefill. [E] 0.5: FlashAttention-2 reaches ~35% of H100 peak,
            FlashAttention-3 ~75% (Shah et al., 2024); the middle is taken.
        cuda_core_efficiency: fraction of the FP32 CUDA-core peak element-wise work,
            softmax and weight unpacking sustain. [E] 0.5.
        launch_overhead_s: host launch cost of one kernel issued eagerly (prefill), s.
            [V] CUDA.jl's graph page: 80 broadcast kernels take 260 us eagerly (3.3 us
            each) and 70 us as one graph; an MLP of 8 kernels 50 us vs 16 us. 4 us taken.
        graph_launch_overhead_s: the same for a kernel replayed in a CUDA graph, s
            ([V] same source: ~0.9-2 us per kernel). 1 us taken.
        cuda_graphs: decode steps replay as CUDA graphs (vLLM's default); prefill is
            launched eagerly either way.
        kernel_latency_s: device-side fixed cost of every kernel (ramp-up to full
            bandwidth, DRAM latency, tail), s. [E] 1 us (HBM latency is ~0.6-0.8 us).
        step_overhead_s: host time per forward pass the GPU waits for (the serving
            engine's scheduler, sampling, input preparation), s. Fitted: ML.ENERGY
            batch-8 throughput (vLLM). 0 models an ideal engine.
        attention_kernel_efficiency: what paged/Flash attention reaches of the bandwidth the
            DRAM sustains for its traffic (KV-cache reads at the DRAM model's ``kv`` share, Q
            and O at its ``mixed`` share): many small per-sequence page reads and the gather
            keep it well below a plain stream. Fitted: ML.ENERGY batch-64 throughput. Was
            ``attention_bandwidth_factor`` (a share of the copy's bandwidth).
        matmul_kernel_efficiency: what a BF16 matmul streaming its weights reaches of the
            bandwidth the DRAM sustains for them (weights at the DRAM model's ``stream``
            share, activations at ``mixed``): every GEMM's DRAM term; it decides decode.
            Fitted: microsoft/BitNet gpu/README.md kernel table, torch BF16 GEMV (M = 1) on
            an A100 40GB (HBM2) over the BitNet-2B4T and 3B shapes (least-squares slope of
            latency over bytes). See ``analysis/gpu/CALIBRATION.md``. Was ``matmul_bandwidth_factor``
            (a share of the copy's bandwidth).
        w2a8_bandwidth_factor: fraction of the BF16 GEMV's bandwidth the W2A8 kernel
            reaches (a ratio of two kernels on the same DRAM: the DRAM model does not enter). Fitted: the same table's W2A8 column (BitNet's own kernel,
            ``ladder_int8xint2_kernel``) over the same shapes, as a ratio of slopes.
        w4a16_bandwidth_factor: the same for the Marlin W4A16 kernel. [V] 0.975: Marlin
            (Frantar et al., arXiv:2408.11743; IST-DASLab/marlin README) stays within 5% of
            the ideal 3.87x speedup over FP16 weights up to batch 16-32; the middle of
            0.95-1 is taken.
        int8_bandwidth_factor: the same for a W8A8 kernel (INT8 tensor cores, scales in the
            epilogue). [E] 1: the same weight stream with no unpacking.
        w4a16_dequant_ops_per_weight: CUDA-core instruction slots to unpack and scale one
            4-bit weight. [V] 1.125: Marlin's ``dequant`` and ``scale`` (IST-DASLab/marlin
            marlin_cuda_kernel.cu) spend, per 32-bit word of 8 weights, 1 shift + 4 LOP3 +
            2 HSUB2 + 2 HFMA2 + 4 HMUL2; a half2 op counts half a slot (two lanes). On the
            small-M path the unpack overlaps the weight stream, once per 64 tokens (Marlin's
            4 m-blocks of 16); on the tiled path it is paid once per 128-token tile row.
        w2a8_unpack_ops_per_weight: the same for one 2-bit weight. [V] 0.75: BitNet's
            ``decode_i2s_to_i8s`` (microsoft/BitNet gpu/bitnet_kernels/bitnet_kernels.h)
            spends a shift, a LOP3 and a ``__vsubss4`` per 4 weights.
        softmax_ops_per_element: CUDA-core instruction slots per attention score: the
            exp runs on the SFU at 1/8 of the FMA rate (8 slots), max, subtract, sum and
            scale 4 more: [E] 12.
        allreduce_latency_s: fixed cost of one all-reduce, s ([E] 8 us: NCCL's small-message
            latency is ~10 us within a node, vLLM's custom all-reduce ~5 us).
        link_efficiency: fraction of the link bandwidth a ring all-reduce reaches ([E] 0.8).
        link_pj_per_bit: energy of moving one bit over the link, pJ ([E] 5: PCIe/NVLink SerDes).
        power_floor: fraction of (TDP - idle) drawn whenever kernels run (clocks up,
            model resident). [V] 0.07: H100 SXM readouts show 112-117 W at P0 with a model
            resident and no work vs 69-75 W empty ((115 - 70) / 630). Not fitted: the
            ML.ENERGY anchors fit equally well for any floor from 0 to 0.4.
        power_compute: fraction of (TDP - idle) per unit of tensor utilization.
        power_memory_path: fraction of (TDP - idle) per unit of DRAM bandwidth utilization
            (bytes over what the kernel can reach) that the GPU's *own* memory path draws:
            load/store units, L2, crossbar, memory controllers and the host PHY. The DRAM
            devices' energy is not in it: it is the DRAM model's pJ/bit per pattern
            (:func:`tritium.sim.dram.effective_pj_per_bit` of ``gpu.memory_type``), and their
            background and refresh power is inside the GPU's measured idle power. Was
            ``power_memory`` (which held both).
            Power = idle + (TDP - idle) x min(1, floor + compute x u_c + path x u_m) + DRAM
            pJ/bit x bits / s, capped at TDP as a whole.
            Fitted: ML.ENERGY batch 8 and 64 J/token. The two coefficients cannot meet
            both exactly (the TDP cap bounds the batch-64 power); the fit stops where no step
            lowers the larger residual. A dense GEMM then demands more than TDP and is
            capped, as measured GEMMs run power-limited.
        idle_w: measured idle power replacing the database's, W (None: the database's).
        gemm: matmul shapes measured on ``gpu``; their times replace the model's.
    """

    name: str = "default"
    description: str = ""
    gpu: str = ""
    gemm_efficiency: float
    copy_kernel_efficiency: float
    attention_efficiency: float = 0.5
    cuda_core_efficiency: float = 0.5
    launch_overhead_s: float = 4.0e-6
    graph_launch_overhead_s: float = 1.0e-6
    cuda_graphs: bool = True
    kernel_latency_s: float = 1.0e-6
    step_overhead_s: float
    attention_kernel_efficiency: float
    matmul_kernel_efficiency: float = 0.7794
    w2a8_bandwidth_factor: float = 0.7115
    w4a16_bandwidth_factor: float = 0.975
    int8_bandwidth_factor: float = 1.0
    w4a16_dequant_ops_per_weight: float = 1.125
    w2a8_unpack_ops_per_weight: float = 0.75
    softmax_ops_per_element: float = 12.0
    allreduce_latency_s: float = 8.0e-6
    link_efficiency: float = 0.8
    link_pj_per_bit: float = 5.0
    power_floor: float
    power_compute: float
    power_memory_path: float
    idle_w: float | None = None
    gemm: tuple[MeasuredGemm, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise SpecError("name", self.name, "must be a non-empty string of letters, digits, '.', '_' and '-'")
        for key in ("description", "gpu"):
            if not isinstance(getattr(self, key), str):
                raise SpecError(key, getattr(self, key), "must be a string")
        for key in ("gemm_efficiency", "attention_efficiency", "cuda_core_efficiency",
                    "matmul_kernel_efficiency", "w2a8_bandwidth_factor", "w4a16_bandwidth_factor",
                    "int8_bandwidth_factor", "link_efficiency", "attention_kernel_efficiency"):
            self._number(key, lo=0, hi=1, lo_open=True)
        self._number("copy_kernel_efficiency", lo=0, hi=COPY_EFFICIENCY_MAX, lo_open=True)
        for key in ("launch_overhead_s", "graph_launch_overhead_s", "kernel_latency_s", "step_overhead_s",
                    "allreduce_latency_s"):
            self._number(key, lo=0, hi=1.0)
        for key in ("w4a16_dequant_ops_per_weight", "w2a8_unpack_ops_per_weight", "link_pj_per_bit"):
            self._number(key, lo=0, hi=1e3)
        self._number("softmax_ops_per_element", lo=0, hi=1e3, lo_open=True)
        self._number("power_floor", lo=0, hi=1)
        for key in ("power_compute", "power_memory_path"):
            self._number(key, lo=0, hi=100)
        if not isinstance(self.cuda_graphs, bool):
            raise SpecError("cuda_graphs", self.cuda_graphs, "must be true or false")
        if self.idle_w is not None:
            self._number("idle_w", lo=0, hi=1e4)
        if not isinstance(self.gemm, tuple) or not all(isinstance(g, MeasuredGemm) for g in self.gemm):
            raise SpecError("gemm", self.gemm, "must be a list of measured shapes (MeasuredGemm)")

    def _number(self, key: str, *, lo: float, hi: float, lo_open: bool = False) -> None:
        value = getattr(self, key)
        check_float(key, value, lo=lo, hi=hi, lo_open=lo_open)
        object.__setattr__(self, key, float(value))

    def measured(self, gpu: str, weights: str, m: int, k: int, n: int) -> MeasuredGemm | None:
        """The measurement of one ``m x k x n`` call on ``gpu`` in ``weights``, if taken.

        BF16 and FP16 stand in for each other (the same tensor-core rate and bytes) when
        only one of them was measured.
        """
        if self.gpu != gpu:
            return None
        twins = {"bf16": "fp16", "fp16": "bf16"}
        for wanted in (weights, twins.get(weights)):
            for g in self.gemm:
                if (g.m, g.k, g.n, g.weights) == (m, k, n, wanted):
                    return g
        return None

    def with_(self, **changes) -> "Calibration":
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)


DEFAULT_CALIBRATION = Calibration(
    name="default",
    description=("fitted to measured anchors: H100 SXM 8192^3 BF16 GEMM at 798 TFLOP/s, device-to-device "
                 "copy at 3.0 TB/s; microsoft/BitNet's A100 M = 1 kernel table (BF16 1.207 TB/s, W2A8 0.859 TB/s); "
                 "ML.ENERGY v3 Llama-3.1-8B BF16 on vLLM (batch 8: 1070 tokens/s, "
                 "0.455 J/token; batch 64: 5147 tokens/s, 0.119 J/token); DRAM sustained shares and pJ/bit "
                 "from tritium.sim.dram; see analysis/gpu/CALIBRATION.md"),
    gemm_efficiency=0.8348,
    copy_kernel_efficiency=1.028,
    matmul_kernel_efficiency=0.7794,
    w2a8_bandwidth_factor=0.7115,
    step_overhead_s=3.548e-4,
    attention_kernel_efficiency=0.4842,
    power_floor=0.07,
    power_compute=2.733,
    power_memory_path=0.5416,
)
"""The calibration :func:`tritium.analysis.gpu.gpu_baseline` uses unless given another."""


@dataclass(frozen=True, slots=True)
class Engine:
    """A serving engine's host-side costs: how decode kernels launch and what each step waits for.

    Attributes:
        name: the engine's name (``--gpu-engine``).
        cuda_graphs: decode steps replay as CUDA graphs (per-kernel cost
            ``graph_launch_overhead_s``) instead of eager launches (``launch_overhead_s``).
        step_overhead_s: host time per forward pass the GPU waits for, s; None keeps the
            calibration's (fitted) value.
        description: what it stands for, with the source of its overheads.
    """

    name: str
    cuda_graphs: bool
    step_overhead_s: float | None
    description: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise SpecError("name", self.name, "must be a non-empty string of letters, digits, '.', '_' and '-'")
        if not isinstance(self.cuda_graphs, bool):
            raise SpecError("cuda_graphs", self.cuda_graphs, "must be true or false")
        if self.step_overhead_s is not None:
            check_float("step_overhead_s", self.step_overhead_s, lo=0, hi=1.0)


ENGINES = {
    e.name: e for e in (
        Engine("vllm", True, None,
               "vLLM with CUDA graphs in decode (its default) and its scheduler's host time per step, fitted "
               "to ML.ENERGY's vLLM measurements (the calibration's step_overhead_s)"),
        Engine("eager", False, None,
               "vLLM with --enforce-eager: the same scheduler, decode kernels launched one by one "
               "(launch_overhead_s each: 4 us, CUDA.jl's measured eager launches)"),
        Engine("cuda-graph", True, 20e-6,
               "a compiled engine replaying the whole decode step as one CUDA graph with no scheduler "
               "(gpt-fast's torch.compile mode='reduce-overhead'): per step one graph replay and sampling, "
               "[E] 20 us; held out against gpt-fast's batch-1 Llama-2-7B tokens/s (analysis/gpu/CALIBRATION.md)"),
    )
}
"""Serving engines :func:`tritium.analysis.gpu.gpu_baseline` accepts, by name."""

DEFAULT_ENGINE = "vllm"
"""The engine the default calibration was fitted with (ML.ENERGY runs vLLM)."""


def with_engine(cal: Calibration, engine: str) -> Calibration:
    """``cal`` with ``engine``'s launch mode and step overhead (the fitted one unless the engine sets its own).

    Raises:
        SpecError: unknown engine (names the choices).
    """
    check_choice("engine", engine, ENGINES)
    e = ENGINES[engine]
    step = cal.step_overhead_s if e.step_overhead_s is None else e.step_overhead_s
    return replace(cal, cuda_graphs=e.cuda_graphs, step_overhead_s=step)


def engine_of(cal: Calibration) -> str:
    """The engine whose launch mode and step overhead ``cal`` has (fitted steps: the default
    calibration's), or "custom"."""
    for e in ENGINES.values():
        step = DEFAULT_CALIBRATION.step_overhead_s if e.step_overhead_s is None else e.step_overhead_s
        if cal.cuda_graphs == e.cuda_graphs and cal.step_overhead_s == step:
            return e.name
    return "custom"


def calibration_to_toml(cal: Calibration) -> str:
    """TOML text of ``cal``: scalars at the top level, a ``gemm`` array of measured shapes."""
    body = to_mapping(dataclasses.replace(cal, gemm=()))
    body.pop("gemm", None)
    if cal.gemm:
        body["gemm"] = [to_mapping(g) for g in cal.gemm]
    header = f"# Tritium GPU calibration '{cal.name}'. Units are in the key names.\n\n"
    return header + tomli_w.dumps(body)


def save_calibration(cal: Calibration, path: str | os.PathLike) -> Path:
    """Write ``cal`` as TOML to ``path`` atomically (complete or absent); return the path."""
    return write_text_atomic(path, calibration_to_toml(cal))


def load_calibration(path: str | os.PathLike) -> Calibration:
    """Read a calibration written by :func:`save_calibration` (or by hand).

    Raises:
        TritiumError: no such file, or not TOML.
        SpecError: an unknown key or impossible value (names the key and the file).
    """
    path = Path(path)
    data = load_toml(path, what="GPU calibration")
    try:
        for old, new in RENAMED_KEYS.items():
            if old in data:
                raise SpecError(old, data[old], f"was renamed {new} and now means a share of what the DRAM "
                                f"model sustains (tritium.sim.dram), not of peak: refit it (tritium gpu-bench) "
                                f"or set {new}")
        shapes = data.pop("gemm", [])
        if not isinstance(shapes, list):
            raise SpecError("gemm", shapes, "must be an array of tables ([[gemm]])")
        gemm = tuple(from_mapping(MeasuredGemm, s, where=f"gemm[{i}].") for i, s in enumerate(shapes))
        cal = from_mapping(Calibration, data)
    except SpecError as err:
        raise SpecError(err.key, err.value, f"{err.allowed} (in {path})") from None
    return dataclasses.replace(cal, gemm=gemm)
