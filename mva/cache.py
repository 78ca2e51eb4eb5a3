"""The Redis cache backend: Django's, with one client object per connection pool, and an
outage of Redis treated as an empty cache instead of an error.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call, and building one
copies redis-py's table of some two hundred response callbacks: about a tenth of a
millisecond, on every request (the session is read from the cache). A `redis.Redis` is
only a thread-safe wrapper around its connection pool, so one per pool serves every call;
the pool itself still handles forked processes (gunicorn and Celery workers).

The cache shares its Redis with the broker by default, and nothing in it is the only copy
of anything (sessions are written through to the database, everything else is derived), so
when Redis cannot be reached a read is a miss, a write is dropped and `add` reports that
it added nothing: pages keep working from the database. Django's own cached_db sessions,
for one, write to the cache unguarded after reading the database, which made every signed-in
request an error page during an outage. Deleting still raises: a session ended (signing
out) while Redis was cut off but not emptied would otherwise come back with it. Only
connection failures are absorbed; anything else (a bug, a value that cannot be pickled)
still raises.
"""

import logging
import time

from django.core.cache.backends import redis as django_redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# An outage would otherwise log once per cache call, several times per request.
WARNING_INTERVAL_SECONDS = 10.0


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
        self._last_warning = 0.0

    def _unreachable(self, error: Exception, fallback):
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            logger.warning("Cache unreachable (%s); serving without it.", error)
        return fallback

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as error:
            return self._unreachable(error, default)

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as error:
            return self._unreachable(error, {})

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as error:
            return self._unreachable(error, False)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except UNREACHABLE as error:
            self._unreachable(error, None)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as error:
            return self._unreachable(error, list(data))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # "Not added": a caller using `add` as a lock or a once-only marker must not take
        # an unreachable cache for one that agreed.
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as error:
            return self._unreachable(error, False)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as error:
            return self._unreachable(error, False)
