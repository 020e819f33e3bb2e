"""Character-level recurrent language models: plain RNN, MRNN, LSTM and multiplicative LSTM.

Every model is a frozen (hashable) dataclass with the same interface:

* ``init_params(key) -> params`` (a dict pytree),
* ``initial_state(params, batch_size) -> carry``,
* ``step(params, carry, token) -> (carry, logits, preact)`` for one character (B,),
* ``apply(params, tokens) -> (logits (B, T, V), preacts (B, T, H))`` from the zero state,
* ``apply_from(params, carry, tokens) -> (carry, logits, preacts)`` (sampling, long texts),

iterated with ``lax.scan``. The logits feed a softmax with cross-entropy, a loss convex in
the logits, so the Gauss-Newton products of :mod:`armctl.optim` apply. ``preacts`` are the
hidden pre-activations whose ``tanh`` is the state passed on in time: the structural
damping taps (``tap_nonlinearity="tanh"``).

An input character ``v_t`` is a one-hot vector, so ``W v_t`` is a row lookup ``W[token]``.

* CharRNN, the plain RNN (Martens & Sutskever 2011): ``h_t = tanh(W_hv v_t + W_hh h_{t-1} + b)``.
* MRNN (Sutskever 2013, eq. 5.5-5.7): ``f_t = diag(W_fv v_t) W_fh h_{t-1}``,
  ``h_t = tanh(W_hf f_t + W_hv v_t + b)``; the input picks its own hidden-to-hidden matrix.
* LSTM with forget gates, in Krause's (2015, eq. 2.11-2.16) form: gates
  ``i, f, o = sigmoid(W_*v v_t + W_*h h_{t-1} + b_*)``,
  ``c_t = f c_{t-1} + i (W_cv v_t + W_ch h_{t-1} + b_c)`` and ``h_t = tanh(c_t * o_t)``.
  Krause squashes the gated state (the common variant is ``o tanh(c)``); we keep his form
  because then ``h_t`` is exactly the tanh of a pre-activation, ``c_t * o_t``, which is what
  structural damping's matching loss assumes.
* mLSTM (Krause 2015, sec. 4.5): the LSTM whose recurrent inputs all come from the
  multiplicative intermediate state ``m_t = (W_mh h_{t-1}) * (W_mv v_t)`` instead of ``h_{t-1}``.

Initialization follows Krause (sec. 4.2-4.5): weights ``N(0, init_std^2)`` (0.1 for the RNN's
input and output weights and the mLSTM, 0.05 for the MRNN and, unlike Krause, the LSTM: see
:class:`LSTM`); the RNN's recurrent matrix is sparse (15 nonzero incoming weights per unit,
Martens 2010) via :mod:`armctl.controllers.init`. Forget-gate biases start at ``forget_bias`` so that
cells remember by default. The MRNN is initialized densely (Krause), not sparsely (thesis).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from armctl.checks import check_integer
from armctl.controllers.init import sparse_matrix
from armctl.scan import remat_scan


def _normal(key: jax.Array, shape: tuple[int, ...], std: float) -> jnp.ndarray:
    return std * jax.random.normal(key, shape)


def _check_sizes(model, **sizes) -> None:
    for name, value in sizes.items():
        check_integer(f"{type(model).__name__}.{name}", value, 1)
    if not (
        isinstance(model.init_std, (int, float)) and model.init_std > 0 and math.isfinite(model.init_std)
    ):
        raise ValueError(f"{type(model).__name__}.init_std must be a positive number, got {model.init_std!r}")


class _CharModel:
    """Shared parts: the softmax readout and the scans over time. Subclasses define
    ``hidden``, ``vocab``, ``_init_core``, ``initial_state`` and ``_cell``."""

    def init_params(self, key: jax.Array) -> dict:
        """Fresh float32 parameters: the recurrent core plus the readout ``logits = h W_o + b_o``."""
        k_core, k_out = jax.random.split(key)
        params = self._init_core(k_core)
        params["out"] = {
            "w": _normal(k_out, (self.hidden, self.vocab), self.init_std),
            "b": jnp.zeros(self.vocab),
        }
        return params

    def step(self, params: dict, carry, token: jnp.ndarray):
        """One character: ``(carry, token (B,)) -> (carry, logits (B, V), preact (B, H))``."""
        carry, h, preact = self._cell(params, carry, token)
        return carry, h @ params["out"]["w"] + params["out"]["b"], preact

    def apply_from(self, params: dict, carry, tokens: jnp.ndarray, remat_block: int = 0):
        """Run over ``tokens`` (B, T) from ``carry``: ``(carry, logits (B, T, V), preacts (B, T, H))``.

        ``remat_block = k > 0`` rematerializes the scan in blocks of k steps
        (:func:`armctl.scan.remat_scan`): with k ~ sqrt(T) the activations kept for
        differentiation grow like sqrt(T), not T. The values are identical.
        """

        def body(carry, token):
            carry, logits, preact = self.step(params, carry, token)
            return carry, (logits, preact)

        carry, (logits, preacts) = remat_scan(body, carry, jnp.swapaxes(tokens, 0, 1), remat_block)
        return carry, jnp.swapaxes(logits, 0, 1), jnp.swapaxes(preacts, 0, 1)

    def apply(self, params: dict, tokens: jnp.ndarray, remat_block: int = 0):
        """Logits (B, T, V) of the next character after each of ``tokens`` (B, T), and the
        hidden pre-activations (B, T, H), starting from the zero state (``remat_block``: see
        :meth:`apply_from`)."""
        carry = self.initial_state(params, tokens.shape[0])
        _, logits, preacts = self.apply_from(params, carry, tokens, remat_block)
        return logits, preacts


@dataclasses.dataclass(frozen=True)
class CharRNN(_CharModel):
    """Plain tanh RNN language model (``hidden`` units, alphabet of ``vocab`` symbols)."""

    vocab: int
    hidden: int = 360
    init_std: float = 0.1

    def __post_init__(self):
        _check_sizes(self, vocab=self.vocab, hidden=self.hidden)

    def _init_core(self, key):
        k_in, k_rec = jax.random.split(key)
        return {
            "w_in": _normal(k_in, (self.vocab, self.hidden), self.init_std),
            "w_rec": sparse_matrix(k_rec, self.hidden, self.hidden),
            "b": jnp.zeros(self.hidden),
        }

    def initial_state(self, params, batch_size):
        return jnp.zeros((batch_size, self.hidden), params["b"].dtype)

    def _cell(self, params, h, token):
        a = params["w_in"][token] + h @ params["w_rec"] + params["b"]
        h = jnp.tanh(a)
        return h, h, a


@dataclasses.dataclass(frozen=True)
class MRNN(_CharModel):
    """Multiplicative RNN (thesis eq. 5.5-5.7) with ``factors`` multiplicative units."""

    vocab: int
    hidden: int = 250
    factors: int = 250
    init_std: float = 0.05

    def __post_init__(self):
        _check_sizes(self, vocab=self.vocab, hidden=self.hidden, factors=self.factors)

    def _init_core(self, key):
        k = jax.random.split(key, 4)
        h, f, v, s = self.hidden, self.factors, self.vocab, self.init_std
        return {
            "w_fv": _normal(k[0], (v, f), s),
            "w_fh": _normal(k[1], (h, f), s),
            "w_hf": _normal(k[2], (f, h), s),
            "w_hv": _normal(k[3], (v, h), s),
            "b": jnp.zeros(h),
        }

    def initial_state(self, params, batch_size):
        return jnp.zeros((batch_size, self.hidden), params["b"].dtype)

    def _cell(self, params, h, token):
        f = params["w_fv"][token] * (h @ params["w_fh"])  # eq. 5.5
        a = f @ params["w_hf"] + params["w_hv"][token] + params["b"]  # eq. 5.6
        h = jnp.tanh(a)
        return h, h, a


def _lstm_update(params, c, gate_inputs, token):
    """Krause's LSTM cell from the recurrent contribution to the four blocks (B, 4H):
    returns ``(c_t, h_t, c_t * o_t)``."""
    z = params["w_in"][token] + gate_inputs + params["b"]
    i, f, o, g = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * g
    a = c * jax.nn.sigmoid(o)
    return c, jnp.tanh(a), a


def _lstm_bias(hidden: int, forget_bias: float) -> jnp.ndarray:
    # Blocks in the order input gate, forget gate, output gate, cell input.
    return jnp.zeros(4 * hidden).at[hidden : 2 * hidden].set(forget_bias)


class _LSTMCore(_CharModel):
    """What the LSTM and the mLSTM share: the size checks and the zero carry ``(h, c)``."""

    def __post_init__(self):
        _check_sizes(self, vocab=self.vocab, hidden=self.hidden)

    def initial_state(self, params, batch_size):
        zeros = jnp.zeros((batch_size, self.hidden), params["b"].dtype)
        return zeros, zeros


@dataclasses.dataclass(frozen=True)
class LSTM(_LSTMCore):
    """LSTM with forget gates (Krause eq. 2.11-2.16); carry ``(h, c)``.

    ``init_std`` defaults to 0.05, not Krause's 0.1: the cell input is not squashed, and with
    0.1 and 170 units the initial cell states and logits are large (initial loss above
    uniform, gradient norm ~100x that at 0.05) and HF's first steps stall.
    """

    vocab: int
    hidden: int = 170
    init_std: float = 0.05
    forget_bias: float = 1.0

    def _init_core(self, key):
        k_in, k_rec = jax.random.split(key)
        h, v, s = self.hidden, self.vocab, self.init_std
        return {
            "w_in": _normal(k_in, (v, 4 * h), s),
            "w_rec": _normal(k_rec, (h, 4 * h), s),
            "b": _lstm_bias(h, self.forget_bias),
        }

    def _cell(self, params, carry, token):
        h, c = carry
        c, h, a = _lstm_update(params, c, h @ params["w_rec"], token)
        return (h, c), h, a


@dataclasses.dataclass(frozen=True)
class MLSTM(_LSTMCore):
    """Multiplicative LSTM (Krause sec. 4.5, algorithm 7); the intermediate state has
    ``hidden`` units, as in Krause; carry ``(h, c)``."""

    vocab: int
    hidden: int = 150
    init_std: float = 0.1
    forget_bias: float = 1.0

    def _init_core(self, key):
        k = jax.random.split(key, 4)
        h, v, s = self.hidden, self.vocab, self.init_std
        return {
            "w_mv": _normal(k[0], (v, h), s),
            "w_mh": _normal(k[1], (h, h), s),
            "w_in": _normal(k[2], (v, 4 * h), s),
            "w_rec": _normal(k[3], (h, 4 * h), s),  # from m_t, not h_{t-1}
            "b": _lstm_bias(h, self.forget_bias),
        }

    def _cell(self, params, carry, token):
        h, c = carry
        m = (h @ params["w_mh"]) * params["w_mv"][token]
        c, h, a = _lstm_update(params, c, m @ params["w_rec"], token)
        return (h, c), h, a


#: Model classes by the names the CLI uses.
MODELS = {"rnn": CharRNN, "mrnn": MRNN, "lstm": LSTM, "mlstm": MLSTM}


def make_model(name: str, vocab: int, hidden: int | None = None) -> _CharModel:
    """The model ``name`` (rnn, mrnn, lstm, mlstm) for ``vocab`` symbols; ``hidden`` defaults to
    the class default (about 200k parameters for a 100-symbol alphabet, Krause's table 4.5 size).
    The MRNN gets as many factors as hidden units, as in the thesis."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    if hidden is None:
        return MODELS[name](vocab=vocab)
    if name == "mrnn":
        return MRNN(vocab=vocab, hidden=hidden, factors=hidden)
    return MODELS[name](vocab=vocab, hidden=hidden)


def n_params(params) -> int:
    """Number of scalar parameters in a pytree."""
    return sum(int(x.size) for x in jax.tree_util.tree_leaves(params))
