"""ADMM-NN on LeNet-5: dense, ADMM pruning (with and without quantisation) and magnitude
pruning at 20x, 50x, 85x and 167x, per dataset and seed; writes docs/compression.md.

Every run is ``coexplore compress`` (:func:`coexplore.compress.api.run_request`) with the
settings below, kept in ``OUT/<dataset>/s<seed>/`` (stages) and ``OUT/<dataset>/s<seed>/<run>.json``
(reports), so an interrupted sweep resumes and the dense stage is trained once per seed.

- ADMM: ρ = 0.1, 20 ADMM epochs (one ADMM iteration per epoch), 20 masked-retraining
  epochs; quantisation: 10 ADMM epochs at ADMM-NN's LeNet-5 bits (conv1 5, conv2 3, fc1 2,
  fc2 3 bits), a hard projection at the end;
- magnitude: one-shot magnitude pruning, 40 masked-retraining epochs (ADMM's 20 + 20);
  quantised by post-training quantisation at the same bits;
- the per-layer kept fractions of every ratio come from the ``size`` schedule;
- dense: 20 epochs, SGD with Nesterov momentum, lr 0.05, cosine, weight decay 5·10⁻⁴;
- Fashion-MNIST: every stage at half those epochs (:data:`EPOCHS`).

    # the published docs/compression.md (Fashion-MNIST from Debian's dataset-fashion-mnist:
    # apt-get install dataset-fashion-mnist)
    .venv/bin/python launch/admm_lenet5.py --doc docs/compression.md
    # a smoke test: one seed, two ratios, 2 epochs per stage, mnist5k
    .venv/bin/python launch/admm_lenet5.py --quick
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

from coexplore.compress.api import CompressRequest, run_request
from coexplore.core.markdown import md_table

RATIOS = (20, 50, 85, 167)
# epochs of the dense, ADMM, retraining and quantisation stages; Fashion-MNIST's 54,000
# training images take 15x mnist5k's time per epoch, so it gets half the epochs
EPOCHS = {None: (20, 20, 20, 10), "fashion-mnist": (10, 10, 10, 5)}
PAPER_BITS = Path(__file__).resolve().parent.parent / "docs" / "compression" / "lenet5-bits.yaml"
RUNS = {  # name -> (method, quantize)
    "admm": ("admm", False),
    "admm+q": ("admm", True),
    "magnitude": ("magnitude", False),
    "magnitude+ptq": ("magnitude", True),
}
LABELS = {
    "admm": "ADMM pruning",
    "admm+q": "ADMM pruning + ADMM quantisation",
    "magnitude": "magnitude pruning (one-shot)",
    "magnitude+ptq": "magnitude pruning + post-training quantisation",
}
PAPER = {  # ADMM-NN on MNIST (Ren et al., ASPLOS 2019, Table 3 and §6)
    "dense": "99.2%",
    85: "85x at 99.2% (no loss)",
    167: "167x at 99.0%; with quantisation 1,910x storage (623x with indices)",
    "magnitude": "iterative magnitude pruning (Han et al.): 12x at 99.2%",
}


def request(dataset: str, seed: int, run: str, ratio: float, epochs, threads):
    method, quant = RUNS[run]
    return CompressRequest(
        model="lenet5",
        dataset=dataset,
        method=method,
        prune_ratio=ratio,
        quantize=quant,
        bits=str(PAPER_BITS) if quant else None,
        seed=seed,
        epochs=epochs,
        threads=threads,
    )


def run_all(args) -> dict:
    out = Path(args.out)
    ratios = (20, 85) if args.quick else RATIOS
    results: dict = {}
    done = 0
    start = time.perf_counter()
    seeds_of = {d: args.seeds.get(d, args.seeds.get(None, [])) for d in args.datasets}
    total = sum(len(s) for s in seeds_of.values()) * len(ratios) * len(RUNS)
    for dataset in args.datasets:
        for seed in seeds_of[dataset]:
            run_dir = out / dataset / f"s{seed}"
            for ratio in ratios:
                for run in RUNS:
                    path = run_dir / f"{run}-{ratio}x.json"
                    if path.is_file():
                        report = json.loads(path.read_text())
                    else:
                        epochs = (2, 2, 2, 2) if args.quick else EPOCHS.get(dataset, EPOCHS[None])
                        req = request(dataset, seed, run, ratio, epochs, args.threads)
                        report = run_request(req, str(run_dir), log=lambda _m: None)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        tmp = path.with_suffix(".tmp")
                        tmp.write_text(json.dumps(report, indent=1))
                        tmp.replace(path)
                    results.setdefault(dataset, {}).setdefault(seed, {})[(run, ratio)] = report
                    done += 1
                    print(
                        f"[{done}/{total}] {dataset} s{seed} {run} {ratio}x: "
                        f"acc {report['acc']:.4f} (dense {report['dense_acc']:.4f}), "
                        f"{time.perf_counter() - start:.0f} s",
                        file=sys.stderr,
                    )
    return results


def mean_sd(values) -> str:
    values = list(values)
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def summary_rows(results: dict, dataset: str, ratios) -> list[list[str]]:
    seeds = sorted(results[dataset])
    first = results[dataset][seeds[0]]
    rows = []
    dense = [100 * next(iter(results[dataset][s].values()))["dense_acc"] for s in seeds]
    some = next(iter(first.values()))
    rows.append(
        [
            "dense",
            "1x",
            mean_sd(dense),
            "—",
            f"{some['weights_dense']:,}",
            "1x",
            "1x",
            "1x",
            f"{some['fpga']['cycles_dense']:,}",
            f"{some['fpga']['energy_dense_j'] * 1e6:.0f}",
        ]
    )
    for ratio in ratios:
        for run in RUNS:
            reps = [results[dataset][s][(run, ratio)] for s in seeds]
            acc = [100 * r["acc"] for r in reps]
            loss = [100 * (r["dense_acc"] - r["acc"]) for r in reps]
            r0 = reps[0]
            rows.append([
                LABELS[run], f"{ratio}x", mean_sd(acc), mean_sd(loss), f"{r0['weights_kept']:,}",
                f"{statistics.mean(r['storage_reduction'] for r in reps):,.0f}x",
                f"{statistics.mean(r['storage_reduction_with_index'] for r in reps):,.0f}x",
                f"{statistics.mean(r['mac_reduction'] for r in reps):.1f}x",
                f"{statistics.mean(r['fpga']['cycles'] for r in reps):,.0f}",
                f"{statistics.mean(r['fpga']['energy_j'] for r in reps) * 1e6:.0f}",
            ])  # fmt: skip
    return rows


def layer_rows(report: dict) -> list[list[str]]:
    return [
        [ly["name"], f"{ly['weights']:,}", f"{ly['kept']:,}", f"{100 * ly['keep']:.2f}%",
         str(ly["bits"]), str(ly["index_bits"] or "—"), f"{ly['break_even']:.2f}x",
         "sparse" if ly["sparse"] else "dense", f"{ly['cycles_dense']:,}", f"{ly['cycles']:,}"]
        for ly in report["layers"]
    ]  # fmt: skip


def goals(results: dict, dataset: str, ratios) -> list[str]:
    seeds = sorted(results[dataset])

    def runs(run, ratio):
        return [results[dataset][s][(run, ratio)] for s in seeds]

    def loss(run, ratio):
        return statistics.mean(100 * (r["dense_acc"] - r["acc"]) for r in runs(run, ratio))

    out = []
    hits = [f"{r}×" for r in ratios if r >= 85 and loss("admm", r) <= 0.2]
    out.append(
        "- **≥ 85× weights at ≤ 0.2 points loss** (mean over seeds): "
        + (f"met at {', '.join(hits)}" if hits else "not met")
        + "; ADMM's loss at " + ", ".join(f"{r}×: {loss('admm', r):+.2f}" for r in ratios)
    )  # fmt: skip
    q = [(r, statistics.mean(x["storage_reduction"] for x in runs("admm+q", r)), loss("admm+q", r))
         for r in ratios]  # fmt: skip
    hit = [(r, s, lo) for r, s, lo in q if s >= 1000 and lo <= 0.5]
    out.append(
        "- **≥ 1,000× storage at ≤ 0.5 points** with quantisation: "
        + (f"met at {hit[0][0]}× ({hit[0][1]:,.0f}× storage, {hit[0][2]:+.2f} points)" if hit
           else "not met")
        + "; " + ", ".join(f"{r}×: {s:,.0f}× storage at {lo:+.2f}" for r, s, lo in q)
    )  # fmt: skip
    ahead = [
        (r, statistics.mean(100 * x["acc"] for x in runs("admm", r))
         - statistics.mean(100 * x["acc"] for x in runs("magnitude", r)))
        for r in ratios if r >= 50
    ]  # fmt: skip
    out.append(
        "- **ADMM ahead of magnitude pruning at every ratio ≥ 50×**: "
        + ("met" if all(d > 0 for _, d in ahead) else "not met")
        + " (" + ", ".join(f"{r}×: {d:+.2f} points" for r, d in ahead) + ")"
    )  # fmt: skip
    return out


def plot_accuracy(results: dict, dataset: str, ratios, out: Path) -> None:
    """Accuracy against the pruning ratio, mean ± sd over seeds, one line per run kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = sorted(results[dataset])
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    dense = [100 * results[dataset][s][(next(iter(RUNS)), ratios[0])]["dense_acc"] for s in seeds]
    ax.axhline(statistics.mean(dense), color="black", lw=1, ls="--", label="dense")
    for run in RUNS:
        accs = [[100 * results[dataset][s][(run, r)]["acc"] for s in seeds] for r in ratios]
        mean = [statistics.mean(a) for a in accs]
        sd = [statistics.stdev(a) if len(a) > 1 else 0.0 for a in accs]
        ax.errorbar(ratios, mean, yerr=sd, marker="o", capsize=3, label=LABELS[run])
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(list(ratios), [f"{r}×" for r in ratios])
    ax.set_xlabel("weight reduction (dense / kept weights)")
    ax.set_ylabel(f"test accuracy, % (mean ± sd over {len(seeds)} seeds)")
    ax.set_title(f"LeNet-5 on {dataset}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def write_doc(results: dict, path: Path, command: str, ratios) -> None:
    lines = [
        "# ADMM-NN: joint pruning and quantisation of LeNet-5",
        "",
        "<!-- generated by launch/admm_lenet5.py; the discussion is below the marker -->",
        "",
        f"Generated by `{command}`. Every number below comes from that command's runs (one",
        "JSON per run, resumable); seeds vary the data split and every training's initialisation",
        "and order. Accuracy is test accuracy in %, mean ± sd over seeds; the loss is the dense",
        "model's accuracy minus the compressed one's, per seed. Storage counts weights only",
        "(32-bit floats dense), with and without relative indices; MACs are those of the",
        "non-zero weights. FPGA: one engine on the XC7Z020 at fixed16, tuned for the dense",
        "network; the compressed network runs on the same design, each layer on the sparse",
        "engine where that is not slower (break-even pruning ratio; docs/fpga-model.md).",
        "",
        "Settings: ADMM-NN's LeNet-5 (430,500 weights, 2.293 M MACs); SGD with Nesterov "
        "momentum; dense lr 0.05 (cosine, weight decay 5·10⁻⁴); ADMM ρ = 0.1, one ADMM "
        "iteration per epoch at lr 0.01; masked retraining at lr 0.01 (cosine); ADMM "
        "quantisation at lr 0.005 with ADMM-NN's bits (conv1 5, conv2 3, fc1 2, fc2 3); "
        "magnitude pruning retrains for ADMM's two phases together. Epochs (dense / ADMM / "
        "retrain / quantisation): "
        + "; ".join(f"{d or 'mnist5k'} {'/'.join(map(str, e))}" for d, e in EPOCHS.items())
        + ". Kept fractions per layer: the `size` schedule (kept weights ∝ √weights).",
        "",
        "The paper (ADMM-NN, Ren et al., ASPLOS 2019, on full MNIST): "
        + "; ".join(f"{v}" for v in PAPER.values()) + ".",
        "",
    ]  # fmt: skip
    header = ["method", "ratio", "accuracy %", "loss (points)", "weights kept", "storage",
              "storage + index", "MACs", "FPGA cycles", "FPGA energy µJ"]  # fmt: skip
    for dataset in results:
        seeds = sorted(results[dataset])
        lines += [f"## {dataset} ({len(seeds)} seeds)", ""]
        figure = path.parent / f"{path.stem}_figures" / f"accuracy_{dataset}.png"
        plot_accuracy(results, dataset, ratios, figure)
        lines += [f"![accuracy against the pruning ratio]({path.stem}_figures/{figure.name})", ""]
        lines += md_table(header, summary_rows(results, dataset, ratios)).splitlines()
        lines += ["", "**Against the goals:**", ""] + goals(results, dataset, ratios) + [""]
        rep = results[dataset][seeds[0]][("admm+q", max(ratios))]
        lines += [
            f"Per layer, ADMM + quantisation at {max(ratios)}× (seed {seeds[0]}):",
            "",
        ]
        lines += md_table(["layer", "weights", "kept", "kept %", "bits", "index bits",
                           "break-even", "engine", "cycles dense", "cycles"],
                          layer_rows(rep)).splitlines()  # fmt: skip
        wall = [r["compress_wall_s"] for s in seeds for (run, _), r in
                results[dataset][s].items() if run == "admm"]  # fmt: skip
        mag = [r["compress_wall_s"] for s in seeds for (run, _), r in
               results[dataset][s].items() if run == "magnitude"]  # fmt: skip
        dense = [results[dataset][s][("admm", ratios[0])]["stages"][0]["wall_s"] for s in seeds]
        lines += [
            "",
            "Training time (wall time on this machine's 2 cores, while other jobs partly "
            f"shared them): dense {statistics.mean(dense):.0f} s; "
            f"ADMM pruning + retraining {statistics.mean(wall):.0f} s per ratio; magnitude "
            f"pruning + retraining {statistics.mean(mag):.0f} s (the same epochs).",
            "",
        ]
    old = path.read_text() if path.is_file() else ""
    marker = "<!-- discussion -->"
    tail = old[old.index(marker) :] if marker in old else f"{marker}\n"
    path.write_text("\n".join(lines) + "\n" + tail)


def parse_seeds(text: str) -> dict[str | None, list[int]]:
    """``0,1,2`` (every dataset) or ``mnist5k=0,1,2/fashion-mnist=0``."""
    if "=" not in text:
        return {None: [int(v) for v in text.split(",")]}
    out: dict[str | None, list[int]] = {}
    for part in text.split("/"):
        name, _, seeds = part.partition("=")
        out[name] = [int(v) for v in seeds.split(",")]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="mnist5k,fashion-mnist", type=lambda s: s.split(","))
    p.add_argument(
        "--seeds",
        default="0,1,2",
        type=parse_seeds,
        help="0,1,2 for every dataset, or per dataset: mnist5k=0,1,2/fashion-mnist=0",
    )
    p.add_argument("--out", default="runs/admm-lenet5")
    p.add_argument("--threads", type=int)
    p.add_argument("--quick", action="store_true", help="smoke test: mnist5k, 1 seed, 2 epochs")
    p.add_argument("--doc", help="write this markdown page")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds, args.out = ["mnist5k"], {None: [0]}, args.out + "-quick"
    results = run_all(args)
    ratios = (20, 85) if args.quick else RATIOS
    if args.doc:
        command = "python launch/admm_lenet5.py " + shlex.join(argv or sys.argv[1:])
        write_doc(results, Path(args.doc), command.strip(), ratios)
    if args.json:
        flat = {d: {s: {f"{run}-{r}x": rep for (run, r), rep in v.items()} for s, v in ds.items()}
                for d, ds in results.items()}  # fmt: skip
        print(json.dumps(flat, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
