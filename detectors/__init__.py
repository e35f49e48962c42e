"""Pure detectors: an event and a store in, findings out. No Kafka, no clock, no I/O."""

from detectors.arbitrage import RefundArbitrage, RefundCycling
from detectors.base import Detector
from detectors.budget import Budget
from detectors.compliance import Compliance, PriceInflation
from detectors.controls import Controls
from detectors.farms import AccountFarms
from detectors.merchants import MerchantBursts
from detectors.qualification import DeviceCodes, Qualification
from detectors.quotas import Quotas
from detectors.rings import IdentityRings
from detectors.splits import SplitOrders
from detectors.store import MemoryStore, Store
from detectors.watch import Watch, Watchers

__all__ = [
    "AccountFarms",
    "Budget",
    "Compliance",
    "Controls",
    "Detector",
    "DeviceCodes",
    "IdentityRings",
    "MemoryStore",
    "MerchantBursts",
    "PriceInflation",
    "Qualification",
    "Quotas",
    "RefundArbitrage",
    "RefundCycling",
    "SplitOrders",
    "Store",
    "Watch",
    "Watchers",
]
