"""last_name: a last name from a pool of about 1,900 (several locales)."""

from ..base import PoolTransformer
from ..registry import register


@register
class LastName(PoolTransformer):
    name = "last_name"
    description = "A last name from a pool of about 1,900 (several locales)."
    pool_name = "last_names"
    chance_rate = 0.01
    person_name = True
