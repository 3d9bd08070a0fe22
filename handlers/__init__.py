"""Channel adapters: they speak a channel's protocol and call bot.pipeline."""
