"""Native blocks: nn.Modules whose logic is not a DAG of primitives.

Each module here imports only ``math``, ``torch``, ``torch.nn.functional as F`` and ``from torch
import nn``; the emitter copies a class's source (found with :mod:`ast`, without importing torch)
into model.py, so the emitted file needs nothing but torch.
"""
