"""The Redis cache backend (mva.cache): Django's, with one client per connection pool."""

import pytest
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
