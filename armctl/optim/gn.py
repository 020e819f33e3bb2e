"""Gauss-Newton matrix-vector products with Tikhonov and structural damping.

``G v = J^T H_L J v`` with ``J`` the Jacobian of the model outputs and ``H_L`` the Hessian of the
(convex) loss in the outputs; structural damping (Martens & Sutskever 2011) adds
``lam * mu * J_t^T H_D J_t v`` for the hidden pre-activations ``t`` (the problem's taps).

The model is linearized once (``jax.linearize`` inside a jitted builder, so the residuals of the
forward pass are kept) and every product is one jitted forward-mode pass through the linear
model, a loss-Hessian product and the transposed pass: no forward pass is recomputed per CG step.
A problem with a :class:`~armctl.optim.base.Factored` view is linearized in a perturbation of its
pre-activations instead of its parameters, and the parameters' part of ``J`` (and of ``J^T``) is
done outside the scan over time as a few large matmuls.

A batch sharded over a device mesh (:func:`armctl.optim.parallel.shard_batch`) is linearized and
multiplied shard by shard under ``shard_map``, and the shards' products are averaged once (the loss
is a batch mean, so that average is the whole batch's product). Left to XLA's partitioner, the
transposed pass summed the parameter cotangents across devices at every time step of a scan,
which made two devices no faster than one.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax.sharding import PartitionSpec

from armctl.optim.base import Problem, check_number, check_problem, model_outputs
from armctl.optim.sharding import AXIS, batch_mesh_of, batch_specs, shard_map


def tap_curvature(taps, nonlinearity: str):
    """``H_D`` for the taps: the matching-loss Hessian of the units' nonlinearity, over the batch size.

    ``tanh``: ``1 - tanh(a)^2``; ``logistic``: ``s(a) (1 - s(a))``; ``linear``: 1 (the squared
    distance of pre-activations). Each leaf's leading axis is the batch; dividing by it puts the
    penalty on the same per-example scale as the batch-averaged loss.
    """

    def one(a):
        if nonlinearity == "tanh":
            d = 1.0 - jnp.square(jnp.tanh(a))
        elif nonlinearity == "logistic":
            s = jax.nn.sigmoid(a)
            d = s * (1.0 - s)
        else:
            d = jnp.ones_like(a)
        return d / a.shape[0]

    return jax.tree_util.tree_map(one, taps)


@jax.tree_util.register_pytree_node_class
class GNProduct:
    """A linearized model: ``gv(v) = G v + lam mu J_t^T H_D J_t v + lam v`` (jitted, reusable).

    Attributes: ``out`` and ``taps`` at the linearization point, ``damping`` (lam) and
    ``structural`` (mu); for a factored problem, the layer ``inputs`` and the ``preactivations``
    function that make the parameters' part of the map (else ``None``). A pytree, so it can be
    passed into jitted code (CG does).
    """

    def __init__(
        self,
        linear,
        out,
        taps,
        batch,
        inputs,
        damping,
        structural,
        loss,
        tap_nonlinearity,
        use_taps,
        preactivations,
    ):
        self.linear, self.out, self.taps, self.batch, self.inputs = linear, out, taps, batch, inputs
        self.damping, self.structural = damping, structural
        self.loss, self.tap_nonlinearity, self.use_taps = loss, tap_nonlinearity, use_taps
        self.preactivations = preactivations

    def tree_flatten(self):
        children = (self.linear, self.out, self.taps, self.batch, self.inputs, self.damping, self.structural)
        return children, (self.loss, self.tap_nonlinearity, self.use_taps, self.preactivations)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, *aux)

    def __call__(self, v):
        return _apply(self, v)

    def with_damping(self, damping: float) -> GNProduct:
        """The same linearization with another ``lam`` (no recompilation, no new forward pass)."""
        check_number("damping", damping, 0, low_closed=True)
        return GNProduct(
            self.linear,
            self.out,
            self.taps,
            self.batch,
            self.inputs,
            float(damping),
            self.structural,
            self.loss,
            self.tap_nonlinearity,
            self.use_taps,
            self.preactivations,
        )


def _loss_hvp(loss, out, batch, v):
    """``H_L v``: forward-over-reverse on the loss in the outputs (generic for any convex loss)."""
    return jax.jvp(lambda o: jax.grad(loss)(o, batch), (out,), (v,))[1]


def _product(
    linear, out, taps, batch, inputs, damping, structural, v, loss, tap_nonlinearity, use_taps, preactivations
):
    """``J^T H_L J v + lam mu J_t^T H_D J_t v`` of one linearized model (no ``lam v``)."""
    if preactivations is not None:  # ``linear`` is the map from a perturbation of the pre-activations
        in_perturbation = linear
        linear = lambda v: in_perturbation(preactivations(v, inputs))
    transpose = jax.linear_transpose(linear, v)
    if use_taps:
        j_out, j_taps = linear(v)
        h_taps = jax.tree_util.tree_map(
            lambda d, jt: damping * structural * d * jt, tap_curvature(taps, tap_nonlinearity), j_taps
        )
        (gv,) = transpose((_loss_hvp(loss, out, batch, j_out), h_taps))
    else:
        (gv,) = transpose(_loss_hvp(loss, out, batch, linear(v)))
    return gv


@jax.jit
def _apply(gnp: GNProduct, v):
    statics = (gnp.loss, gnp.tap_nonlinearity, gnp.use_taps, gnp.preactivations)
    if isinstance(gnp.linear, ShardedLinear):
        sharded = gnp.linear

        def local(leaves, out, taps, batch, inputs, damping, structural, v):
            linear = sharded.local(leaves)
            gv = _product(linear, out, taps, batch, inputs, damping, structural, v, *statics)
            return jax.lax.pmean(gv, AXIS)

        split, whole = PartitionSpec(AXIS), PartitionSpec()
        in_specs = (split, split, split, batch_specs(gnp.batch), split, whole, whole, whole)
        gv = shard_map(local, sharded.mesh, in_specs, whole)(
            sharded.leaves, gnp.out, gnp.taps, gnp.batch, gnp.inputs, gnp.damping, gnp.structural, v
        )
    else:
        gv = _product(
            gnp.linear, gnp.out, gnp.taps, gnp.batch, gnp.inputs, gnp.damping, gnp.structural, v, *statics
        )
    return optax.tree.add_scale(gv, gnp.damping, v)


@jax.tree_util.register_pytree_node_class
class ShardedLinear:
    """The linear models of a sharded batch's shards: every leaf of one shard's linear map, stacked
    along a new leading axis that is sharded over ``mesh`` (each device holds its own shard's)."""

    def __init__(self, leaves, treedef, mesh):
        self.leaves, self.treedef, self.mesh = leaves, treedef, mesh

    def tree_flatten(self):
        return self.leaves, (self.treedef, self.mesh)

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        return cls(leaves, *aux)

    def local(self, leaves):
        """Inside ``shard_map``: this shard's linear map from its blocks of ``leaves``."""
        return jax.tree_util.tree_unflatten(self.treedef, [leaf[0] for leaf in leaves])


def _linearize(problem: Problem, params, batch, use_taps: bool):
    """``(out, taps, linear, inputs)``: ``linear`` maps a parameter tangent to the tangents of ``out``
    (and ``taps`` if ``use_taps``); for a factored problem it maps a perturbation of the
    pre-activations instead, and ``inputs`` are the layer inputs (else ``None``)."""
    factored = problem.factored
    if factored is None:
        if use_taps:
            (out, taps), linear = jax.linearize(lambda p: model_outputs(problem, p, batch), params)
        else:
            out, linear = jax.linearize(lambda p: model_outputs(problem, p, batch)[0], params)
            taps = ()
        return out, taps, linear, None

    def perturbed(e):
        (out, taps), inputs = factored.outputs(params, batch, e)
        return ((out, taps) if use_taps else out), inputs

    shapes = jax.eval_shape(
        lambda params, batch: factored.preactivations(params, factored.outputs(params, batch, None)[1]),
        params,
        batch,
    )
    zero = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    primal, linear, inputs = jax.linearize(perturbed, zero, has_aux=True)
    out, taps = primal if use_taps else (primal, ())
    return out, taps, linear, inputs


# Jitted so the linear model's jaxpr (and with it the product's trace) is cached per problem and shapes.
_linearize_jit = jax.jit(_linearize, static_argnums=(0, 3))


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _linearize_sharded(problem: Problem, params, batch, use_taps: bool, mesh):
    """:func:`_linearize` shard by shard: outputs and taps gathered along the batch axis, and the
    shards' linear maps as one :class:`ShardedLinear`."""
    treedef = []

    def local(params, batch):
        out, taps, linear, inputs = _linearize(problem, params, batch, use_taps)
        leaves, tree = jax.tree_util.tree_flatten(linear)
        treedef.append(tree)  # read once shard_map has traced this
        return out, taps, [leaf[None] for leaf in leaves], inputs

    split, whole = PartitionSpec(AXIS), PartitionSpec()
    out_specs = (split, split, split, split)
    out, taps, leaves, inputs = shard_map(local, mesh, (whole, batch_specs(batch)), out_specs)(params, batch)
    return out, taps, ShardedLinear(leaves, treedef[0], mesh), inputs


def gauss_newton_product(
    problem: Problem, params, batch, *, damping: float = 0.0, structural: float = 0.0
) -> GNProduct:
    """Linearize ``problem.outputs`` at ``params`` on ``batch`` once; return the damped GN product.

    ``damping`` is lam (Tikhonov, ``+ lam v``), ``structural`` is mu (``+ lam mu J_t^T H_D J_t v``,
    active only when ``mu > 0``; the taps are then linearized too).
    """
    check_problem(problem)
    check_number("damping", damping, 0, low_closed=True)
    check_number("structural", structural, 0, low_closed=True)
    use_taps = structural > 0
    mesh = batch_mesh_of(batch)
    if mesh is None:
        out, taps, linear, inputs = _linearize_jit(problem, params, batch, use_taps)
    else:
        out, taps, linear, inputs = _linearize_sharded(problem, params, batch, use_taps, mesh)
    if use_taps and not jax.tree_util.tree_leaves(taps):
        raise ValueError("structural damping needs taps, but problem.outputs returned taps=()")
    return GNProduct(
        linear,
        out,
        taps,
        batch,
        inputs,
        float(damping),
        float(structural),
        problem.loss,
        problem.tap_nonlinearity,
        use_taps,
        None if problem.factored is None else problem.factored.preactivations,
    )
