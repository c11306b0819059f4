"""Channel adapters: turn a platform's webhook request into an `Incoming` and replies back into
the platform's answer. WeChat Official Account now; WeCom joins with [Staff]."""
