# Copyright 2026 ros2_ssvif contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
One registry for every part of training a config selects by name.

Why: frameworks were found by importing their package, backbones by
explicit calls in ``models/backbones/__init__.py``, weighting strategies
by a literal dict, and hand-written lists of the names (in
``training/config.py``, in comments) went stale. Now each part registers
itself where it is defined, with one decorator::

    @FRAMEWORKS.register('my_name')
    class MyFramework(Framework): ...

and every list of names (validation messages, ``--help`` text) is read
from here. A registry knows where its parts live (``locations``: packages
whose every module is imported, or modules) and imports them the first
time it is read, so a new part is one new file with nothing else to edit.

This module sits on training's ground floor: it imports no torch and no
part. :mod:`training.config` validates names through it, so the config
never imports the parts it names (no arrow up); a part's own checks run in
its builder (e.g. ``Framework.validate``).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Iterator, Mapping

from ros2_ssvif.errors import ConfigError


class UnknownName(ConfigError, KeyError):
    """A name no part is registered under; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


class Registry(Mapping):
    """
    Name -> registered object (a class or a spec), filled by the parts themselves.

    A read-only mapping (``in``, ``[]``, iteration in registration order);
    :meth:`names` is sorted, for messages and help text.
    """

    def __init__(self, kind: str, locations: tuple[str, ...] = ()):
        self.kind = kind
        self.locations = tuple(locations)
        self._entries: dict[str, Any] = {}
        self._discovered = not self.locations
        self._discovering = False

    # -- filling --------------------------------------------------------------------
    def register(self, name: str, obj: Any = None, *, replace: bool = False):
        """
        Register ``obj`` as ``name``; without ``obj``, a decorator.

        A second, different object under one name is an error unless
        ``replace``.
        """
        def add(o):
            old = self._entries.get(name)
            if old is not None and old is not o and not replace:
                raise ValueError(f'{self.kind} {name!r} is registered twice')
            self._entries[name] = o
            return o

        return add if obj is None else add(obj)

    def discover(self) -> None:
        """Import every location once (a package: each of its modules)."""
        if self._discovered or self._discovering:
            return
        self._discovering = True
        try:
            for location in self.locations:
                module = importlib.import_module(location)
                for info in pkgutil.iter_modules(getattr(module, '__path__', [])):
                    if not info.name.startswith('_'):
                        importlib.import_module(f'{location}.{info.name}')
            self._discovered = True
        finally:
            self._discovering = False

    # -- reading --------------------------------------------------------------------
    def names(self) -> list[str]:
        """Return every registered name, sorted."""
        self.discover()
        return sorted(self._entries)

    def registered(self) -> tuple[str, ...]:
        """Return the names registered so far, in order, without importing anything."""
        return tuple(self._entries)

    def lookup(self, name: str, key: str | None = None) -> Any:
        """
        Return the object registered as ``name``.

        Unknown: :class:`UnknownName` (a ConfigError and a KeyError) naming
        the config ``key`` when given, and the known names.
        """
        self.discover()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            known = ', '.join(sorted(self._entries))
            if key is not None:
                raise UnknownName(f'{key} must be one of {known}, got {name!r}') from None
            raise UnknownName(f'unknown {self.kind} {name!r}; known: {known}') from None

    def build(self, name: str, *args, key: str | None = None, **kwargs) -> Any:
        """
        Call the object registered as ``name`` with the arguments.

        A TypeError (an option it does not take) becomes a ConfigError
        naming ``key``.
        """
        factory: Callable = self.lookup(name, key)
        try:
            return factory(*args, **kwargs)
        except TypeError as exc:
            raise ConfigError(f'{key or self.kind} options: {exc}') from None

    def describe(self) -> str:
        """Return ``kind: name, name, ...`` (for ``--help`` text)."""
        return f"{self.kind}: {', '.join(self.names())}"

    def __getitem__(self, name: str) -> Any:
        return self.lookup(name)

    def __iter__(self) -> Iterator[str]:
        self.discover()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self.discover()
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._entries


#: ``framework:`` -- what is trained, with which losses, in which stages
FRAMEWORKS = Registry('framework', ('training.frameworks',))
#: ``weighting.name:`` -- how the task losses combine into L_total
WEIGHTINGS = Registry('weighting', ('training.weighting',))
#: ``model.backbone:`` -- the fusion network's feature extractor and its image decoder
BACKBONES = Registry('backbone', ('training.models.backbones', 'training.models.dense_residual'))
#: CAF's ``space.searched`` / ``space.fixed`` -- the terms of the searched fusion loss
LOSS_TERMS = Registry('loss term', ('training.caf.space',))
REGISTRIES: Mapping[str, Registry] = {
    'framework': FRAMEWORKS, 'weighting.name': WEIGHTINGS, 'model.backbone': BACKBONES,
    'space.searched (ssvif_search_loss)': LOSS_TERMS}


def help_text() -> str:
    """Return the registered names of every registry (``ssvif_train --help``)."""
    return '; '.join(f'{key}: {", ".join(r.names())}' for key, r in REGISTRIES.items())


__all__ = ['BACKBONES', 'FRAMEWORKS', 'LOSS_TERMS', 'REGISTRIES', 'Registry', 'UnknownName',
           'WEIGHTINGS', 'help_text']
