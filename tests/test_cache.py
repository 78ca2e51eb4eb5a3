"""The Redis cache backend (mva.cache): Django's, with one client per connection pool."""

import logging

import pytest
import redis
from django.core.cache import caches

from mva.cache import RedisCache

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_cache(settings):
    if not settings.CACHES["default"]["BACKEND"].endswith("mva.cache.RedisCache"):
        pytest.fail("the tests run against Redis (make test sets REDIS_URL)")
    return caches["default"]


def test_the_default_cache_is_ours_and_keeps_values(redis_cache):
    assert isinstance(redis_cache, RedisCache)
    redis_cache.set("greeting", {"text": "hej"}, 30)
    assert redis_cache.get("greeting") == {"text": "hej"}
    assert redis_cache.get_many(["greeting", "missing"]) == {"greeting": {"text": "hej"}}
    assert redis_cache.incr(redis_cache.add("counter", 1) and "counter") == 2
    redis_cache.delete("greeting")
    assert redis_cache.get("greeting", "gone") == "gone"


def test_every_call_shares_one_client_per_pool(redis_cache):
    client = redis_cache._cache.get_client("a")
    assert redis_cache._cache.get_client("b") is client
    assert redis_cache._cache.get_client("c", write=True) is client  # one server: one pool


@pytest.fixture
def unreachable_cache():
    # Nothing listens on port 1: every call is refused at once.
    return RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})


def test_an_unreachable_cache_reads_as_empty_and_drops_writes(unreachable_cache, caplog):
    with caplog.at_level(logging.WARNING, logger="mva.cache"):
        assert unreachable_cache.get("key") is None
        assert unreachable_cache.get("key", "fallback") == "fallback"
        assert unreachable_cache.get_many(["a", "b"]) == {}
        assert unreachable_cache.has_key("key") is False
        unreachable_cache.set("key", "value", 30)
        assert unreachable_cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
        assert unreachable_cache.touch("key") is False
        # `add` is a lock or a once-only marker to its callers: never "added" without Redis.
        assert unreachable_cache.add("key", "value") is False
    # One warning for the outage, not one per call.
    warnings = [r for r in caplog.records if r.name == "mva.cache"]
    assert len(warnings) == 1
    assert "Cache unreachable" in warnings[0].getMessage()


def test_deleting_from_an_unreachable_cache_still_raises(unreachable_cache):
    """A signed-out session must not come back with Redis: the failure is reported."""
    with pytest.raises(redis.exceptions.ConnectionError):
        unreachable_cache.delete("session")


def test_other_errors_are_not_absorbed(redis_cache):
    with pytest.raises(Exception, match="pickle"):
        redis_cache.set("unpicklable", lambda: None)
