"""Famous-teacher studios: profiles, membership, the studio channel, the resource library."""
