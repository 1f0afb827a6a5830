"""city: a city name from a pool of about 1,400 (several locales)."""

from ..base import PoolTransformer
from ..registry import register


@register
class City(PoolTransformer):
    name = "city"
    description = "A city name from a pool of about 1,400 (several locales)."
    pool_name = "cities"
    chance_rate = 0.05
