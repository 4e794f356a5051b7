"""The demo world, taken from the report's Baoding case: org tree, departments, service items and
staff. The demo loads it from the sample import files made from these lists (helpdesk/admin/samples/,
kept equal by tests/helpdesk/test_demo.py); holidays come from the holiday packages.

Unit codes are the national administrative division codes for province, city and districts; the
township and village codes are illustrative.
"""

from __future__ import annotations

from typing import NamedTuple

from helpdesk.org.models import UnitLevel

DEMO_PASSWORD = "demo1234"  # noqa: S105 - dev-only demo logins, refused outside dev mode
DEMO_ITEM = "SCJG-001"  # the item the start-up banner links to


class Unit(NamedTuple):
    code: str
    name: str
    name_en: str
    level: UnitLevel
    parent: str | None


PROVINCE, CITY, LIANCHI, DINGXING, WUYAO, VILLAGE = (
    "130000", "130600", "130606", "130626", "130606201", "130606201001")

UNITS: list[Unit] = [
    Unit(PROVINCE, "河北省", "Hebei Province", UnitLevel.province, None),
    # The city's service centre is the administrative approval bureau itself.
    Unit(CITY, "保定市行政审批局", "Baoding Administrative Approval Bureau", UnitLevel.city, PROVINCE),
    Unit(LIANCHI, "莲池区", "Lianchi District", UnitLevel.county, CITY),
    Unit("130602", "竞秀区", "Jingxiu District", UnitLevel.county, CITY),
    Unit("130607", "满城区", "Mancheng District", UnitLevel.county, CITY),
    Unit("130608", "清苑区", "Qingyuan District", UnitLevel.county, CITY),
    Unit("130609", "徐水区", "Xushui District", UnitLevel.county, CITY),
    Unit(DINGXING, "定兴县", "Dingxing County", UnitLevel.county, CITY),
    Unit("130681", "涿州市", "Zhuozhou", UnitLevel.county, CITY),
    Unit("130684", "高碑店市", "Gaobeidian", UnitLevel.county, CITY),
    Unit(WUYAO, "五尧乡", "Wuyao Township", UnitLevel.township, LIANCHI),
    Unit(VILLAGE, "五尧村便民服务站", "Wuyao Village Service Point", UnitLevel.village, WUYAO),
]
COUNTIES = [u.code for u in UNITS if u.level is UnitLevel.county]

DEPARTMENTS: list[tuple[str, str, str]] = [
    ("SCJG", "市场监管", "Market Regulation"),
    ("YPJG", "药品监管", "Drug Administration"),
    ("WSJK", "卫生健康", "Health"),
    ("RSBZ", "人力资源和社会保障", "Human Resources and Social Security"),
    ("ZJ", "住房和城乡建设", "Housing and Urban-Rural Development"),
    ("CSGL", "城市管理", "Urban Management"),
    ("JTYS", "交通运输", "Transport"),
    ("MZ", "民政", "Civil Affairs"),
    ("JY", "教育", "Education"),
    ("WHLY", "文化旅游", "Culture and Tourism"),
]


class Item(NamedTuple):
    code: str
    name: str
    name_en: str
    time_limit_days: int
    remote_inspection: bool = False
    scope: str = "city+county"  # city | city+county | +township | +village


I = Item  # noqa: E741 - keeps the table below readable
ITEMS: list[Item] = [
    I("SCJG-001", "企业设立登记", "Company registration", 1),
    I("SCJG-002", "企业变更登记（营业执照变更）", "Company change registration (business licence)", 1),
    I("SCJG-003", "企业注销登记", "Company deregistration", 1),
    I("SCJG-004", "名称自主申报", "Company name self-declaration", 1, scope="+township"),
    I("SCJG-005", "个体工商户登记", "Sole proprietor registration", 1, scope="+village"),
    I("SCJG-006", "食品经营许可（小餐饮）", "Food business licence (small eatery)", 10, True),
    I("SCJG-007", "食品经营许可（食品销售）", "Food business licence (food retail)", 10, True),
    I("SCJG-008", "食品生产许可", "Food production licence", 20, True, "city"),
    I("SCJG-009", "农民专业合作社设立登记", "Farmers' cooperative registration", 3),
    I("YPJG-001", "药品经营许可（零售药店）", "Drug business licence (retail pharmacy)", 15, True),
    I("YPJG-002", "药品经营许可证变更", "Drug business licence change", 10, True),
    I("YPJG-003", "第二类医疗器械经营备案", "Class II medical device business filing", 5, True),
    I("YPJG-004", "第三类医疗器械经营许可", "Class III medical device business licence", 20, True, "city"),
    I("WSJK-001", "公共场所卫生许可", "Public place hygiene permit", 10, True),
    I("WSJK-002", "医疗机构执业登记", "Medical institution practice registration", 20, True),
    I("WSJK-003", "生活饮用水供水单位卫生许可", "Drinking water supplier hygiene permit", 15, True),
    I("WSJK-004", "放射诊疗许可", "Radiological diagnosis and treatment permit", 20, True, "city"),
    I("RSBZ-001", "劳务派遣经营许可", "Labour dispatch business permit", 10, True),
    I("RSBZ-002", "人力资源服务许可", "Human resources service permit", 10, True),
    I("RSBZ-003", "灵活就业人员参保登记", "Social insurance for flexible workers", 1, scope="+township"),
    I("ZJ-001", "建筑工程施工许可", "Construction works permit", 7),
    I("ZJ-002", "商品房预售许可", "Commercial housing pre-sale permit", 10),
    I("ZJ-003", "建设工程竣工验收备案", "Completion acceptance filing", 5),
    I("CSGL-001", "城镇污水排入排水管网许可", "Urban sewage discharge permit", 15, True),
    I("CSGL-002", "户外广告设施设置审批", "Outdoor advertising approval", 10),
    I("JTYS-001", "道路运输经营许可（道路普通货物运输）", "Road freight transport permit", 10),
    I("JTYS-002", "机动车维修经营备案", "Motor vehicle repair filing", 5),
    I("MZ-001", "社会团体成立登记", "Social organisation registration", 20),
    I("MZ-002", "养老机构备案", "Elderly care institution filing", 5, True),
    I("MZ-003", "最低生活保障申请", "Minimum living allowance application", 30, scope="+township"),
    I("JY-001", "民办学校办学许可", "Private school licence", 30),
    I("JY-002", "校外培训机构设立审批", "Off-campus training institution approval", 20),
    I("WHLY-001", "娱乐场所经营许可", "Entertainment venue licence", 20, True),
    I("WHLY-002", "旅行社设立许可", "Travel agency licence", 20, scope="city"),
    I("WHLY-003", "互联网上网服务营业场所经营许可", "Internet café licence", 20, True),
]
del I


def units_for(item: Item) -> list[str]:
    """City and counties for most items; a few simple ones also at the township (and village), so
    cross-level fallback (township → district → city) shows in the demo."""
    codes = [CITY] if item.scope == "city" else [CITY, *COUNTIES]
    if item.scope in ("+township", "+village"):
        codes.append(WUYAO)
    if item.scope == "+village":
        codes.append(VILLAGE)
    return codes


class Person(NamedTuple):
    username: str
    display_name: str
    role: str
    unit: str
    skills: tuple[str, ...] = ()  # department codes (every item of it) or item codes
    capacity: int = 1


STAFF: list[Person] = [
    Person("agent1", "张敏", "agent", CITY, ("SCJG", "YPJG"), 2),
    Person("agent2", "李静", "agent", CITY, ("WSJK", "RSBZ", "ZJ", "CSGL", "JTYS", "MZ", "JY", "WHLY")),
    Person("agent3", "王磊", "agent", LIANCHI, ("SCJG", "WSJK")),
    Person("agent4", "赵婷", "agent", LIANCHI, ("YPJG", "RSBZ", "ZJ-001")),
    Person("agent5", "刘洋", "agent", DINGXING, ("SCJG", "YPJG", "WSJK")),
    Person("agent6", "陈晨", "agent", WUYAO, ("SCJG-004", "SCJG-005", "RSBZ-003", "MZ-003")),
    Person("supervisor1", "周建国", "supervisor", CITY),
    Person("supervisor2", "吴秀兰", "supervisor", LIANCHI),
    Person("admin", "系统管理员", "admin", PROVINCE),
]


class Order(NamedTuple):
    """A finished sample work order, so history, figures and the accountability list are not empty."""

    number: str
    applicant: tuple[str, str, str]  # external id, name, phone
    item: str
    unit: str  # where the applicant asked
    agent: str | None
    status: str
    outcome: str | None
    day: int  # November 2026
    wait_s: float
    talk_s: float | None
    notes: str
    rating: int | None = None
    fallback_level: int = 0


ORDERS: list[Order] = [
    Order("VH20261123-DEMO01", ("demo-1", "赵先生", "13800000001"), "SCJG-001", LIANCHI, "agent3",
          "resolved", "resolved", 23, 42, 610,
          "智能审批提示企业名称与已登记企业重复；视频指导重新名称申报并补传承诺书，重新提交后审批通过。", 5),
    Order("VH20261124-DEMO02", ("demo-2", "钱女士", "13800000002"), "SCJG-006", CITY, "agent1",
          "resolved", "resolved", 24, 18, 1260,
          "远程视频勘验：后厨布局、洗消设施、防蝇防鼠设施逐项核查，一次通过。", 5),
    Order("VH20261125-DEMO03", ("demo-3", "孙先生", "13800000003"), "SCJG-005", WUYAO, "agent3",
          "resolved", "resolved", 25, 135, 480,
          "五尧乡坐席忙，转莲池区视频帮办专席；指导上传经营场所证明，当场提交。", 4, 1),
    Order("VH20261126-DEMO04", ("demo-4", "李经理", "13800000004"), "RSBZ-001", CITY, "agent2",
          "unresolved", "follow_up", 26, 60, 900,
          "注册资本实缴证明不全，需申请人补充验资报告后回访。"),
    Order("VH20261127-DEMO05", ("demo-5", "周女士", "13800000005"), "YPJG-002", DINGXING, None,
          "abandoned", None, 27, 95, None, ""),
]
