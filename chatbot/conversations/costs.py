"""The cost model, one for the reports, the dashboard and the assistant's evaluation: a bot reply is
billed its share of batched engine time (``shared_engine_seconds``) at the store's hourly price,
and a dialogue costs the sum of its replies. Latency figures use one percentile rule as well."""

import math
from decimal import Decimal

SECONDS_PER_HOUR = 3600


def reply_cost(shared_engine_seconds: float | None, hourly_price: Decimal | float) -> float:
    """One reply's cost: its share of engine time at the store's hourly price."""
    return (shared_engine_seconds or 0.0) / SECONDS_PER_HOUR * float(hourly_price)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolating linearly between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
