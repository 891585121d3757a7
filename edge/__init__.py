"""poskamling edge package."""
