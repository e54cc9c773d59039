"""Authorization under load: forbidden requests beside the SLO load, and the gate they answer to."""
