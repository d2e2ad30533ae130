"""A tiny registry of named backend factories, one per stage (voice, align, avatar).

Backends register themselves when their module is imported; ``get`` imports the
built-in modules on first use, so heavy libraries load only when a backend is used.
Tests register fakes through the same ``register``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, error: type[Exception], builtin: tuple[str, ...]):
        self.kind = kind                  # "voice backend", "aligner", ...: used in messages
        self.error = error
        self.builtin = builtin
        self.factories: dict[str, Callable[..., T]] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Register a backend factory under ``name``."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            self.factories[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        self._load_builtin()
        return sorted(self.factories)

    def get(self, name: str, **config: Any) -> T:
        """A configured backend by name; an unknown name lists the known ones."""
        self._load_builtin()
        try:
            factory = self.factories[name]
        except KeyError:
            raise self.error(f"{self.kind} {name!r} is unknown; choose one of {', '.join(sorted(self.factories))}") from None
        return factory(**config)

    def _load_builtin(self) -> None:
        if self._loaded:
            return
        for module in self.builtin:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as error:
                if error.name != module:   # the module exists but a library it needs is missing: a real error
                    raise
        self._loaded = True
