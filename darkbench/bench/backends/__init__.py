"""The benchmark backends, one module each (base.py: what a backend declares and does; registry.py: how they are
found, and registry.prepare for other code that wants a backend's outputs for a model)."""
