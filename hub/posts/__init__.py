"""hub.posts: which posts exist and their live state."""
