"""Issue 22 item 5: softplus registered with gain=1.0 (the old docs' example): wrong by the rule.

PyTorch's calculate_gain has no softplus, so its gain is the fixed-point gain
1 / sqrt(E[softplus(z)^2]) = 1.0418668355353016; 1.0 fails check_activation_gain.
"""

import numpy as np

import initkit


@initkit.hookimpl
def initkit_register_activations(register):
    register("softplus_gain_one", lambda x: np.logaddexp(0, x),
             lambda x: 0.5 * (1 + np.tanh(0.5 * x)), gain=1.0)
