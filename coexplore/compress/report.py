"""What a compressed network costs: weights, storage with and without indices, MACs, MAC×bits,
and cycles and energy on an FPGA engine that runs each layer dense or sparse.

Counts are of the weight layers' weights (biases, a few hundred for LeNet-5, are left out, as
in ADMM-NN's tables). Storage of a pruned layer with indices uses Han et al.'s relative
indexing (Deep Compression, ICLR 2016): non-zeros are stored in order, each with the distance
from the previous one in ``b`` bits (1 … 2ᵇ positions); a longer gap costs filler zeros. Each
layer uses its best ``b`` (1 … 16), counted exactly from its mask. Dense layers need no index.
Unquantised weights are 32-bit floats.

The FPGA part: one engine, tuned (exactly, :class:`StageTuner`) for the dense network on the
part; the compressed network runs on the same design, each layer on the sparse engine of
:mod:`coexplore.platforms.fpga_pipeline.sparse` where it is not slower than dense. Each layer's
break-even pruning ratio on that design is reported beside its actual ratio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from coexplore.platforms.fpga_pipeline.engine import EngineDesign, evaluate_batch
from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.sparse import (
    Compression,
    SparseEngineModel,
    break_even_ratio,
    evaluate_sparse,
)
from coexplore.platforms.fpga_pipeline.tuning.pipeline import StageTuner
from coexplore.workloads.layer import LayerKind, Network

FLOAT_BITS = 32
MAX_INDEX_BITS = 16


def relative_index_entries(mask: np.ndarray | torch.Tensor, index_bits: int) -> int:
    """Entries (non-zeros plus filler zeros) of a flattened ``mask`` stored with relative
    indices of ``index_bits`` bits: a gap g to the previous entry costs ⌈g / 2ᵇ⌉ entries."""
    m = np.asarray(mask.detach().cpu() if torch.is_tensor(mask) else mask).ravel().astype(bool)
    pos = np.flatnonzero(m)
    if pos.size == 0:
        return 0
    gaps = np.diff(np.concatenate([[-1], pos]))
    return int(np.ceil(gaps / 2**index_bits).sum())


def index_storage(mask, value_bits: int) -> tuple[int, int]:
    """(bits, index bits per entry) of a sparse layer's values and relative indices at its
    best index width."""
    best = None
    for b in range(1, MAX_INDEX_BITS + 1):
        bits = relative_index_entries(mask, b) * (value_bits + b)
        if best is None or bits < best[0]:
            best = (bits, b)
    assert best is not None
    return best


def layer_stats(
    network: Network, masks: Mapping[str, torch.Tensor], bits: Mapping[str, int | None]
) -> list[dict[str, Any]]:
    """Per weight layer: weights, kept, value bits, MACs dense and of the non-zeros, storage."""
    out = []
    for ly in network.layers:
        if ly.kind is LayerKind.POOL:
            continue
        mask = masks[ly.name]
        kept = int(mask.sum())
        value_bits = bits.get(ly.name) or FLOAT_BITS
        per_weight = ly.macs // ly.weights  # each weight is used R·C times per image
        dense = kept == ly.weights
        storage = kept * value_bits
        with_index, index_bits = (storage, None) if dense else index_storage(mask, value_bits)
        out.append(
            {
                "name": ly.name,
                "weights": ly.weights,
                "kept": kept,
                "keep": kept / ly.weights,
                "bits": value_bits,
                "macs_dense": ly.macs,
                "macs": kept * per_weight,
                "storage_bits": storage,
                "storage_bits_with_index": with_index,
                "index_bits": index_bits,
            }
        )
    return out


def dense_engine(network: Network, part: str, precision: str) -> EngineDesign:
    """The fastest engine design for the dense ``network`` on ``part`` (exact tuner)."""
    choice = StageTuner(network, precision=precision).fastest(part, [(0, len(network.layers))])[0]
    if choice is None:
        raise ValueError(f"no engine design for {network.name} fits on {part}")
    return EngineDesign.from_array(choice.design)


@dataclass(frozen=True)
class FPGAReport:
    part: str
    precision: str
    design: dict[str, int]
    cycles_dense: int
    cycles: int
    energy_dense_j: float
    energy_j: float
    bram18k: int
    bram18k_budget: int
    index_bits: int
    overhead: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fpga_costs(
    network: Network,
    stats: list[dict[str, Any]],
    part: str = "XC7Z020",
    precision: str = "fixed16",
    model: SparseEngineModel | None = None,
) -> tuple[FPGAReport, dict[str, dict[str, Any]]]:
    """The dense network's fastest engine on ``part``, and the compressed network on it."""
    model = model or SparseEngineModel()
    prec = PRECISIONS.get(precision)
    fpga = get_part(part)
    layers = network.layers
    design = dense_engine(network, part, precision)
    by_name = {s["name"]: s for s in stats}
    # quantised layers move their value bits; float weights (32) move the precision's
    compression = Compression(
        {n: s["keep"] for n, s in by_name.items()}, {n: s["bits"] for n, s in by_name.items()}
    )
    density, wbits = compression.arrays(layers, prec)
    dense = evaluate_batch(layers, design.as_array(), fpga, prec, per_layer=True)
    ev = evaluate_sparse(layers, design, fpga, prec, density, weight_bits=wbits, model=model)
    be = break_even_ratio(layers, design, prec, weight_bits=wbits, model=model)
    per_layer = {}
    for i, ly in enumerate(layers):
        if ly.name in by_name:
            per_layer[ly.name] = {
                "break_even": float(be[i]),
                "sparse": bool(ev.use_sparse[i]),
                "cycles_dense": int(dense.layer_cycles[0, i]),
                "cycles": int(ev.cycles[i]),
            }
    report = FPGAReport(
        part=part,
        precision=precision,
        design=design.to_dict(),
        cycles_dense=int(dense.cycles[0]),
        cycles=int(ev.total_cycles),
        energy_dense_j=float(dense.dynamic_energy_j(fpga)[0]),
        energy_j=float(ev.energy_j),
        bram18k=int(ev.bram18k),
        bram18k_budget=int(fpga.bram18k),
        index_bits=model.index_bits,
        overhead=model.overhead,
    )
    return report, per_layer


def summarize(
    network: Network,
    masks: Mapping[str, torch.Tensor],
    bits: Mapping[str, int | None],
    part: str = "XC7Z020",
    precision: str = "fixed16",
    model: SparseEngineModel | None = None,
) -> dict[str, Any]:
    """The JSON numbers of a compressed network (``coexplore compress --json``'s core)."""
    stats = layer_stats(network, masks, bits)
    fpga, per_layer = fpga_costs(network, stats, part, precision, model)
    weights = sum(s["weights"] for s in stats)
    kept = sum(s["kept"] for s in stats)
    storage = sum(s["storage_bits"] for s in stats) / 8
    with_index = sum(s["storage_bits_with_index"] for s in stats) / 8
    dense_bytes = weights * FLOAT_BITS / 8
    macs_weighted = sum(s["macs_dense"] for s in stats)
    macs_other = network.macs - macs_weighted  # layers without weights (none in LeNet-5)
    macs = sum(s["macs"] for s in stats) + macs_other
    layers = []
    for s in stats:
        layers.append({**s, "ratio": s["weights"] / s["kept"], **per_layer[s["name"]]})
    return {
        "weights_dense": weights,
        "weights_kept": kept,
        "weight_reduction": weights / kept,
        "storage_bytes": storage,
        "storage_reduction": dense_bytes / storage,
        "storage_bytes_with_index": with_index,
        "storage_reduction_with_index": dense_bytes / with_index,
        "macs_dense": network.macs,
        "macs": macs,
        "mac_reduction": network.macs / macs,
        "mac_bits": sum(s["macs"] * s["bits"] for s in stats),
        "mac_bits_dense": sum(s["macs_dense"] * FLOAT_BITS for s in stats),
        "fpga": fpga.to_dict(),
        "layers": layers,
    }
