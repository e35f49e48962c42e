"""The shared vocabulary: every name a user reads for a detector, risk, severity, action,
status, entity kind, decision or reason code, Chinese first and English beside it. Reports,
commands and the console all take their words from here, so a detector is called the same
thing on every page.

Keys are `family:value`. `word` gives the name in a language; an unknown key comes back as
its value (a new code is shown, never dropped); `reason` also reads `control:<id>` codes.

>>> word("detector:device_ring", "zh"), word("detector:device_ring", "en")
('同设备多人', 'shared device')
>>> word("reason:sku_not_registered", "zh"), reason("control:C-7", "zh")
('商品未备案', '管控指令 C-7')
>>> word("risk:unheard_of", "zh")
'unheard_of'
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# Every family a key may start with (a test checks that each holds the codes the code emits).
FAMILIES = (
    "detector",
    "risk",
    "severity",
    "action",
    "decision",
    "status",
    "entity",
    "reason",
    "kind",
    "state",
    "difference",
    "verdict",
    "label",
    "feature",
    "stream",
    "category",
    "event",
    "line",
    "programme",
)

_DETECTORS: dict[str, tuple[str, str]] = {
    # the deciding detectors (detectors/*.py)
    "consumer_eligibility": ("消费者资格不符", "ineligible consumer"),
    "product_eligibility": ("商品资格不符", "ineligible product"),
    "subsidy_amount": ("补贴金额超标", "subsidy above the rules"),
    "budget_exhausted": ("预算用尽后仍发放", "granted after the budget ran out"),
    "budget_threshold": ("预算使用达到阈值", "budget threshold reached"),
    "quota_breach": ("超限购", "quota breach"),
    "split_orders": ("拆单", "split orders"),
    "address_ring": ("同地址多人", "shared address"),
    "device_ring": ("同设备多人", "shared device"),
    "phone_ring": ("同手机多人", "shared phone"),
    "payment_ring": ("同支付账户多人", "shared payment account"),
    "pickup_pipeline": ("自提点囤货", "pickup-point pipeline"),
    "account_farm": ("批量新账户", "account farm"),
    "refund_arbitrage": ("退款套利", "refund arbitrage"),
    "refund_cycling": ("反复退购", "refund cycling"),
    "qualification_reuse": ("资格码冒用", "qualification code reused"),
    "qualification_shared": ("资格码转借", "qualification code shared"),
    "device_many_codes": ("一机多码", "one device, many codes"),
    "merchant_fake_orders": ("商户虚假交易", "merchant fake orders"),
    "price_inflation": ("先涨价后补贴", "price inflated before the subsidy"),
    # the online models (detectors/learning/)
    "anomaly": ("异常订单(模型)", "anomalous order (model)"),
    "classifier": ("疑似骗补(模型)", "likely fraud (model)"),
    "edge_burst": ("关联突增(模型)", "burst of links (model)"),
    "merchant_drift": ("商户指标漂移(模型)", "merchant drift (model)"),
    "long_ring": ("长期共用设备与账户(模型)", "one device and card for many, over weeks (model)"),
    "young_burst": (
        "新账户一小时内多品类下单(模型)",
        "new account, many categories in an hour (model)",
    ),
    # the detector families (Detector.name): the pattern groups the rules configure
    "compliance": ("合规检查", "compliance checks"),
    "identity_rings": ("身份团伙", "identity rings"),
    "budget": ("预算", "budget"),
    "qualification": ("资格码", "qualification codes"),
    "device_codes": ("设备资格码检查", "device codes"),
    "controls": ("管控指令", "controls"),
}

_RISKS = {
    "hoarding": ("囤货", "hoarding"),
    "arbitrage": ("套利", "arbitrage"),
    "fraud": ("骗补", "fraud"),
    "compliance": ("违规", "compliance"),
    "budget": ("预算", "budget"),
}

_SEVERITIES = {
    "low": ("低", "low"),
    "medium": ("中", "medium"),
    "high": ("高", "high"),
    "critical": ("严重", "critical"),
}

# what an alert asks for, and what a control record does (schemas/controls.py)
_ACTIONS = {
    "review": ("复核", "review"),
    "hold": ("冻结", "hold"),
    "block": ("拦截", "block"),
    "notify": ("通报", "notify"),
    "pause": ("暂停", "pause"),
    "allow": ("放行", "allow"),
    "lift": ("解除", "lift"),
}

_DECISIONS = {
    "approve": ("通过", "approved"),
    "review": ("待复核", "in review"),
    "reject": ("拒绝", "rejected"),
}

# an alert's state in the analysts' queue (console/queue.py)
_STATUSES = {
    "open": ("待处理", "open"),
    "confirmed": ("已确认", "confirmed"),
    "dismissed": ("已排除", "dismissed"),
    "escalated": ("已上报", "escalated"),
    # a bill line's, in reconcile (reports/reconcile.py); its CSV in English writes the codes
    "payable": ("应付", "payable"),
    "held": ("冻结待审", "held"),
    "forfeited": ("核减", "forfeited"),
    "over_claimed": ("超额申报", "over claimed"),
    "refunded_but_claimed": ("已退款仍申报", "refunded but claimed"),
    "unknown_order": ("未知订单", "unknown order"),
    "duplicate_claim": ("重复申报", "duplicate claim"),
    "under_claimed": ("少报", "under claimed"),
}

# an analyst's verdict on an alert (console/verdicts.py)
_VERDICTS = {
    "confirm": ("确认", "confirm"),
    "dismiss": ("排除", "dismiss"),
    "escalate": ("上报", "escalate"),
}

_LABELS = {
    "fraud": ("欺诈", "fraud"),
    "legit": ("正常", "legitimate"),
}

# what an alert or a control is about
_ENTITIES = {
    "consumer": ("消费者", "consumer"),
    "device": ("设备", "device"),
    "phone": ("手机号", "phone"),
    "payment_account": ("支付账户", "payment account"),
    "payment": ("支付账户", "payment account"),
    "address": ("收货地址", "delivery address"),
    "pickup_point": ("自提点", "pickup point"),
    "ip_prefix": ("IP 网段", "IP range"),
    "merchant": ("商户", "merchant"),
    "sku": ("商品", "SKU"),
    "qualification_code": ("资格码", "qualification code"),
    "qualification": ("资格码", "qualification code"),
    "programme": ("项目", "programme"),
    "budget_line": ("预算线", "budget line"),
    "order": ("订单", "order"),
}

# the reasons a decision names (besides the detectors that raised an alert)
_REASONS = {
    "unknown_programme": ("未知补贴项目", "unknown programme"),
    "outside_programme_period": ("不在项目期内", "outside the programme's period"),
    "qualification_missing": ("缺少资格码", "no qualification code"),
    "qualification_unverified": ("资格码未核验", "qualification code not verified"),
    "qualification_already_used": ("资格码已被使用", "qualification code already used"),
    "not_real_name_verified": ("未实名认证", "not real-name verified"),
    "invalid_id_checksum": ("身份证校验位错误", "ID number checksum invalid"),
    "under_age": ("未满年龄要求", "under the minimum age"),
    "delivery_outside_district": ("收货地不在本区", "delivery outside the district"),
    "category_not_eligible": ("品类不在补贴范围", "category not eligible"),
    "energy_grade_not_eligible": ("能效等级不符", "energy grade not eligible"),
    "energy_grade_mismatch": ("能效等级与备案不符", "energy grade differs from the catalog"),
    "unit_price_above_limit": ("单价超过上限", "unit price above the limit"),
    "sku_not_registered": ("商品未备案", "SKU not in the catalog"),
    "sku_category_mismatch": ("商品备案品类不符", "SKU registered for another category"),
    "sku_not_registered_for_programme": (
        "商品未在本项目备案",
        "SKU not registered for this programme",
    ),
    "sku_not_yet_registered": ("下单时商品尚未备案", "SKU not yet registered at the time"),
    "sku_withdrawn": ("商品已撤销备案", "SKU withdrawn"),
    "warehouse_not_registered": ("仓库未备案", "warehouse not registered"),
    "order_below_minimum": ("订单金额低于起补金额", "order below the minimum amount"),
    "subsidy_above_rules": ("申领补贴高于规则核定", "subsidy claimed above the rules"),
    "budget_line_paused": ("预算线已暂停", "budget line paused"),
    "checkout_differs": ("支付与下单核验不一致", "payment differs from the checkout"),
    "control": ("管控指令", "control"),
}

_KINDS = {
    "grant": ("发放", "grant"),
    "hold": ("冻结待审", "hold"),
    "reject": ("拒付", "rejection"),
    "clawback": ("退回", "claw-back"),
    "freeze": ("冻结", "freeze"),
    "release": ("解冻", "release"),
    "forfeit": ("核减", "forfeit"),
}

# an order's subsidy in the fund ledger (reports/fund.py)
_STATES = {
    "granted": ("已发放", "granted"),
    "held": ("冻结", "held"),
    "released": ("已解冻", "released"),
    "forfeited": ("核减", "forfeited"),
    "clawed_back": ("已退回", "clawed back"),
    "settled": ("新增可申报", "newly claimable"),
    "refund": ("部分退款", "partly refunded"),
}

_DIFFERENCES = {
    "over_claimed": ("超额申报", "over-claimed"),
    "unknown_order": ("未知订单", "unknown order"),
    "refunded_but_claimed": ("已退款仍申报", "refunded but claimed"),
    "duplicate_claim": ("重复申报", "claimed twice"),
    "under_claimed": ("少报", "under-claimed"),
}

# the online models' features (detectors/learning/features.py), named in anomaly evidence
_FEATURES = {
    "amount": ("订单金额", "order amount"),
    "subsidy_share": ("补贴占比", "subsidy share"),
    "lines": ("商品行数", "order lines"),
    "units": ("商品件数", "units"),
    "categories": ("品类数", "categories"),
    "hour": ("下单时刻", "hour of day"),
    "account_age": ("账户年龄", "account age"),
    "markup": ("高于备案价", "mark-up over the reference"),
    "consumer_2h": ("消费者近2小时下单", "consumer's orders, last 2 hours"),
    "consumer_1d": ("消费者近1日下单", "consumer's orders, last day"),
    "device_ids": ("同设备身份数", "identities on the device"),
    "payment_ids": ("同支付账户身份数", "identities on the payment account"),
    "address_ids": ("同地址身份数", "identities at the address"),
    "phone_ids": ("同手机身份数", "identities behind the phone"),
    "merchant_refund_rate": ("商户退款率", "merchant's refund rate"),
    "merchant_subsidy_share": ("商户补贴占比", "merchant's subsidy share"),
    "edge_burst": ("关联突增", "burst of links"),
    "device_recent": ("设备近期关联身份", "identities on the device lately"),
    "payment_recent": ("支付账户近期关联身份", "identities on the payment account lately"),
    "address_recent": ("地址近期关联身份", "identities at the address lately"),
    "phone_recent": ("手机近期关联身份", "identities behind the phone lately"),
    "units_vs_category": ("件数相对品类常值", "units against the category's usual"),
    "amount_vs_category": ("金额相对品类常值", "amount against the category's usual"),
    "amount_vs_merchant": ("金额相对商户常值", "amount against the merchant's usual"),
    "merchant_hour": ("商户该时段少见程度", "how rare the hour is for the merchant"),
    "merchant_markup": ("商户平均加价", "merchant's mean mark-up"),
    "device_ids_long": ("设备六周内身份数", "identities on the device over six weeks"),
    "payment_ids_long": ("支付账户六周内身份数", "identities on the payment account, six weeks"),
    "consumer_7d": ("消费者近7日下单", "consumer's orders, last 7 days"),
    "velocity": ("下单速度", "order velocity"),
    "near_minimum": ("接近起补金额", "near the minimum amount"),
    "over_claim": ("申领超标", "claim above the rules"),
    "held": ("被冻结", "held"),
    "new_account": ("新账户", "new account"),
    "night": ("夜间下单", "ordered at night"),
    "pickup": ("自提点收货", "pickup point"),
    "resale": ("高转售商品", "resale goods"),
    "resale_address": ("地址的高转售商品", "resale goods at the address"),
    "resale_shared": ("共用属性的高转售商品", "resale goods on shared attributes"),
}

# what the drift detector follows per merchant (detectors/learning/drift.py)
_STREAMS = {
    "refund_rate": ("退款率", "refund rate"),
    "subsidy_share": ("补贴占比", "subsidy share"),
}

# the catalog's categories (the rules' `categories`)
_CATEGORIES = {
    "refrigerator": ("冰箱", "refrigerator"),
    "washing_machine": ("洗衣机", "washing machine"),
    "air_conditioner": ("空调", "air conditioner"),
    "television": ("电视机", "television"),
    "water_heater": ("热水器", "water heater"),
    "range_hood": ("油烟机", "range hood"),
    "dishwasher": ("洗碗机", "dishwasher"),
    "microwave": ("微波炉", "microwave"),
    "computer": ("电脑", "computer"),
    "mobile_phone": ("手机", "mobile phone"),
    "tablet": ("平板电脑", "tablet"),
    "smartwatch": ("智能手表", "smartwatch"),
    "smart_glasses": ("智能眼镜", "smart glasses"),
    "local_specialty": ("本地特色产品", "local specialty"),
    "*": ("不限品类", "any category"),
}

# the order events of the contract (schemas/orders.py), as a replay counts them
_EVENTS = {
    "order_paid": ("支付", "paid"),
    "order_cancelled": ("取消", "cancelled"),
    "order_refunded": ("退款", "refunded"),
    "order_delivered": ("签收", "delivered"),
    "order_checkout": ("下单核验", "checkout"),
}

# the shipped rules' programmes and budget lines (a rules file's own titles take precedence
# where the rules are at hand: reports.labels.Names)
_PROGRAMMES = {
    "featured_goods": ("特色优品补贴", "featured goods"),
    "logistics_warehouse": ("电商物流仓让利补贴", "logistics warehouse"),
}
_LINES = {
    "appliances": ("家电", "appliances"),
    "digital": ("数码", "digital devices"),
    "local_specialty": ("本地特色产品", "local specialties"),
    "warehouse_orders": ("物流仓订单", "warehouse orders"),
}

_TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "detector": _DETECTORS,
    "risk": _RISKS,
    "severity": _SEVERITIES,
    "action": _ACTIONS,
    "decision": _DECISIONS,
    "status": _STATUSES,
    "entity": _ENTITIES,
    "reason": _REASONS,
    "kind": _KINDS,
    "state": _STATES,
    "difference": _DIFFERENCES,
    "verdict": _VERDICTS,
    "label": _LABELS,
    "feature": _FEATURES,
    "stream": _STREAMS,
    "category": _CATEGORIES,
    "event": _EVENTS,
    "line": _LINES,
    "programme": _PROGRAMMES,
}


def pair(key: str) -> tuple[str, str] | None:
    """The (Chinese, English) words of `family:value`, or None if the vocabulary lacks it."""
    family, _, value = key.partition(":")
    return _TABLES.get(family, {}).get(value)


def word(key: str, lang: Lang) -> str:
    """The name of `family:value` in `lang`; an unknown key is shown as its value."""
    found = pair(key)
    if found is None:
        return key.partition(":")[2] or key
    return found[0 if lang == "zh" else 1]


def name(family: str, value: str, lang: Lang) -> str:
    """`word(f"{family}:{value}", lang)`, for callers that hold the family apart."""
    return word(f"{family}:{value}", lang)


def reason(code: str, lang: Lang) -> str:
    """A decision's reason code: a rule's code, a detector's name, or `control:<id>`.

    >>> reason("device_ring", "en"), reason("control:C-1", "en"), reason("under_age", "zh")
    ('shared device', 'control C-1', '未满年龄要求')
    """
    head, _, control_id = code.partition(":")
    if head == "control" and control_id:
        return f"{word('reason:control', lang)} {control_id}"
    if pair(f"reason:{code}") is not None:
        return word(f"reason:{code}", lang)
    return word(f"detector:{code}", lang)


def known(family: str) -> frozenset[str]:
    """The values a family names (for tests and for the console's filters)."""
    return frozenset(_TABLES[family])
