"""Data parallelism with JAX's own SPMD machinery: batches sharded along axis 0, parameters replicated.

Every objective, gradient and Gauss-Newton product in :mod:`armctl.optim` is a jitted function of
``(params, batch)``; given a batch sharded over a 1-D device mesh and replicated parameters, XLA's
partitioner runs each on all devices and inserts the reductions (the loss and its gradient are
batch means). Nothing else changes, so one code path serves 1 CPU, N CPU devices, N GPUs, or
several hosts (after :func:`initialize`; every process generates the same batch from the same
key and contributes the shards of its own devices, see :func:`shard_batch`).

Several processes (hosts, or processes on one machine) are started with the same command and
these environment variables, read by :func:`initialize_from_env` (``armctl`` calls it first)::

    ARMCTL_COORDINATOR=host0:29500  ARMCTL_NUM_PROCESSES=2  ARMCTL_PROCESS_ID=0|1
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from armctl.optim.base import check_integer
from armctl.optim.sharding import AXIS

#: The environment variables of a multi-process launch (see :func:`initialize_from_env`).
ENV_VARS = ("ARMCTL_COORDINATOR", "ARMCTL_NUM_PROCESSES", "ARMCTL_PROCESS_ID")


def initialize(coordinator_address: str, num_processes: int, process_id: int, timeout_s: int = 300) -> None:
    """Join a multi-process JAX run (``jax.distributed.initialize``); call before any computation.

    Afterwards ``jax.devices()`` lists the devices of all processes, so :func:`batch_mesh` spans
    them. On CPU, cross-process collectives go through Gloo (XLA's CPU backend has no other).
    """
    check_integer("num_processes", num_processes, 1)
    check_integer("process_id", process_id, 0, num_processes - 1)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=timeout_s,
    )


def initialize_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """:func:`initialize` from ``ARMCTL_COORDINATOR``, ``ARMCTL_NUM_PROCESSES`` and
    ``ARMCTL_PROCESS_ID`` when they are set (all three, or none: then it does nothing and returns
    False)."""
    values = {name: environ.get(name) for name in ENV_VARS}
    given = [name for name, value in values.items() if value]
    if not given:
        return False
    if len(given) != len(ENV_VARS):
        missing = sorted(set(ENV_VARS) - set(given))
        raise ValueError(
            f"a multi-process run needs all of {', '.join(ENV_VARS)}; missing {', '.join(missing)}"
        )
    numbers = {}
    for name in ENV_VARS[1:]:
        try:
            numbers[name] = int(values[name])
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {values[name]!r}") from None
    initialize(values["ARMCTL_COORDINATOR"], numbers["ARMCTL_NUM_PROCESSES"], numbers["ARMCTL_PROCESS_ID"])
    return True


def batch_mesh(devices: int | None = None) -> Mesh:
    """A 1-D mesh named ``'batch'`` over the first ``devices`` devices (all of them by default)."""
    available = jax.devices()
    n = len(available) if devices is None else devices
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(available):
        raise ValueError(
            f"devices must be an integer in 1..{len(available)} (devices visible to JAX), got {devices!r}"
        )
    return Mesh(np.asarray(available[:n]), (AXIS,))


def default_devices(*sizes: int) -> int:
    """The most devices, up to every one JAX sees, that divide each of ``sizes`` (the batches a run
    shards) evenly: a run's ``devices`` when none is given. Sizes that are not positive integers
    are left to the run's own checks, which name them."""
    sizes = [s for s in sizes if isinstance(s, int) and not isinstance(s, bool) and s > 0]
    n = len(jax.devices())
    while n > 1 and any(size % n for size in sizes):
        n -= 1
    return n


def mesh_for(devices: int) -> Mesh | None:
    """The mesh a training config's ``devices`` asks for: ``None`` (plain single-device code) for 1."""
    return None if devices == 1 else batch_mesh(devices)


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
    """``tree`` held whole on every device of the mesh (leaves already held so are kept as they are)."""
    whole = NamedSharding(mesh, PartitionSpec())
    keep = lambda x: isinstance(x, jax.Array) and x.sharding == whole
    return jax.tree_util.tree_map(lambda x: x if keep(x) else _put(x, whole), tree)
