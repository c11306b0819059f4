"""Every Lua script the features run, one module per feature, so the Redis side of the product
lives in one room: bot/stores. (The turn's own scripts are in bot/stores/redis.py, the lease's in
bot/stores/lease.py.) Each feature registers the scripts it runs with redis-py, which reloads a
script the server lost (NOSCRIPT), and says beside the call what its answer means. A script's
comment gives its KEYS and ARGV; all its keys share a hash tag, so it runs on a cluster."""
