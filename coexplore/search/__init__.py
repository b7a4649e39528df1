"""The search: agents propose candidates on the env; the runner logs, checkpoints and reports.

from coexplore.search import SearchConfig, run_search
result = run_search(SearchConfig(env="digits-fpga", agent="ppo", episodes=200, seed=0))

Names load on first use (PEP 562), as in :mod:`coexplore.optics`: a light submodule (the agent
names that ``coexplore search --help`` lists) then imports without the runner and torch.
"""

from __future__ import annotations

from coexplore.lazy import lazy_exports

_WHERE = {
    "AGENTS": "agents",
    "Agent": "agents",
    "make_agent": "agents",
    "SearchConfig": "runner",
    "SearchResult": "runner",
    "run_search": "runner",
    "WandbConfig": "tracking",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)
