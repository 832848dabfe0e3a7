"""The campaign side: influencers and campaigns as the backend registers them, stores and influencers looked up, promo codes, browser reports, stats."""
