"""Release candidates: tag parsing, version order, and what git says about them."""
