"""Where the warm workers run, chosen once per process: local processes, or Ray actors when
``CNNLAB_RAY_ADDRESS`` is set. The process's entry (the app, the command line, the supervisor) calls
:func:`install`; the registry's machinery then asks :func:`lab.capacity.placement`, never a module by name.
"""

from __future__ import annotations

from lab import capacity, ray_pool, settings, supervision


def chosen():
    """The placement the settings ask for."""
    return ray_pool.RayPlacement() if settings.get("CNNLAB_RAY_ADDRESS") else supervision.LOCAL


def install():
    """Hand the chosen placement to this process (again after the settings change, as in the tests)."""
    placement = chosen()
    capacity.use(placement)
    return placement
