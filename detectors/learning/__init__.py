"""Online learning: anomaly scores, analysts' verdicts, merchant drift and edge bursts (pure).

`Learner` is the one object a runtime drives, after the decide half of the pipeline, for every
order in sequence; `LearningConfig` its settings. See `detectors/learning/learner.py`.
"""

from detectors.learning.config import LearningConfig
from detectors.learning.learner import DETECTORS, Learner, Scores

__all__ = ["DETECTORS", "Learner", "LearningConfig", "Scores"]
