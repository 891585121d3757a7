"""poskamling.commands."""
