"""The Redis cache backend, with one client object per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call, and building one
copies redis-py's table of some two hundred response callbacks: about a tenth of a
millisecond, on every request (the session is read from the cache). A `redis.Redis` is
only a thread-safe wrapper around its connection pool, so one per pool serves every call;
the pool itself still handles forked processes (gunicorn and Celery workers).
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
