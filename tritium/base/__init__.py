"""The base layer every package imports: errors, validated specs in TOML, atomic file output.

- :mod:`tritium.base.errors`: :class:`~tritium.base.errors.TritiumError` and its kinds (one
  ``error:`` line at the CLI), :data:`~tritium.base.errors.MISSING`, ``did_you_mean``.
- :mod:`tritium.base.specio`: range and choice checks that name the key, dataclasses from and to
  TOML with bounded parsing.
- :mod:`tritium.base.figures`: a number with its source, data-table reading, node interpolation.
- :mod:`tritium.base.fileio`: atomic writes, the ``.tritium-files.json`` manifest (never replace a
  file Tritium did not write), whole-folder swaps.

Nothing here imports the simulator, the HDL, the workloads or the analysis.
"""
