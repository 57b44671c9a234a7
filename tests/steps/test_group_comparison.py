"""Step ``group_comparison``: what its figures say (the science is in tests/test_comparison.py)."""

from netregions.steps.group_comparison import edge_figure_title


def test_edge_title_states_the_inclusive_fdr_level_and_the_contrast():
    # significant is q <= alpha (comparison.fdr_reject); the title must not say "q <".
    title = edge_figure_title("tangent", ["adult", "child"], 0.05)
    assert title == "tangent: edges that differ (child - adult, FDR q ≤ 0.05)"
    assert "q <" not in edge_figure_title("correlation", ["a", "b"], 0.1)
