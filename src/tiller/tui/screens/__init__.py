"""Screens: the main screen coordinates; modal screens ask and answer."""
