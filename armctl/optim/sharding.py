"""How a batch sharded for data parallelism is recognized, and ``shard_map`` over it.

Kept apart from :mod:`armctl.optim.parallel` (which places batches on meshes) so that the
optimizer core's products and gradients can ask "is this batch sharded?" without importing it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec

#: The mesh axis batches are sharded along.
AXIS = "batch"


def batch_mesh_of(batch):
    """The mesh a batch is sharded over along axis 0 (:func:`armctl.optim.parallel.shard_batch`),
    or ``None`` for a batch on one device."""
    for leaf in jax.tree_util.tree_leaves(batch):
        sharding = getattr(leaf, "sharding", None)
        if (
            isinstance(sharding, NamedSharding)
            and AXIS in sharding.mesh.axis_names
            and sharding.mesh.shape[AXIS] > 1
            and len(sharding.spec) > 0
            and sharding.spec[0] == AXIS
        ):
            return sharding.mesh
    return None


def batch_specs(batch):
    """``shard_map`` specs of a sharded batch: leaves with a leading axis split along it, scalars
    whole (as :func:`armctl.optim.parallel.shard_batch` places them)."""
    return jax.tree_util.tree_map(lambda x: PartitionSpec(AXIS) if jnp.ndim(x) else PartitionSpec(), batch)


def shard_map(function, mesh, in_specs, out_specs):
    """``jax.shard_map`` of a function written for one device (a model, a loss): each device runs
    it on its own shard. The varying-axis check is off, because such functions carry no
    varying-axis annotations (a scan's carry started from zeros would fail it)."""
    return jax.shard_map(function, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)
