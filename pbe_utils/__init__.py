"""pbe_utils: the code behind the executable study of *Pruning By Explaining Revisited* (Hatefi et al., 2024).

Data flows one way: data -> models -> components -> relevance -> pruning curve -> metrics -> search / book.
"""

import os

# Pruning curves run each rate on a physically smaller model, so every rate has new layer shapes. oneDNN keeps a
# primitive per shape, with its scratch memory. Its default cache (1,024 primitives) grew to 2.5 GB after a few VGG
# curves at batch 1000. 128 bounds it (four ViT curves: 2.5 GB of peak memory, the default book: see RESULTS.md) and
# still holds the primitives a model's fixed-shape work reuses (inference, LRP, an unpruned and a pruned ResNet
# timed in turns: with 32 those were evicted and the pruned ResNet ran slower than the unpruned one). It must be set
# before oneDNN's first primitive; a setting in the environment wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "128")

from pbe_utils.composites import Composite  # noqa: E402
from pbe_utils.metrics import a_pr, top_pr, trapezoid_area  # noqa: E402

__all__ = ["Composite", "a_pr", "top_pr", "trapezoid_area"]
__version__ = "0.1.0"
