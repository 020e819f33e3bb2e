"""Gauss-Newton matrix-vector products with Tikhonov and structural damping.

``G v = J^T H_L J v`` with ``J`` the Jacobian of the model outputs and ``H_L`` the Hessian of the
(convex) loss in the outputs; structural damping (Martens & Sutskever 2011) adds
``lam * mu * J_t^T H_D J_t v`` for the hidden pre-activations ``t`` (the problem's taps).

The model is linearized once (``jax.linearize`` inside a jitted builder, so the residuals of the
forward pass are kept) and every product is one jitted forward-mode pass through the linear
model, a loss-Hessian product and the transposed pass: no forward pass is recomputed per CG step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from armctl.optim.base import Problem, check_number, check_problem, model_outputs


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
    ``structural`` (mu). A pytree, so it can be passed into jitted code (CG does).
    """

    def __init__(self, linear, out, taps, batch, damping, structural, loss, tap_nonlinearity, use_taps):
        self.linear, self.out, self.taps, self.batch = linear, out, taps, batch
        self.damping, self.structural = damping, structural
        self.loss, self.tap_nonlinearity, self.use_taps = loss, tap_nonlinearity, use_taps

    def tree_flatten(self):
        children = (self.linear, self.out, self.taps, self.batch, self.damping, self.structural)
        return children, (self.loss, self.tap_nonlinearity, self.use_taps)

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
            float(damping),
            self.structural,
            self.loss,
            self.tap_nonlinearity,
            self.use_taps,
        )


def _loss_hvp(loss, out, batch, v):
    """``H_L v``: forward-over-reverse on the loss in the outputs (generic for any convex loss)."""
    return jax.jvp(lambda o: jax.grad(loss)(o, batch), (out,), (v,))[1]


@jax.jit
def _apply(gnp: GNProduct, v):
    transpose = jax.linear_transpose(gnp.linear, v)
    if gnp.use_taps:
        j_out, j_taps = gnp.linear(v)
        h_taps = jax.tree_util.tree_map(
            lambda d, jt: gnp.damping * gnp.structural * d * jt,
            tap_curvature(gnp.taps, gnp.tap_nonlinearity),
            j_taps,
        )
        (gv,) = transpose((_loss_hvp(gnp.loss, gnp.out, gnp.batch, j_out), h_taps))
    else:
        (gv,) = transpose(_loss_hvp(gnp.loss, gnp.out, gnp.batch, gnp.linear(v)))
    return optax.tree.add_scale(gv, gnp.damping, v)


def _linearize(problem: Problem, params, batch, use_taps: bool):
    if use_taps:
        (out, taps), linear = jax.linearize(lambda p: model_outputs(problem, p, batch), params)
    else:
        out, linear = jax.linearize(lambda p: model_outputs(problem, p, batch)[0], params)
        taps = ()
    return out, taps, linear


# Jitted so the linear model's jaxpr (and with it the product's trace) is cached per problem and shapes.
_linearize_jit = jax.jit(_linearize, static_argnums=(0, 3))


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
    out, taps, linear = _linearize_jit(problem, params, batch, use_taps)
    if use_taps and not jax.tree_util.tree_leaves(taps):
        raise ValueError("structural damping needs taps, but problem.outputs returned taps=()")
    return GNProduct(
        linear,
        out,
        taps,
        batch,
        float(damping),
        float(structural),
        problem.loss,
        problem.tap_nonlinearity,
        use_taps,
    )
