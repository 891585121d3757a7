"""poskamling kamling package."""
