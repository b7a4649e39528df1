"""The search: agents propose candidates on the env; the runner logs, checkpoints and reports.

from coexplore.search import SearchConfig, run_search
result = run_search(SearchConfig(env="digits-fpga", agent="ppo", episodes=200, seed=0))
"""

from coexplore.search.agents import AGENTS, Agent, make_agent
from coexplore.search.runner import SearchConfig, SearchResult, run_search
from coexplore.search.tracking import WandbConfig

__all__ = [
    "AGENTS",
    "Agent",
    "SearchConfig",
    "SearchResult",
    "WandbConfig",
    "make_agent",
    "run_search",
]
