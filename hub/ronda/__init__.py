"""Ronda malam: the residents' night-watch roster per post, check-ins and the presence rules."""
