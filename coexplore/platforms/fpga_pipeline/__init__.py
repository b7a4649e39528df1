"""The ``fpga-pipeline`` platform family: a pipeline of FPGAs, each running a tiled engine.

The cost model (``engine``, its scalar twin ``engine_reference``, ``pipeline``), the part
catalogue (``parts``, ``parts/*.yaml``), precisions, the design tuners (``tuning``) and the
fast phase (``fast_phase``); ``family`` joins them behind the generic platform interface.
"""
