"""Data parallelism with JAX's own SPMD machinery: batches sharded along axis 0, parameters replicated.

Every objective, gradient and Gauss-Newton product in :mod:`armctl.optim` is a jitted function of
``(params, batch)``; given a batch sharded over a 1-D device mesh and replicated parameters, XLA's
partitioner runs each on all devices and inserts the reductions (the loss and its gradient are
batch means). Nothing else changes, so one code path serves 1 CPU, N CPU devices, N GPUs, or
several hosts (after ``jax.distributed.initialize``; every process generates the same batch from
the same key and contributes the shards of its own devices, see :func:`shard_batch`).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"


def batch_mesh(devices: int | None = None) -> Mesh:
    """A 1-D mesh named ``'batch'`` over the first ``devices`` devices (all of them by default)."""
    available = jax.devices()
    n = len(available) if devices is None else devices
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(available):
        raise ValueError(
            f"devices must be an integer in 1..{len(available)} (devices visible to JAX), got {devices!r}"
        )
    return Mesh(np.asarray(available[:n]), (AXIS,))


def _put(x, sharding: NamedSharding):
    # make_array_from_callback works for multi-process meshes too: each process supplies the
    # pieces its own devices hold, cut from the (identical) full array it computed.
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def shard_batch(batch, mesh: Mesh):
    """Every leaf with a leading axis is split along it across the mesh; scalars are replicated.

    Raises ``ValueError`` when a leading size is not divisible by the number of devices (the
    batch is neither padded nor masked: pick a batch size that divides evenly).
    """
    n = mesh.devices.size
    split, whole = NamedSharding(mesh, PartitionSpec(AXIS)), NamedSharding(mesh, PartitionSpec())

    def put(x):
        shape = np.shape(x)
        if not shape:
            return _put(x, whole)
        if shape[0] % n:
            raise ValueError(
                f"batch size {shape[0]} is not divisible by the {n} devices it is sharded over; "
                f"choose a batch size that is a multiple of {n}"
            )
        return _put(x, split)

    return jax.tree_util.tree_map(put, batch)


def replicate(tree, mesh: Mesh):
    """A copy of ``tree`` held whole on every device of the mesh."""
    whole = NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(lambda x: _put(x, whole), tree)
