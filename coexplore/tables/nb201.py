"""NAS-Bench-201's tables: the accuracy of all 15,625 cells and their latency on 23 devices.

- ``nb201_accuracy.csv.gz``: test accuracy (percent) after 200 epochs on CIFAR-10, CIFAR-100
  and ImageNet16-120, the mean over the benchmark's training seeds (NATS-Bench topology space,
  ``hp=200``; Dong et al., TPAMI 2021, MIT licence). There is no validation column, so a search
  on these numbers searches on test accuracy.
- ``nb201_latency_help.csv.gz``: milliseconds of one forward pass of a CIFAR-10-shaped batch
  (3×32×32) on five GPUs at batch 1, 32 and 256, four Xeon CPUs and four phones (batch 1), as
  measured by HELP (Lee et al., NeurIPS 2021, MIT licence).

Rows are keyed by the benchmark's canonical strings, which the ``nb201`` space writes. Full
provenance: docs/tables.md.
"""

from __future__ import annotations

from coexplore.tables.shipped import ACCURACY_TABLES, DEVICES, AccuracyTable, DeviceTable

ACCURACY_FILE = "nb201_accuracy.csv.gz"
LATENCY_FILE = "nb201_latency_help.csv.gz"
ARCH_COLUMN = "arch_str"

for _name, _dataset, _column, _label in (
    ("nb201-cifar10", "cifar10", "cifar10_test_acc", "CIFAR-10"),
    ("nb201-cifar100", "cifar100", "cifar100_test_acc", "CIFAR-100"),
    ("nb201-imagenet16", "imagenet16-120", "imagenet16_120_test_acc", "ImageNet16-120"),
):
    ACCURACY_TABLES.register(
        _name,
        AccuracyTable(
            ACCURACY_FILE,
            ARCH_COLUMN,
            _column,
            0.01,
            _dataset,
            "test",
            f"NAS-Bench-201 {_label} test accuracy after 200 epochs (NATS-Bench, hp=200)",
        ),
    )

GPUS = {
    "1080ti": "NVIDIA GTX 1080 Ti",
    "2080ti": "NVIDIA RTX 2080 Ti",
    "titan_rtx": "NVIDIA Titan RTX",
    "titanx": "NVIDIA Titan X",
    "titanxp": "NVIDIA Titan Xp",
}
CPUS = {
    "gold_6226": "Intel Xeon Gold 6226",
    "gold_6240": "Intel Xeon Gold 6240",
    "silver_4114": "Intel Xeon Silver 4114",
    "silver_4210r": "Intel Xeon Silver 4210R",
}
PHONES = {
    "essential_ph_1": "Essential PH-1",
    "pixel2": "Google Pixel 2",
    "samsung_a50": "Samsung Galaxy A50",
    "samsung_s7": "Samsung Galaxy S7",
}

for _gpu, _label in GPUS.items():
    for _batch in (1, 32, 256):
        DEVICES.register(
            f"{_gpu}_{_batch}",
            DeviceTable(
                LATENCY_FILE,
                ARCH_COLUMN,
                f"{_gpu}_{_batch}_latency_ms",
                _batch,
                "gpu",
                f"{_label}, batch {_batch} (HELP)",
            ),
        )
for _kind, _devices in (("cpu", CPUS), ("phone", PHONES)):
    for _device, _label in _devices.items():
        DEVICES.register(
            _device,
            DeviceTable(
                LATENCY_FILE, ARCH_COLUMN, f"{_device}_latency_ms", 1, _kind, f"{_label} (HELP)"
            ),
        )
