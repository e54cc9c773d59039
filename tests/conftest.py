from pathlib import Path

_PLUGINS = Path(__file__).parent / "plugins"

pytest_plugins = ["tests.plugins.stack", "tests.plugins.postgres"] + (["tests.plugins.target"] if (_PLUGINS / "target.py").exists() else [])
