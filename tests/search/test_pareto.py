"""Non-dominated masks and hypervolume (pymoo), in two and three dimensions, against hand-computed values."""

import numpy as np
import pytest

from axforge.search.pareto import hypervolume, pareto_mask


def test_pareto_mask_keeps_non_dominated_and_duplicated_rows():
    pts = [[1, 2], [1, 2], [2, 1], [2, 2], [0, 3], [3, 0.5], [3, 3]]
    assert pareto_mask(pts).tolist() == [True, True, True, False, True, True, False]
    pts3 = [[1, 2, 3], [2, 1, 2], [3, 3, 3], [1, 2, 2.5], [0, 9, 9]]
    assert pareto_mask(pts3).tolist() == [False, True, False, True, True]
    assert pareto_mask(np.zeros((0, 2))).tolist() == []


def test_hypervolume_3d_by_inclusion_exclusion():
    # A = (1, 2, 3) and B = (2, 1, 2) with reference (4, 4, 4): boxes 3*2*1 = 6 and 2*3*2 = 12,
    # their intersection (from (2, 2, 3)) 2*2*1 = 4: 6 + 12 - 4 = 14.
    ref = (4, 4, 4)
    assert hypervolume([[1, 2, 3], [2, 1, 2]], ref) == pytest.approx(14.0, abs=1e-12)
    # a dominated point adds nothing; a point outside the box adds nothing
    assert hypervolume([[1, 2, 3], [2, 1, 2], [3, 3, 3], [0.5, 5, 0.5]], ref) == pytest.approx(14.0, abs=1e-12)
    # C = (0, 3, 0) adds its box 4*1*4 = 16 less the overlap with A ((1, 3, 3): 3*1*1 = 3) and with B
    # ((2, 3, 2): 2*1*2 = 4) plus the triple overlap ((2, 3, 3): 2*1*1 = 2): 14 + 16 - 3 - 4 + 2 = 25
    assert hypervolume([[1, 2, 3], [2, 1, 2], [0, 3, 0]], ref) == pytest.approx(25.0, abs=1e-12)
    assert hypervolume(np.zeros((0, 3)), ref) == 0.0


def test_hypervolume_2d_staircase():
    # (0.2, 0.6), (0.5, 0.3), (0.8, 0.1) under (1, 1): 0.8*0.4 + 0.5*0.3 + 0.2*0.2 = 0.51
    assert hypervolume([[0.8, 0.1], [0.2, 0.6], [0.5, 0.3]], (1, 1)) == pytest.approx(0.51, abs=1e-12)
    assert hypervolume([[1.0, 0.5]], (1, 1)) == 0.0              # on the reference: nothing inside the box
