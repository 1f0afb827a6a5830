"""first_name: a first name from a pool of about 1,600 (several locales)."""

from ..base import PoolTransformer
from ..registry import register


@register
class FirstName(PoolTransformer):
    name = "first_name"
    description = "A first name from a pool of about 1,600 (several locales)."
    pool_name = "first_names"
    chance_rate = 0.01
    person_name = True
