"""Latency on real devices: trustworthy measurement, a measurement cache keyed by the device,
and a latency predictor scored with nn-Meter's metric (HSCoNAS, Luo et al., DATE 2021;
nn-Meter, Zhang et al., MobiSys 2021). docs/latency.md."""

# the predictor's corrections of the kernel sum (coexplore.latency.predictor); here, where the
# CLI's help reads them without importing scikit-learn
CORRECTIONS = ("ridge", "gbm", "none")
