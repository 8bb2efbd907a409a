"""botocore's data loader, without its scan of every service it knows.

Before botocore loads a service's model (and again for its endpoint rules), it checks the service's
name against a listing of every service directory it can find: about 400 directories and a few thousand
``stat`` calls to confirm one name. This loader answers that check by looking for the one service asked
about; everything else is botocore's own. It saves about 30 ms of the first client (measured by hand on this
machine, the same client made with and without it in fresh processes; more on a slower disk); ``make bench``
does not measure it on its own. Imported only when a client is made (``kanal.adapters.aws``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from typing import Any

from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader


class ServiceNames:
    """What ``service_name in loader.list_available_services(type_name)`` needs, for one name at a time."""

    def __init__(self, loader: Loader, type_name: str) -> None:
        self.loader = loader
        self.type_name = type_name

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return bool(self.loader.list_api_versions(name, self.type_name))
        except DataNotFoundError:
            return False

    def __iter__(self) -> Iterator[str]:
        # The full listing, for botocore's "unknown service" message and for anyone who asks for it.
        return iter(Loader.list_available_services(self.loader, self.type_name))


class NamedServiceLoader(Loader):  # type: ignore[misc]  # botocore has no type hints
    """A botocore Loader whose service check looks only for the service asked about."""

    def list_available_services(self, type_name: str) -> Any:
        """The services with ``type_name`` data, checked one name at a time."""
        return ServiceNames(self, type_name)


def install(session: Any) -> None:
    """Make ``session`` load its data with NamedServiceLoader (honouring AWS_DATA_PATH, as botocore does)."""
    paths = session.get_config_variable("data_path")
    extra = tuple(os.path.expanduser(os.path.expandvars(p)) for p in paths.split(os.pathsep)) if paths else None
    session.register_component("data_loader", shared(extra))


@cache
def shared(extra: tuple[str, ...] | None) -> NamedServiceLoader:
    """One loader per search path for the process: a session made again (the local stack and tests make one
    after each change of environment) finds the service models it already parsed (the loader caches them, and
    botocore only reads them)."""
    return NamedServiceLoader(extra_search_paths=list(extra) if extra else None)
