pytest_plugins = ["tests.plugins.stack", "tests.plugins.target", "tests.plugins.postgres"]
