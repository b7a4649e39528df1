"""Model compression on the core: ADMM joint pruning and quantisation (ADMM-NN, Ren et al.,
ASPLOS 2019), magnitude-pruning and post-training-quantisation baselines, and what a compressed
network costs in storage, MACs and on a sparse FPGA engine."""
