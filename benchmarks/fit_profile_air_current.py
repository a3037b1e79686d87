"""The LSU 4.2 and LSU ADV firmware profiles' air current, from the published characteristic only.

    python benchmarks/fit_profile_air_current.py

No Bosch Ip-lambda table is published for either sensor (reference/lsu49.md §11); the published
characteristic is the rusEFI wideband phi = 1/lambda fit (`firmware/lambda_conversion.cpp`), each
with the range rusEFI clamps it to: LSU 4.2 Ip <= 1.19 mA ("maximum lambda ~2"), LSU ADV
Ip <= 0.759 mA ("maximum lambda 2.434"). The firmware reads lean currents through its lean law,
Ip = Ip_air·ln(1 - x_O2(λ))/ln(1 - 0.2095) with the exhaust O2 of gasoline (H/C 1.85) from its own
combustion balance (controller/conversion.py), so the profile's Ip_air is the one number that makes
that law reproduce the published fit: least squares on the current over lambda 1.05 to the end of the
fit's range (nearer lambda 1 the fits' zero, 1.0085 / 1.0143, is not the law's 1.000). Only the
firmware's code and the published fit are used here, never the emulator.

For scale: the same procedure on the rusEFI LSU 4.9 fit gives 2.47 mA where the Bosch LSU 4.9 table
gives 2.54 mA (the linear fit runs 3 % under the table at lambda 2): the rusEFI fits carry about that
much uncertainty in the lean span against Bosch's own data, which is not published for these two.
"""

from __future__ import annotations

import math

import numpy as np

from lambdarig.controller.conversion import O2_IN_AIR, Conversion
from lambdarig.controller.profiles import load_profile
from lambdarig.controller.settings import Settings


def phi_lsu49(ip_ma: float) -> float:
    return 0.99559 - (0.28299 if ip_ma < 0 else 0.44817) * ip_ma


def phi_lsu42(ip_ma: float) -> float:
    return 0.99153 - (0.23505 if ip_ma < 0 else 0.41441) * ip_ma


def phi_adv(ip_ma: float) -> float:
    if ip_ma < 0:
        return (0.0379 * ip_ma - 0.4496) * ip_ma + 0.9902
    return (0.1059 * ip_ma - 0.8368) * ip_ma + 0.9859


# name: (phi fit, largest pump current rusEFI applies the fit to, mA)
PUBLISHED_FITS = {"lsu49": (phi_lsu49, 1.11), "lsu42": (phi_lsu42, 1.19), "lsu-adv": (phi_adv, 0.759)}
LEAN_FROM_LAMBDA = 1.05


def lean_law_per_air_current(conv: Conversion, lam: float) -> float:
    """Ip/Ip_air of the firmware's lean law at lambda (gasoline)."""
    return math.log(1.0 - conv.o2_fraction_of_lambda(lam)) / math.log(1.0 - O2_IN_AIR)


def fit_air_current_ma(name: str) -> tuple[float, float]:
    """(Ip_air, worst |residual|) in mA over the fit's lean range."""
    phi, ip_max = PUBLISHED_FITS[name]
    conv = Conversion(load_profile("lsu49", calibrated=False), Settings())   # only its gasoline balance is used
    currents = np.linspace(0.01, ip_max, 200)
    lambdas = np.array([1.0 / phi(i) for i in currents])
    keep = lambdas >= LEAN_FROM_LAMBDA
    shape = np.array([lean_law_per_air_current(conv, lam) for lam in lambdas[keep]])
    ip_air = float(shape @ currents[keep] / (shape @ shape))
    return ip_air, float(np.max(np.abs(shape * ip_air - currents[keep])))


def main() -> None:
    for name in PUBLISHED_FITS:
        ip_air, worst = fit_air_current_ma(name)
        print(f"{name}: ip_air_a = {ip_air * 1e-3:.4e}  (worst {worst * 1e3:.1f} µA against the rusEFI fit, lambda "
              f"{LEAN_FROM_LAMBDA}..{1.0 / PUBLISHED_FITS[name][0](PUBLISHED_FITS[name][1]):.3f})")


if __name__ == "__main__":
    main()
