"""pbe_utils: the code behind the executable study of *Pruning By Explaining Revisited* (Hatefi et al., 2024).

Data flows one way: data -> models -> components -> relevance -> pruning curve -> metrics -> search / book.
"""

import os

# Pruning curves run each rate on a physically smaller model, so every rate has new layer shapes. oneDNN keeps a
# primitive per shape, with its scratch memory (default cache: 1,024 primitives; 2.5 GB after a few VGG curves at batch
# 1000, 20 MB each for a ViT's linear layers). Measured here: a cache of 32 bounds four ViT curves at 1.4 GB of peak
# memory (2.5 GB with 128) at the same speed. It must be set before oneDNN's first primitive; the environment wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")

from pbe_utils.composites import Composite  # noqa: E402
from pbe_utils.metrics import a_pr, top_pr, trapezoid_area  # noqa: E402

__all__ = ["Composite", "a_pr", "top_pr", "trapezoid_area"]
__version__ = "0.1.0"
