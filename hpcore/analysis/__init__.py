"""What a search found: tables, parameter importance, plots and the HTML report.

Every function takes a finished search or a stored study (:func:`hpcore.load`)
and never writes to the study. Plots (:mod:`.plots`) and the report
(:mod:`.report`) need matplotlib and are imported on their own.
"""

from .contour import Surface, gp_surface
from .fanova import importance
from .tables import format_table, param_summary, save_results, to_records, top_k, trials_table

__all__ = [
    "trials_table",
    "top_k",
    "param_summary",
    "importance",
    "gp_surface",
    "Surface",
    "to_records",
    "format_table",
    "save_results",
]
