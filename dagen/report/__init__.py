"""The run report and a look at the rows: read back from an output folder alone.

``write_report(OUT)`` writes ``OUT/report.html`` (``dagen report OUT``,
``GenerationResult.report()``): one self-contained page with the run, per-column
statistics, judge scores, drop reasons and the models over time. ``OutputFolder`` reads
a folder's metadata and parts column by column; ``dagen show OUT`` prints its first rows.
"""

from dagen.report.folder import OutputFolder
from dagen.report.page import REPORT, render_report, write_report

__all__ = ["REPORT", "OutputFolder", "render_report", "write_report"]
