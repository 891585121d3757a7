"""poskamling hub package."""
