"""Clearing the IPython shell between two notebooks of a batch worker, cheaply.

The batch runs notebook after notebook in one long-lived shell
(:mod:`p2c_research.runner.inprocess`), so no variable may leak from one
report into the next while imported modules and the in-process data caches
stay warm.

``%reset -f`` is thorough but runs full garbage collections over everything
the shell has imported (pandas, geopandas, statsmodels and the data caches):
about 0.6 s per notebook, a tenth of a report's run time. Here the user
namespace, the output cache and the figures are cleared directly; then one
full collection runs and its survivors (modules and the per-process memos,
which live for the whole process) are frozen with :func:`gc.freeze` after every
notebook, so later collections, the automatic ones during a notebook included,
only walk objects made since. Freezing once, after the second notebook, left
the memos filled later in the walk: garbage collection was still about a tenth
of a report's run time (measured with ``gc.callbacks`` over six countries:
5.3 s of collections with one freeze, 2.1 s with a freeze per notebook).
"""

from __future__ import annotations

import gc

_state = {"resets": 0}

#: Every this many notebooks (twelve countries) the frozen objects are unfrozen
#: for one collection. A frozen object is never collected, so cyclic garbage
#: among them would otherwise stay for the process's life (a memo's evicted
#: entry, such as a figure base pushed out of its cache). One such collection
#: of a worker's whole heap took 0.53-0.64 s. Every 12 notebooks,
#: that was about 0.15 s per country; every 36, two processes side by side over
#: the same 36 countries used 5.15 against 5.42 s of CPU per country, with
#: peaks of 708 against 723 MiB.
FULL_COLLECTION_EVERY = 36


def reset_user_namespace() -> list[str]:
    """Remove every user variable (underscore names too), cached output (the output
    history included) and open figure; returns the names removed.

    The figures the last report used go back to the figure pool
    (:mod:`p2c_research.render.reuse`) for the next one.
    """
    from IPython import get_ipython

    shell = get_ipython()
    removed: list[str] = []
    if shell is not None:
        ns, hidden = shell.user_ns, shell.user_ns_hidden
        # Dunder names (__name__, __spec__, __builtins__) describe the module the
        # namespace is; multiprocessing reads them. Every other name goes.
        removed = [k for k in list(ns)
                   if k not in hidden and not (k.startswith("__") and k.endswith("__"))]
        for k in removed:
            del ns[k]
        # Displayed values stay referenced by Out/_/__/___ (IPython's output cache).
        for k in ("_", "__", "___"):
            ns[k] = ""
        out = ns.get("_oh")
        if isinstance(out, dict):
            for n in list(out):
                ns.pop(f"_{n}", None)
            out.clear()
        # IPython 9 also keeps the display data of every output (pages of HTML and
        # base64 images) in its history; over a long batch that held hundreds of MiB.
        # The input history stays: it is the shell's, not a notebook's.
        shell.history_manager.reset(new_session=False)
    import matplotlib.pyplot as plt

    from p2c_research.render import reuse

    plt.close("all")
    reuse.release_all()  # nothing holds the last report's figures any more: pool them
    _state["resets"] += 1
    if _state["resets"] % FULL_COLLECTION_EVERY == 0:
        gc.unfreeze()  # frozen objects that became garbage since are reclaimed too
    gc.collect()
    gc.freeze()
    return removed
