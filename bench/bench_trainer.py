"""The slow phase's trainer against a bare torch loop, and fp32 against bf16 autocast.

1. Overhead: ``coexplore.slow.trainer.train`` and a minimal hand-written loop train the same
   architecture (same initial weights, same batches, same SGD + cosine schedule, same
   channels_last layout) on the same tensors; runs alternate (trainer, bare, trainer, bare, ...)
   and the medians are compared. The bar is an overhead of at most 5% of wall time.
2. Precision: the trainer in fp32 and in bf16 autocast (both channels_last) on CPU, for small and
   larger children: the evidence behind ``precision="auto"`` (bf16 where the CPU runs it
   natively).

3. Layout: the bare loop in fp32 with NCHW (contiguous) against channels_last tensors: why the
   trainer keeps images and weights channels_last.

One untimed run of each loop comes first (torch's first call in a process pays one-off set-up).

    .venv/bin/python bench/bench_trainer.py            # about 6 minutes on 2 cores
    .venv/bin/python bench/bench_trainer.py --quick    # about 2 minutes
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

from coexplore.data import DataConfig, load_dataset
from coexplore.slow.trainer import TrainConfig, cpu_has_native_bf16, train
from coexplore.spaces import make_space

CHAIN6 = "k3f24s1-k3f36s1-k3f48s2-k3f48s1-k3f64s2-k3f64s1|flatten"
CHAIN6_WIDE = "k5f64s1-k5f64s1-k3f64s2-k3f64s1-k3f64s2-k3f64s1|flatten"


def bare_loop(arch, ds, cfg: TrainConfig, seed: int, layout=torch.channels_last) -> float:
    """The least a training loop can do: same model, batches, optimiser, schedule, final eval."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = arch.module(ds.input_shape, ds.num_classes).to(memory_format=layout)
    x_train = ds.x_train.to(memory_format=layout)  # channels_last: the layout the trainer uses
    opt = torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        nesterov=True,
    )
    n = len(ds.y_train)
    steps = math.ceil(n / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(cfg.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            loss = loss_fn(model(x_train[idx]), ds.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        for x, y in ((ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
            (model(x).argmax(1) == y).float().mean().item()
    return time.perf_counter() - start


def overhead(arch, ds, cfg: TrainConfig, repeats: int) -> tuple[float, float]:
    train(arch, ds, cfg, seed=0), bare_loop(arch, ds, cfg, seed=0)  # untimed warm-up
    ours, bare = [], []
    for r in range(repeats):
        ours.append(train(arch, ds, cfg, seed=r).wall_s)
        bare.append(bare_loop(arch, ds, cfg, seed=r))
    return statistics.median(ours), statistics.median(bare)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats, epochs = (2, 1) if args.quick else (3, 1)
    space = make_space("chain")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {repeats} "
        f"alternating runs, {epochs} epoch(s) each\n"
    )

    print("1. trainer vs bare torch loop (fp32, SGD + cosine, batch 128)")
    print(
        f"{'data':<18} {'arch':<8} {'MACs/img':>10} {'trainer s':>10} {'bare s':>8} {'overhead':>9}"
    )
    cases = [("digits", None, CHAIN6), ("mnist5k", None, CHAIN6)]
    for name, resize, text in cases:
        ds = load_dataset(DataConfig(name, resize=resize))
        arch = space.parse(text)
        macs = arch.network(ds.input_shape, ds.num_classes).macs
        cfg = TrainConfig(epochs=epochs, precision="fp32")
        ours, bare = overhead(arch, ds, cfg, repeats)
        print(
            f"{name:<18} {'chain6':<8} {macs:>10,} {ours:>10.2f} {bare:>8.2f} "
            f"{ours / bare - 1:>+8.1%}"
        )

    native = cpu_has_native_bf16()
    print(
        f"\n2. fp32 vs bf16 autocast (trainer, channels_last); native bf16 on this CPU: "
        f"{native}, so precision='auto' is {'bf16' if native else 'fp32'}"
    )
    print(
        f"{'data':<18} {'arch':<11} {'MACs/img':>10} {'fp32 s':>8} {'bf16 s':>8} "
        f"{'bf16 speed-up':>13}"
    )
    cases = [
        ("digits", None, "chain6", CHAIN6),
        ("mnist5k", 14, "chain6", CHAIN6),
        ("mnist5k", None, "chain6", CHAIN6),
    ]
    if not args.quick:
        cases.append(("mnist5k", 32, "chain6-wide", CHAIN6_WIDE))
    for name, resize, label, text in cases:
        ds = load_dataset(DataConfig(name, resize=resize))
        arch = space.parse(text)
        macs = arch.network(ds.input_shape, ds.num_classes).macs
        times = {}
        for precision in ("fp32", "bf16"):
            cfg = TrainConfig(epochs=epochs, precision=precision)
            train(arch, ds, cfg, seed=0)  # untimed warm-up
            times[precision] = statistics.median(
                train(arch, ds, cfg, seed=r).wall_s for r in range(repeats)
            )
        data = f"{name}" + (f"@{resize}" if resize else "")
        print(
            f"{data:<18} {label:<11} {macs:>10,} {times['fp32']:>8.2f} {times['bf16']:>8.2f} "
            f"{times['fp32'] / times['bf16']:>12.2f}x"
        )

    print("\n3. memory layout (bare loop, fp32): contiguous NCHW vs channels_last")
    print(f"{'data':<18} {'NCHW s':>8} {'chlast s':>9} {'chlast speed-up':>15}")
    for name in ("digits", "mnist5k"):
        ds = load_dataset(DataConfig(name))
        arch = space.parse(CHAIN6)
        cfg = TrainConfig(epochs=epochs, precision="fp32")
        times = {}
        for layout in (torch.contiguous_format, torch.channels_last):
            bare_loop(arch, ds, cfg, 0, layout)  # untimed warm-up
            times[layout] = statistics.median(
                bare_loop(arch, ds, cfg, r, layout) for r in range(repeats)
            )
        nchw, cl = times[torch.contiguous_format], times[torch.channels_last]
        print(f"{name:<18} {nchw:>8.2f} {cl:>9.2f} {nchw / cl:>14.2f}x")


if __name__ == "__main__":
    main()
