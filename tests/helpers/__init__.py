"""What the tests share, in one place: fake servers, corpora, and builders of real parts.

- `fake_anthropic`: a Messages API on 127.0.0.1 (JSON, SSE, error statuses).
- `server`: a real uvicorn server of the app, its settings and keys.
- `adapters`: small real LoRA adapters and the settings they are trained under.
- `corpora`: the test corpus and a pipeline over it, indexed once per module.

Fixtures that use them live in `tests/conftest.py` (and per-folder `conftest.py` files);
this package is importable as `helpers` because `tests/` is on pytest's path.
"""
