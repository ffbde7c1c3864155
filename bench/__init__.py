"""Benchmarks: the JAX train step against upstream's PyTorch step on the same device."""
