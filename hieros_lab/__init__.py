"""hieros_lab: a component registry for hierarchical world-model ablations.

Components (sequence models, replay samplers, environments, trackers, ...) are plain classes
registered with :func:`hieros_lab.registry.register`; gin files wire them into the shared trainer.
"""

__version__ = "0.1.0"
