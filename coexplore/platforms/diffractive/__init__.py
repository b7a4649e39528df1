"""The ``diffractive`` platform family: the layout of a (multi-task) diffractive optical
network as hardware tokens, priced in physical layers, SLMs and detectors."""
