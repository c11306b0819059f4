"""Clients for outside systems (the 一网通办 platform, WeChat, WeCom), their wire models and
their simulators. Imports nothing of ours."""
