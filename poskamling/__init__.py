"""poskamling."""
