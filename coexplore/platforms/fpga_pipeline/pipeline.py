"""The multi-FPGA pipeline model (the hardware design space of Jiang et al., TCAD'20).

The layers are split into contiguous stages; each stage runs on its own FPGA with one engine
design, and the stages work concurrently on successive images. With stage times ``t_i`` and
inter-FPGA transfer times ``x_j`` (the boundary activation over the link):

    throughput = 1 / max(t_i, x_j)                 latency = Σ t_i + Σ x_j
    pipeline efficiency = mean(t_i) / max(t_i)
    energy per image = Σ_i static_i / throughput + busy_power_i · t_i + DRAM bits_i · e_bit

Every board draws its static power for the whole pipeline period; the DSPs and BRAMs in use draw
their dynamic power while the stage is busy; DRAM traffic costs energy per bit
(docs/fpga-model.md#energy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.config import ConfigError, check_number, load_mapping, require_keys
from coexplore.platforms.fpga_pipeline.engine import (
    BUDGETS,
    DESIGN_FIELDS,
    Bottleneck,
    EngineDesign,
    evaluate_batch,
)
from coexplore.platforms.fpga_pipeline.parts import PARTS, FPGAPart, get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS, Precision
from coexplore.platforms.fpga_pipeline.sparse import Compression, SparseEvaluation, evaluate_sparse
from coexplore.workloads.layer import Network


@dataclass(frozen=True)
class Stage:
    """One FPGA of the pipeline: its part, engine design and layers ``start`` … ``stop - 1``."""

    part: str
    start: int
    stop: int
    design: EngineDesign

    @property
    def layers(self) -> range:
        return range(self.start, self.stop)

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "layers": list(self.layers), "design": self.design.to_dict()}


@dataclass(frozen=True)
class HardwareDesign:
    """An ordered list of stages plus the precision every engine computes in.

    ``link_gbps`` overrides the inter-FPGA link (default: the slower board's link).
    """

    stages: tuple[Stage, ...]
    precision: str = "fixed16"
    link_gbps: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ValueError("a hardware design needs at least one stage")
        PRECISIONS.get(self.precision)
        for a, b in zip(self.stages, self.stages[1:], strict=False):
            if b.start != a.stop:
                raise ValueError(f"stages must be contiguous: one ends at {a.stop}, next {b.start}")
        for s in self.stages:
            if s.stop <= s.start:
                raise ValueError(f"stage on {s.part} has no layers")
        if self.stages[0].start != 0:
            raise ValueError("the first stage must start at layer 0")

    @property
    def num_layers(self) -> int:
        return self.stages[-1].stop

    @property
    def cuts(self) -> list[int]:
        """Layer indices where a new stage starts (the partition, without 0)."""
        return [s.start for s in self.stages[1:]]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "precision": self.precision,
            "stages": [s.to_dict() for s in self.stages],
        }
        if self.link_gbps is not None:
            d["link_gbps"] = self.link_gbps
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<design>") -> HardwareDesign:
        """Read the design-file form of :meth:`to_dict` with field-level errors."""
        require_keys(data, source, required={"stages"}, optional={"precision", "link_gbps"})
        precision = data.get("precision", "fixed16")
        if precision not in PRECISIONS:
            raise ConfigError(source, "precision", f"one of {list(PRECISIONS)}", precision)
        if not isinstance(data["stages"], list) or not data["stages"]:
            raise ConfigError(source, "stages", "a non-empty list of stages")
        stages, start = [], 0
        for i, st in enumerate(data["stages"]):
            where = f"stages[{i}]"
            require_keys(st, source, required={"part", "layers", "design"}, prefix=where)
            layers = _parse_layers(st["layers"], source, f"{where}.layers")
            if layers[0] != start:
                raise ConfigError(
                    source, f"{where}.layers", f"contiguous, starting at layer {start}", layers
                )
            if st["part"] not in PARTS:
                raise ConfigError(source, f"{where}.part", f"one of {list(PARTS)}", st["part"])
            design = st["design"]
            require_keys(design, source, required=DESIGN_FIELDS, prefix=f"{where}.design")
            values = {
                k: check_number(v, source, f"{where}.design.{k}", 1, MAX_DESIGN_VALUE, integer=True)
                for k, v in design.items()
            }
            stages.append(Stage(st["part"], layers[0], layers[-1] + 1, EngineDesign(**values)))
            start = layers[-1] + 1
        link = data.get("link_gbps")
        if link is not None:
            link = check_number(
                link, source, "link_gbps", 0, above=True, allowed="a positive number (Gb/s)"
            )
        return cls(tuple(stages), precision, link)


# A design field beyond this overflows the engine model's int64 resource arithmetic (tiles and
# ports of real engines are far below it).
MAX_DESIGN_VALUE = 2**16


def read_design_file(path: str | Path, network: Network) -> HardwareDesign:
    """A design file for ``network`` (``hw tune --out``; or a ``hw tune --json`` report, which
    holds the design under ``hardware``): every field checked, and the stages must cover
    exactly the network's layers."""
    source, data = str(path), load_mapping(path)
    if "hardware" in data:
        if not isinstance(data["hardware"], dict):
            raise ConfigError(source, "hardware", "the report's design (precision, stages)")
        try:
            design = HardwareDesign.from_dict(data["hardware"], source)
        except ConfigError as err:
            raise ConfigError(source, f"hardware.{err.field}", err.allowed, err.got) from None
    else:
        design = HardwareDesign.from_dict(data, source)
    if design.num_layers != len(network):
        raise ConfigError(
            source,
            "stages",
            f"stages covering the {len(network)} layers of {network.name} (0-{len(network) - 1})",
            f"layers 0-{design.num_layers - 1}",
        )
    return design


def _parse_layers(value: Any, source: str, where: str) -> range:
    """Layers as a list of consecutive indices or an inclusive range string ``"a-b"``."""
    if isinstance(value, str) and "-" in value:
        first, _, last = value.partition("-")
        if first.strip().isdigit() and last.strip().isdigit():
            value = range(int(first), int(last) + 1)
    elif isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    consecutive = isinstance(value, list) and value and all(type(v) is int for v in value)
    if consecutive and value == list(range(value[0], value[0] + len(value))):
        value = range(value[0], value[-1] + 1)
    if not (isinstance(value, range) and value):
        raise ConfigError(source, where, "consecutive layer indices ([0, 1, 2] or '0-2')", value)
    return value


@dataclass(frozen=True)
class StageMetrics:
    part: str
    layers: list[int]
    design: EngineDesign
    cycles: int
    time_s: float
    dsp_used: int
    bram18k_used: int
    lut_used: int
    bandwidth_used: int
    dsp_util: float
    bram_util: float
    bottleneck: str
    layer_cycles: list[int]
    layer_bottleneck: list[str]
    energy_mj: float
    violations: list[str]  # budgets this stage breaks

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["design"] = self.design.to_dict()
        return d


@dataclass(frozen=True)
class PipelineMetrics:
    throughput_fps: float
    latency_ms: float
    energy_mj: float
    gops_per_w: float
    pipeline_efficiency: float
    bottleneck_stage: int  # index into stages, or -1 - j for transfer j
    stages: list[StageMetrics]
    transfer_ms: list[float]
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "throughput_fps": self.throughput_fps,
            "latency_ms": self.latency_ms,
            "energy_mj": self.energy_mj,
            "gops_per_w": self.gops_per_w,
            "pipeline_efficiency": self.pipeline_efficiency,
            "bottleneck_stage": self.bottleneck_stage,
            "valid": self.valid,
            "violations": self.violations,
            "transfer_ms": self.transfer_ms,
            "stages": [s.to_dict() for s in self.stages],
        }


def link_gbps(a: FPGAPart, b: FPGAPart, override: float | None = None) -> float:
    return override if override is not None else min(a.link_gbps, b.link_gbps)


def evaluate_pipeline(
    network: Network, hardware: HardwareDesign, compression: Compression | None = None
) -> PipelineMetrics:
    """Every metric of a hardware design running ``network``; budget breaks are listed.

    With ``compression`` (per-layer kept fractions and weight bits), each stage's engine runs
    every layer on the sparse engine of :mod:`sparse` where that is not slower than dense
    (docs/fpga-model.md#sparse-engine-and-break-even-pruning-ratio): its cycles, BRAM and
    energy are the chosen mix's, and such a layer's bottleneck reads ``sparse``."""
    if hardware.num_layers != len(network):
        raise ValueError(
            f"the design covers {hardware.num_layers} layers, the network "
            f"{network.name!r} has {len(network)}"
        )
    precision: Precision = PRECISIONS.get(hardware.precision)
    parts = [get_part(s.part) for s in hardware.stages]
    batches = [
        evaluate_batch(
            network.layers[s.start : s.stop], s.design.as_array(), part, precision, per_layer=True
        )
        for s, part in zip(hardware.stages, parts, strict=True)
    ]
    sparse = [
        None if compression is None else _sparse_stage(network, s, part, precision, compression)
        for s, part in zip(hardware.stages, parts, strict=True)
    ]
    cycles = [
        int(b.cycles[0]) if sp is None else sp.total_cycles
        for b, sp in zip(batches, sparse, strict=True)
    ]
    times = [c / part.clock_hz for c, part in zip(cycles, parts, strict=True)]
    transfers = [
        network.layers[s.stop - 1].output_elements
        * precision.act_bits
        / (link_gbps(parts[i], parts[i + 1], hardware.link_gbps) * 1e9)
        for i, s in enumerate(hardware.stages[:-1])
    ]
    period = max(times + transfers)
    worst = times.index(max(times))
    if transfers and max(transfers) > times[worst]:
        worst = -1 - transfers.index(max(transfers))

    stages, violations, energy_j = [], [], 0.0
    rows = zip(hardware.stages, parts, batches, sparse, times, strict=True)
    for i, (s, part, b, sp, t) in enumerate(rows):
        dynamic_j = b.dynamic_energy_j(part)[0] if sp is None else sp.energy_j
        e_j = part.static_w * period + dynamic_j
        energy_j += e_j
        bram = int(b.bram18k[0]) if sp is None else sp.bram18k
        broken = b.violations(0)
        if sp is not None:  # the sparse weight banks set the BRAM
            over = set(broken) - {"bram18k"} | ({"bram18k"} if bram > part.bram18k else set())
            broken = [name for name in BUDGETS if name in over]
        used = {
            "dsp": b.dsp[0],
            "bram18k": bram,
            "lut": b.lut[0],
            "bandwidth": b.bandwidth[0],
        }
        limits = {
            "dsp": part.dsp,
            "bram18k": part.bram18k,
            "lut": part.lut,
            "bandwidth": part.dram_bits_per_cycle,
        }
        violations += [
            {"stage": i, "budget": name, "used": int(used[name]), "available": int(limits[name])}
            for name in broken
        ]
        labels = [Bottleneck(int(x)).label for x in b.layer_bottleneck[0]]
        layer_cycles = [int(c) for c in (b.layer_cycles[0] if sp is None else sp.cycles)]
        bottleneck = Bottleneck(int(b.bottleneck_cycles[0].argmax())).label
        if sp is not None:
            labels = ["sparse" if u else x for u, x in zip(sp.use_sparse, labels, strict=True)]
            bottleneck = labels[int(np.argmax(layer_cycles))]
        stages.append(
            StageMetrics(
                part=s.part,
                layers=list(s.layers),
                design=s.design,
                cycles=cycles[i],
                time_s=t,
                dsp_used=int(b.dsp[0]),
                bram18k_used=bram,
                lut_used=int(b.lut[0]),
                bandwidth_used=int(b.bandwidth[0]),
                dsp_util=float(b.dsp[0] / part.dsp),
                bram_util=float(bram / part.bram18k),
                bottleneck=bottleneck,
                layer_cycles=layer_cycles,
                layer_bottleneck=labels,
                energy_mj=e_j * 1e3,
                violations=broken,
            )
        )
    return PipelineMetrics(
        throughput_fps=1.0 / period,
        latency_ms=(sum(times) + sum(transfers)) * 1e3,
        energy_mj=energy_j * 1e3,
        gops_per_w=network.ops / 1e9 / energy_j,
        pipeline_efficiency=(sum(times) / len(times)) / max(times),
        bottleneck_stage=worst,
        stages=stages,
        transfer_ms=[x * 1e3 for x in transfers],
        violations=violations,
    )


def _sparse_stage(
    network: Network, stage: Stage, part: FPGAPart, precision: Precision, c: Compression
) -> SparseEvaluation:
    layers = network.layers[stage.start : stage.stop]
    density, bits = c.arrays(layers, precision)
    return evaluate_sparse(
        layers, stage.design, part, precision, density, weight_bits=bits, model=c.model
    )


def single_stage(
    part: str, design: EngineDesign, num_layers: int, precision: str
) -> HardwareDesign:
    """A one-FPGA design running every layer."""
    return HardwareDesign((Stage(part, 0, num_layers, design),), precision)


def map_layers(network: Network, hardware: HardwareDesign) -> HardwareDesign:
    """``hardware``'s engines (the same parts and engine designs, in order) with ``network``'s
    layers split over them: the design's own partition when the network has the layer count it
    was made for, else the contiguous split with the shortest pipeline period. A stage is not
    given a layer whose buffers alone overflow its part's BRAM, unless no split avoids it.

    This is how a fixed accelerator runs a network other than its reference (hardware-aware NAS
    on fixed hardware): the engines stay, the layer-to-FPGA mapping is the software's choice.
    """
    from coexplore.platforms.fpga_pipeline.engine import (
        LayerTable,
        bram_blocks,
        tile_depths,
        weight_depth,
    )

    n, stages = len(network), hardware.stages
    if hardware.num_layers == n:
        return hardware
    if n < len(stages):
        raise ValueError(f"{len(stages)} stages cannot run the {n} layers of {network.name!r}")
    precision = PRECISIONS.get(hardware.precision)
    parts = [get_part(s.part) for s in stages]
    table = LayerTable.of(network.layers)
    times, fits = [], []
    for s, part in zip(stages, parts, strict=True):
        design = s.design.as_array()
        batch = evaluate_batch(table, design, part, precision, per_layer=True)
        times.append(list(batch.layer_cycles[0] / part.clock_hz))
        depth_in, depth_out = tile_depths(table, design[:, 2:4])
        tm, tn = design[0, 0], design[0, 1]
        bram = bram_blocks(tm, tn, depth_in[0], depth_out[0], weight_depth(table)[0], precision)
        fits.append(list(bram <= part.bram18k))
    links = [
        link_gbps(parts[i], parts[i + 1], hardware.link_gbps) * 1e9 for i in range(len(parts) - 1)
    ]
    out_bits = [ly.output_elements * precision.act_bits for ly in network.layers]
    cuts = _best_cuts(times, fits, links, out_bits) or _best_cuts(
        times, [[True] * n for _ in stages], links, out_bits
    )
    bounds = [0, *cuts, n]
    new = tuple(
        Stage(s.part, a, b, s.design) for s, a, b in zip(stages, bounds, bounds[1:], strict=False)
    )
    return HardwareDesign(new, hardware.precision, hardware.link_gbps)


def _best_cuts(times, fits, links, out_bits) -> list[int] | None:
    """The stage starts (without 0) minimising the period max(stage times, transfers), every
    stage's layers fitting it (ties: the first found); None if none fits.
    Dynamic programming over (stage, end layer)."""
    stages, n = len(times), len(times[0])
    inf = float("inf")
    prefix = [[0.0] for _ in range(stages)]
    ok = [[0] for _ in range(stages)]  # prefix counts of layers that do not fit
    for s in range(stages):
        for t, f in zip(times[s], fits[s], strict=True):
            prefix[s].append(prefix[s][-1] + t)
            ok[s].append(ok[s][-1] + (not f))
    # best[s][j]: the least period of layers 0..j-1 on stages 0..s, stage s ending at j
    best = [[inf] * (n + 1) for _ in range(stages)]
    start = [[-1] * (n + 1) for _ in range(stages)]
    for j in range(1, n + 1):
        if ok[0][j] == 0:
            best[0][j] = prefix[0][j]
    for s in range(1, stages):
        for j in range(s + 1, n + 1):
            for i in range(s, j):  # stage s runs layers i..j-1
                if best[s - 1][i] == inf or ok[s][j] - ok[s][i]:
                    continue
                transfer = out_bits[i - 1] / links[s - 1]
                period = max(best[s - 1][i], transfer, prefix[s][j] - prefix[s][i])
                if period < best[s][j]:
                    best[s][j], start[s][j] = period, i
    if best[-1][n] == inf:
        return None
    cuts, j = [], n
    for s in range(stages - 1, 0, -1):
        j = start[s][j]
        cuts.append(j)
    return cuts[::-1]
