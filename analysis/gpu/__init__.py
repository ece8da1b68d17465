"""GPU baselines in one import: the database, the calibrated model, its calibration.

>>> from tritium.analysis.gpu import gpu_baseline, load_gpu, list_gpus
>>> "rtx-4090" in list_gpus()
True
"""

from tritium.analysis.gpu.db import GPU_ALIASES, INTERCONNECTS, Gpu, gpu_to_toml, list_gpus, load_gpu, save_gpu
from tritium.analysis.gpu.kernels import WEIGHT_MODES, WeightMode
from tritium.analysis.gpu.model import gpu_baseline
from tritium.analysis.gpu.rows import GemmKernel, gemm_kernels
from tritium.analysis.gpu.params import (DEFAULT_CALIBRATION, ENGINES, Calibration, MeasuredGemm, load_calibration,
                                         save_calibration, with_engine)

__all__ = [
    "Gpu", "GPU_ALIASES", "INTERCONNECTS", "list_gpus", "load_gpu", "gpu_to_toml", "save_gpu",
    "WeightMode", "WEIGHT_MODES", "gpu_baseline", "gemm_kernels", "GemmKernel",
    "Calibration", "MeasuredGemm", "DEFAULT_CALIBRATION", "load_calibration", "save_calibration",
    "ENGINES", "with_engine",
]
