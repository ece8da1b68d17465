"""A source checkout's tritium/ folder, first on sys.path, still finds its subpackages.

That happens whenever the checkout is the current directory: ``python -m tritium`` and the
forkserver of Python 3.11's multiprocessing (sweep workers) put '' first on sys.path, and
with a regular install nothing maps ``tritium.sim`` to ``sim/`` then.
"""

import subprocess
import sys
import sysconfig
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def test_checkout_package_imports_its_subpackages_without_the_install_mapping():
    # -S: no site, so no editable-install finder; the third-party packages' folder is put on
    # sys.path by hand (its .pth files, where an editable mapping would live, are not run).
    code = (f"import sys; sys.path.append({sysconfig.get_paths()['purelib']!r}); "
            "import tritium.analysis.dse.evaluate, tritium.sim, tritium.workloads.checkpoints; "
            "print(tritium.__file__); print(tritium.sim.__file__)")
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=CHECKOUT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    package, sim = out.stdout.split()
    assert Path(package) == CHECKOUT / "tritium" / "__init__.py"
    assert Path(sim) == CHECKOUT / "sim" / "__init__.py"
