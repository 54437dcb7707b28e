"""Analysis of sweep results: scores math, MLflow run reading, plots, ``hieros-lab report``.

``scores`` is pure numpy (reference table, HNS, rliable aggregates, bootstrap intervals);
``runs`` is the MLflow I/O; ``plots`` draws PNGs; ``markdown`` writes the text; ``report``
ties them together (:func:`hieros_lab.analysis.report.write_report`).
"""
