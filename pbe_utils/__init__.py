"""pbe_utils: the code behind the executable study of *Pruning By Explaining Revisited* (Hatefi et al., 2024).

Data flows one way: data -> models -> components -> relevance -> pruning curve -> metrics -> search / book.
Importing it changes no global state; the command-line entry points bound oneDNN's primitive cache
(:func:`pbe_utils.cache.bound_onednn_cache`).
"""

from pbe_utils.composites import Composite
from pbe_utils.metrics import a_pr, top_pr, trapezoid_area

__all__ = ["Composite", "a_pr", "top_pr", "trapezoid_area"]
__version__ = "0.1.0"
