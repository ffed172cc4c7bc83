"""One style for every extension point: a decorator in the defining file, found without an import list.

A :class:`Registry` names one kind of thing (multiplier families, designs,
search algorithms, datasets, approximable module types, ...). The file that
defines a thing registers it::

    ALGORITHMS = Registry("Algorithm", package="axforge.search.algorithms")

    @ALGORITHMS.register("random")
    class RandomSearch: ...

``package`` is where the definitions live: on the first lookup the registry
imports every module of that package (``pkgutil``), so a new file there is
found without editing another file's import list, and nothing is imported
before it is needed (``axforge --help`` stays fast).
"""

import importlib
import pkgutil
from collections.abc import Mapping

from .errors import AxforgeError, bad_value

__all__ = ["Registry"]


class Registry(Mapping):
    """Name -> registered object, filled by :meth:`register` decorators.

    Parameters
    ----------
    kind : str
        What a name names, as error messages say it ("Algorithm", "Dataset").
    package : str or None
        Dotted package whose modules are imported (once) before the first lookup.
    """

    def __init__(self, kind, package=None):
        self._kind = kind
        self._package = package
        self._items = {}
        self._discovered = package is None

    @property
    def kind(self):
        return self._kind

    def register(self, name=None, obj=None):
        """Decorator (``@REG.register("name")``) or call (``REG.register("name", obj)``).

        Without ``name`` the object's ``name`` attribute is used. Registering a
        name twice is an error.
        """
        def add(o):
            key = name if name is not None else getattr(o, "name", None)
            if not isinstance(key, str) or not key:
                raise AxforgeError(f"{self._kind} registration needs a name, not {key!r}")
            if key in self._items and self._items[key] is not o:
                raise AxforgeError(f"{self._kind} {key!r} is registered twice")
            self._items[key] = o
            return o
        return add if obj is None else add(obj)

    def discover(self):
        """Import every module of ``package`` (its ``register`` calls run); idempotent."""
        if self._discovered:
            return
        self._discovered = True
        pkg = importlib.import_module(self._package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("__"):
                importlib.import_module(f"{self._package}.{info.name}")

    def get(self, name, default=None):
        self.discover()
        return self._items.get(name, default)

    def lookup(self, name, field=None):
        """The object registered as ``name``, or the one-line error naming the allowed names."""
        self.discover()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise bad_value(field or self._kind, name, "one of " + ", ".join(self)) from None

    def __getitem__(self, name):
        self.discover()
        return self._items[name]

    def __iter__(self):
        self.discover()
        return iter(self._items)

    def __len__(self):
        self.discover()
        return len(self._items)

    def __repr__(self):
        return f"Registry({self._kind!r}, package={self._package!r})"
