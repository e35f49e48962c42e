"""A simulated 18 days with the unnamed patterns and analysts' labels, replayed once with the
learning stage, for the tests that need figures."""

from __future__ import annotations

import pytest
from simulated import Learnt, simulate_and_learn


@pytest.fixture(scope="session")
def learnt(tmp_path_factory: pytest.TempPathFactory) -> Learnt:
    return simulate_and_learn(
        tmp_path_factory.mktemp("learning-sim"), tmp_path_factory.mktemp("learning-out")
    )
