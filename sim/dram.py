"""Sustained bandwidth and energy of a DRAM type for an access pattern: closed form, sourced.

One model serves the chip and the GPU baseline: both read their DRAM physics here. The
figures per type live in ``dram_data.toml`` beside this file, each with its source and a
[V]/[E] mark; docs/dram.md gives the equations and the comparison with measurements.

Everything is per *JEDEC channel* (an HBM pseudo-channel, an LPDDR x16 channel, a DDR5
sub-channel, a DDR3/DDR4 64-bit rank); ``DramParams.channels_per_unit`` of them make one
:class:`~tritium.sim.chip_memory.DramSpec` channel (the unit of ``DRAM_TYPES[t].channel``).

The sustained fraction of peak is a product of three closed-form factors::

    fraction = (1 - refresh) * row * turnaround

- refresh: all-bank refresh blocks the channel ``tRFC`` of every ``tREFI``; per-bank refresh
  blocks one bank ``tRFCpb`` of every ``tREFI``, which costs the channel only in proportion
  to the share of banks the pattern keeps busy.
- row: each activation moves ``visit_bytes`` (a whole row for a stream, less for KV pages or
  scattered tiles); the channel needs per visit at least the data time, the bank cycle
  ``max(tRC, tRCD + data + tRP)`` shared over all banks, and the activation-rate limit
  ``max(tRRD, tFAW / 4)``.
- turnaround: writes are drained in batches of ``write_batch_bytes``; each read/write switch
  pair idles the bus ``(tRTW + tCWL - tCL - tBURST) + (tWTR + tCL)``.

Examples:
    >>> round(sustained_bandwidth_fraction("DDR4", "stream"), 3)
    0.955
    >>> sustained_bandwidth_fraction("HBM3", "stream") >= sustained_bandwidth_fraction("HBM3", "kv")
    True
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from tritium.base.errors import SpecError
from tritium.sim.chip_memory import DRAM_TYPES
from tritium.base.specio import check_choice, check_float, check_int

__all__ = [
    "REFRESH_MODES",
    "PATTERNS",
    "ENERGY_PARTS",
    "DramParams",
    "AccessPattern",
    "dram_params",
    "dram_sources",
    "access_pattern",
    "kv_pattern",
    "mixed_pattern",
    "refresh_overhead",
    "sustained_bandwidth_fraction",
    "effective_pj_per_bit",
    "dram_energy_j",
]

DATA_PATH = Path(__file__).with_name("dram_data.toml")
REFRESH_MODES = ("all_bank", "per_bank")
"""Values of :attr:`DramParams.refresh_mode`."""
ENERGY_PARTS = ("activation", "read_core", "write_core", "io", "background", "refresh")
"""Keys of :func:`dram_energy_j`'s result (besides ``"total"``), in joules."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DramParams:
    """The figures of one DRAM type, for one JEDEC channel (see ``dram_data.toml``).

    Attributes:
        name: the key of :data:`~tritium.sim.chip_memory.DRAM_TYPES`.
        standard: standard and speed grade the figures are for.
        data_rate_mtps: transfers per second per pin, MT/s.
        channel_width_bits: data bits of one independent channel.
        channels_per_unit: JEDEC channels in one DramSpec channel (``DRAM_TYPES[t].channel``).
        burst_length: bit times per pin of one column command (BL; a PAM4 BL8 is 16).
        banks, bank_groups: banks (all groups together) and bank groups of one channel.
        row_bytes: bytes one activation opens on one channel (the page).
        tRCD_ns ... tRTW_ns: JEDEC timings in ns (tRRD is tRRD_S, tCCD is tCCD_S, tWTR is
            tWTR_S: the controller interleaves bank groups).
        tRFC_ns, tREFI_ns: all-bank refresh time and interval.
        refresh_mode: ``"all_bank"`` or ``"per_bank"`` (the model's choice per type).
        tRFCpb_ns: per-bank (same-bank) refresh time; 0 where the type has none.
        act_pre_pj: energy of one activate + precharge of one channel's row.
        read_core_pj_per_bit, write_core_pj_per_bit: array and on-die data path, per bit.
        io_pj_per_bit: interface (driver, termination, receiver), per bit moved.
        background_mw_per_channel: standby power of one JEDEC channel.
        refresh_mw_per_gib: average refresh power per GiB of capacity.
        sources: ``(key, source)`` pairs; every source opens with ``[V]`` or ``[E]``.
    """

    name: str
    standard: str
    data_rate_mtps: float
    channel_width_bits: int
    channels_per_unit: int
    burst_length: int
    banks: int
    bank_groups: int
    row_bytes: int
    tRCD_ns: float
    tRP_ns: float
    tRAS_ns: float
    tRC_ns: float
    tRRD_ns: float
    tFAW_ns: float
    tCCD_ns: float
    tCL_ns: float
    tCWL_ns: float
    tWTR_ns: float
    tRTW_ns: float
    tRFC_ns: float
    tREFI_ns: float
    refresh_mode: str
    tRFCpb_ns: float
    act_pre_pj: float
    read_core_pj_per_bit: float
    write_core_pj_per_bit: float
    io_pj_per_bit: float
    background_mw_per_channel: float
    refresh_mw_per_gib: float
    sources: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_choice("name", self.name, DRAM_TYPES)
        check_choice("refresh_mode", self.refresh_mode, REFRESH_MODES)
        for f in dataclasses.fields(self):
            if f.type == "int":
                check_int(f.name, getattr(self, f.name), lo=1)
            elif f.type == "float":
                lo_open = f.name != "tRFCpb_ns"
                check_float(f.name, getattr(self, f.name), lo=0.0, lo_open=lo_open)
                object.__setattr__(self, f.name, float(getattr(self, f.name)))
        if self.tRC_ns < self.tRAS_ns:
            raise SpecError("tRC_ns", self.tRC_ns, f"must be >= tRAS_ns = {self.tRAS_ns:g}")
        if self.tRFC_ns >= self.tREFI_ns:
            raise SpecError("tRFC_ns", self.tRFC_ns, f"must be < tREFI_ns = {self.tREFI_ns:g}")
        if self.refresh_mode == "per_bank" and not 0 < self.tRFCpb_ns < self.tREFI_ns:
            raise SpecError("tRFCpb_ns", self.tRFCpb_ns, "must be > 0 and < tREFI_ns with per-bank refresh")
        if self.banks % self.bank_groups:
            raise SpecError("banks", self.banks, f"must be a multiple of bank_groups = {self.bank_groups}")
        if self.row_bytes < self.burst_bytes:
            raise SpecError("row_bytes", self.row_bytes, f"must be >= one burst, {self.burst_bytes} bytes")

    @property
    def channel_gb_s(self) -> float:
        """Peak bandwidth of one JEDEC channel, GB/s (= bytes per ns)."""
        return self.channel_width_bits / 8 * self.data_rate_mtps / 1000

    @property
    def unit_gb_s(self) -> float:
        """Peak bandwidth of one DramSpec channel (``channels_per_unit`` JEDEC channels), GB/s."""
        return self.channel_gb_s * self.channels_per_unit

    @property
    def burst_bytes(self) -> int:
        """Bytes one column command moves: burst_length * channel_width_bits / 8."""
        return self.burst_length * self.channel_width_bits // 8

    @property
    def burst_ns(self) -> float:
        """Data-bus time of one burst, ns."""
        return self.burst_bytes / self.channel_gb_s


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessPattern:
    """How a stream of accesses meets the rows of one channel.

    Attributes:
        name: a label for reports.
        visit_bytes: bytes moved per row activation on one channel; 0 means a whole row
            (a sequential stream); clipped to the row and rounded up to whole bursts.
        write_fraction: share of the bytes that are writes, 0 to 1.
        write_batch_bytes: bytes of writes (or reads, whichever is the minority) the
            controller groups between two bus turnarounds on one channel, > 0.
    """

    name: str
    visit_bytes: int = 0
    write_fraction: float = 0.0
    write_batch_bytes: int = 2048

    def __post_init__(self) -> None:
        check_int("visit_bytes", self.visit_bytes, lo=0)
        check_float("write_fraction", self.write_fraction, lo=0.0, hi=1.0)
        object.__setattr__(self, "write_fraction", float(self.write_fraction))
        check_int("write_batch_bytes", self.write_batch_bytes, lo=1)


PATTERNS: types.MappingProxyType[str, AccessPattern] = types.MappingProxyType(
    {
        # weights: long sequential reads, every activation's row read to the end
        "stream": AccessPattern(name="stream", visit_bytes=0, write_fraction=0.0),
        # KV pages: 512 B per channel per visit (a 4 KiB page split over 8 channels),
        # one new token's K/V appended per 20 read (5% writes)
        "kv": AccessPattern(name="kv", visit_bytes=512, write_fraction=0.05),
        # small activation tiles: one 64 B access per activation, 30% written back
        "scattered": AccessPattern(name="scattered", visit_bytes=64, write_fraction=0.3),
        # a copy: streamed reads and writes, half and half
        "mixed": AccessPattern(name="mixed", visit_bytes=0, write_fraction=0.5),
    }
)
"""The named access patterns; a function taking ``pattern`` accepts these names or an
:class:`AccessPattern`."""


def kv_pattern(page_bytes: int, *, channels: int = 8, write_fraction: float = 0.05) -> AccessPattern:
    """KV-cache pages of ``page_bytes`` spread over ``channels``: one visit per page share.

    Raises:
        SpecError: ``page_bytes`` or ``channels`` is not an integer >= 1.
    """
    check_int("page_bytes", page_bytes, lo=1)
    check_int("channels", channels, lo=1)
    visit = max(1, page_bytes // channels)
    return AccessPattern(name=f"kv{page_bytes}", visit_bytes=visit, write_fraction=write_fraction)


def mixed_pattern(write_fraction: float) -> AccessPattern:
    """A sequential stream of which ``write_fraction`` of the bytes are writes."""
    return AccessPattern(name=f"mixed{write_fraction:g}", visit_bytes=0, write_fraction=write_fraction)


def access_pattern(pattern: str | AccessPattern) -> AccessPattern:
    """The :class:`AccessPattern` for a name of :data:`PATTERNS` or the pattern itself.

    Raises:
        SpecError: an unknown name.
    """
    if isinstance(pattern, AccessPattern):
        return pattern
    check_choice("pattern", pattern, PATTERNS)
    return PATTERNS[pattern]


# --------------------------------------------------------------------------- data


@functools.cache
def _table() -> Mapping[str, DramParams]:
    with DATA_PATH.open("rb") as f:
        raw = tomllib.load(f)
    fields = [f.name for f in dataclasses.fields(DramParams) if f.name not in ("name", "sources")]
    unknown = sorted(set(raw) - set(DRAM_TYPES))
    if unknown:
        raise SpecError(unknown[0], "(table)", f"is not a DRAM type; allowed: {', '.join(DRAM_TYPES)}")
    out = {}
    for name in DRAM_TYPES:
        if name not in raw:
            raise SpecError(name, "(missing)", f"{DATA_PATH.name} needs a table for every DRAM type")
        table = dict(raw[name])
        sources = table.pop("source", None)
        if not isinstance(sources, dict):
            raise SpecError(f"{name}.source", sources, "must be a table of sources, one per figure")
        for key in sorted(set(table) | set(sources)):
            if key not in fields:
                raise SpecError(f"{name}.{key}", table.get(key, sources.get(key)), "unknown key")
        for key in fields:
            if key not in table:
                raise SpecError(f"{name}.{key}", "(missing)", "every figure is required")
            src = sources.get(key)
            if not (isinstance(src, str) and src[:3] in ("[V]", "[E]") and len(src) > 8):
                raise SpecError(f"{name}.source.{key}", src, "must be a source opening with [V] or [E]")
        try:
            out[name] = DramParams(name=name, sources=tuple((k, sources[k]) for k in fields), **table)
        except SpecError as err:
            raise err.prefixed(f"{name}.") from None
        except TypeError as err:  # a wrong value type that check_* did not catch
            raise SpecError(name, table, str(err)) from None
    return types.MappingProxyType(out)


def dram_params(dram_type: str) -> DramParams:
    """The figures of ``dram_type`` (a key of ``DRAM_TYPES``), from ``dram_data.toml``.

    Raises:
        SpecError: an unknown type, or a bad data file (key, value and what is allowed).
    """
    check_choice("dram.type", dram_type, DRAM_TYPES)
    return _table()[dram_type]


def dram_sources(dram_type: str) -> Mapping[str, str]:
    """Figure name -> source (opening with ``[V]`` or ``[E]``) for ``dram_type``."""
    return types.MappingProxyType(dict(dram_params(dram_type).sources))


# --------------------------------------------------------------------------- bandwidth


@dataclass(frozen=True, slots=True)
class _Timing:
    """Per (type, pattern) intermediate figures, cached."""

    visit_bytes: int
    row: float
    banks_busy: float
    refresh: float
    turnaround: float


@functools.lru_cache(maxsize=1024)
def _timing(dram_type: str, pattern: AccessPattern) -> _Timing:
    p = dram_params(dram_type)
    want = p.row_bytes if pattern.visit_bytes == 0 else min(pattern.visit_bytes, p.row_bytes)
    bursts = math.ceil(want / p.burst_bytes)
    slot = max(p.burst_ns, p.tCCD_ns)  # one column command's bus time
    data = bursts * slot
    bank_cycle = max(p.tRC_ns, p.tRCD_ns + data + p.tRP_ns)
    act_limit = max(p.tRRD_ns, p.tFAW_ns / 4)
    visit = max(data, bank_cycle / p.banks, act_limit)
    row = bursts * p.burst_ns / visit
    banks_busy = min(float(p.banks), bank_cycle / visit)
    if p.refresh_mode == "all_bank":
        refresh = p.tRFC_ns / p.tREFI_ns
    else:
        refresh = p.tRFCpb_ns / p.tREFI_ns * banks_busy / p.banks
    minority = min(pattern.write_fraction, 1.0 - pattern.write_fraction)
    gap_rw = max(0.0, p.tRTW_ns + p.tCWL_ns - p.tCL_ns - p.burst_ns)
    gap_wr = p.tWTR_ns + p.tCL_ns
    per_burst = visit / bursts  # average bus time of one burst in this pattern
    switches_per_burst = minority * p.burst_bytes / pattern.write_batch_bytes
    turnaround = per_burst / (per_burst + switches_per_burst * (gap_rw + gap_wr))
    return _Timing(bursts * p.burst_bytes, row, banks_busy, refresh, turnaround)


def refresh_overhead(dram_type: str, pattern: str | AccessPattern = "stream") -> float:
    """Share of the channel's time lost to refresh for ``pattern``, in [0, 1).

    All-bank refresh: ``tRFC / tREFI``. Per-bank: ``tRFCpb / tREFI * busy / banks``, where
    ``busy`` is the number of banks the pattern keeps cycling at once (all of them when the
    activation rate saturates the channel).
    """
    return _timing(dram_type, access_pattern(pattern)).refresh


def sustained_bandwidth_fraction(dram_type: str, pattern: str | AccessPattern = "stream") -> float:
    """Sustained share of peak bandwidth for ``pattern`` on ``dram_type``, in (0, 1].

    ``(1 - refresh) * row * turnaround`` (module docstring); multiply by
    ``DramSpec.bandwidth_gb_s`` for the sustained GB/s. Cached: cheap to call in a sweep.

    Raises:
        SpecError: an unknown type or pattern name.
    """
    t = _timing(dram_type, access_pattern(pattern))
    return (1.0 - t.refresh) * t.row * t.turnaround


# --------------------------------------------------------------------------- energy


def effective_pj_per_bit(dram_type: str, pattern: str | AccessPattern = "stream") -> float:
    """Dynamic energy per bit moved, pJ: activation share + core (read/write mix) + I/O.

    ``act_pre_pj / (8 * visit_bytes) + (1-w) * read_core + w * write_core + io``; background
    and refresh power are not in it (see :func:`dram_energy_j`).
    """
    pat = access_pattern(pattern)
    p = dram_params(dram_type)
    t = _timing(dram_type, pat)
    w = pat.write_fraction
    core = (1 - w) * p.read_core_pj_per_bit + w * p.write_core_pj_per_bit
    return p.act_pre_pj / (8 * t.visit_bytes) + core + p.io_pj_per_bit


def dram_energy_j(
    dram_type: str,
    read_bytes: float,
    write_bytes: float,
    seconds: float,
    channels: int,
    pattern: str | AccessPattern = "stream",
    capacity_gib: float = 0.0,
) -> dict[str, float]:
    """Energy of a run on ``channels`` DramSpec channels of ``dram_type``, joules by part.

    Args:
        read_bytes, write_bytes: bytes read and written over the run, >= 0.
        seconds: the run's wall time (idle included), >= 0: background and refresh
            power are paid over all of it.
        channels: DramSpec channels (units of ``DRAM_TYPES[t].channel``), >= 1.
        pattern: how the bytes meet the rows (a name of :data:`PATTERNS` or an
            :class:`AccessPattern`); sets the activations per byte. Its write fraction
            is not used: ``read_bytes`` and ``write_bytes`` give the mix.
        capacity_gib: DRAM capacity refreshed, GiB, >= 0.

    Returns:
        ``{"activation", "read_core", "write_core", "io", "background", "refresh",
        "total"}`` in joules.

    Raises:
        SpecError: a negative amount, a bad type, pattern or channel count.
    """
    for key, value in (("read_bytes", read_bytes), ("write_bytes", write_bytes),
                       ("seconds", seconds), ("capacity_gib", capacity_gib)):
        check_float(key, value, lo=0.0)
    check_int("channels", channels, lo=1)
    p = dram_params(dram_type)
    t = _timing(dram_type, access_pattern(pattern))
    moved = read_bytes + write_bytes
    parts = {
        "activation": moved / t.visit_bytes * p.act_pre_pj * 1e-12,
        "read_core": read_bytes * 8 * p.read_core_pj_per_bit * 1e-12,
        "write_core": write_bytes * 8 * p.write_core_pj_per_bit * 1e-12,
        "io": moved * 8 * p.io_pj_per_bit * 1e-12,
        "background": p.background_mw_per_channel * 1e-3 * channels * p.channels_per_unit * seconds,
        "refresh": p.refresh_mw_per_gib * 1e-3 * capacity_gib * seconds,
    }
    parts["total"] = sum(parts.values())
    return parts


def _main() -> None:  # pragma: no cover - exercised by tests through the table it prints
    print(_report())


def _report() -> str:
    """A table of every type: peak per unit, fraction per pattern, pJ/bit for stream and kv."""
    head = f"{'type':8} {'GB/s/unit':>9} " + " ".join(f"{n:>9}" for n in PATTERNS)
    lines = [head + f" {'pJ/b str':>8} {'pJ/b kv':>8}"]
    for name in DRAM_TYPES:
        p = dram_params(name)
        fr = " ".join(f"{sustained_bandwidth_fraction(name, n):9.3f}" for n in PATTERNS)
        lines.append(
            f"{name:8} {p.unit_gb_s:9.1f} {fr} {effective_pj_per_bit(name, 'stream'):8.2f}"
            f" {effective_pj_per_bit(name, 'kv'):8.2f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    _main()
