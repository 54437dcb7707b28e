"""The one import list of every component module, so that every registration exists.

Adding a component: write its module with ``@register(kind, name)``, add the import here, add a
gin file under ``gin/``. The contract tests then pick it up from the registry.
"""

from hieros_lab.behavior import actor_grad, policies  # noqa: F401
from hieros_lab.envs import atari, control, crafter_env, dmc, fake, minatar_env, pinpad  # noqa: F401
from hieros_lab.replay import etbs, time_balanced, uniform  # noqa: F401
from hieros_lab.rewards import mixers, sources  # noqa: F401
from hieros_lab.sequence import mamba, rssm, s5, transformer  # noqa: F401
from hieros_lab.tracking import base, mlflow_tracker  # noqa: F401
from hieros_lab.world_model import entropy  # noqa: F401
