"""Authorization under load: requests the service must refuse, sent while it is loaded, counted per kind."""
