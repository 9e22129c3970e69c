"""Per-domain LoRA adapters: dataset building, training, registry, runtime switching.

Not built yet (see the adapters issue); the package exists so the layout is fixed.
"""
