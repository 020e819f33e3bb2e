"""Thesis 6.8: a command table optimized by HF reaches iLQR's loss (same plant, same cost, same
Gauss-Newton curvature)."""

import jax
import numpy as np
from armctl.baselines import solve_task
from armctl.controllers.table import CommandTable

from armctl import optim
from armctl.arm_problem import arm_problem
from armctl.tasks import CenterOut


def test_hf_on_a_free_command_table_matches_ilqr_within_a_tenth_of_a_percent():
    with jax.enable_x64(True):
        task = CenterOut(n_targets=3)
        batch = task.sample(jax.random.PRNGKey(0))
        ilqr_cost = np.asarray(solve_task(task, batch).cost)
        table = CommandTable(task.horizon)
        problem = arm_problem(table, task)
        params, _, history = optim.minimize(
            problem,
            optim.hf(lambda_init=1e-3, max_cg=200),
            table.init_params(batch_size=batch.size),
            lambda key: batch,
            jax.random.PRNGKey(1),
            steps=25,
        )
        hf_loss = float(optim.objective(problem, params, batch))
    # The objective is the batch mean of the per-reach costs iLQR minimizes one by one.
    assert abs(hf_loss / ilqr_cost.mean() - 1) < 1e-3, (hf_loss, ilqr_cost.mean(), history["loss"][-3:])
