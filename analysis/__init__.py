"""GPU baselines, cost and carbon models, sweeps, plots and reports (issues: analysis, DSE)."""
