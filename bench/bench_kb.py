"""Knowledge-base search: Whoosh + jieba (the KB's own index and query path) against SQLite FTS5
with the trigram tokenizer, on the same 10,000 generated articles and the same queries.

Measures index build time, query p50/p95 wall and CPU (with snippets, as the console asks for them)
and relevance over 30 queries with a known right article (hit@1, hit@5). Baselines: FTS5 trigram and
FTS5 on jieba-segmented text (unicode61), same corpus, same run. Writes the "Knowledge base" section of
bench/RESULTS.md. Run: `.venv/bin/python bench/bench_kb.py` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpdesk_kb.analysis import init_jieba
from helpdesk_kb.index import IndexDoc, KbIndex
from kb_fts import Fts5
from results import write_section
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TIMED_PASSES = 3
console = Console()


# -- the corpus: 40 service items x 25 topics x 10 places, deterministic --------------------------------
# name | department | aliases people type | a material specific to the item | remote inspection
ITEM_TABLE = """
企业设立登记|市场监管局|开公司,注册公司,开办企业|公司章程和股东主体资格证明|
企业变更登记（营业执照变更）|市场监管局|换执照,法人变更,地址变更|股东会决议和章程修正案|
企业注销登记|市场监管局|公司注销,简易注销|清算报告和全体投资人承诺书|
名称自主申报|市场监管局|起名,字号,名称核准|企业名称使用承诺书|
个体工商户登记|市场监管局|个体户,开店执照|经营场所使用证明|
食品经营许可（小餐饮）|市场监管局|小饭店,餐饮许可证|经营场所平面图和从业人员健康证明|1
食品经营许可（食品销售）|市场监管局|超市,便利店许可证|食品安全管理制度|1
食品生产许可|市场监管局|食品厂,SC认证|生产工艺流程图和设备布局图|1
农民专业合作社设立登记|市场监管局|合作社注册|成员出资清单和成员名册|
药品经营许可（零售药店）|市场监督管理局药品科|开药店,药店许可证|执业药师注册证|1
药品经营许可证变更|市场监督管理局药品科|药店搬迁,药店负责人变更|变更后的平面布局图|1
第二类医疗器械经营备案|市场监督管理局药品科|二类器械备案|经营场所和库房地址证明|1
第三类医疗器械经营许可|市场监督管理局药品科|三类器械许可证|质量管理制度文件|1
公共场所卫生许可|卫生健康局|卫生许可证,美容美发,宾馆|卫生检测报告|1
医疗机构执业登记|卫生健康局|诊所执业,门诊部登记|医疗机构设置批准书|1
生活饮用水供水单位卫生许可|卫生健康局|供水许可|水质检测报告|1
放射诊疗许可|卫生健康局|放射许可|放射防护评价报告|1
劳务派遣经营许可|人力资源和社会保障局|劳务派遣许可证|验资报告或审计报告|1
人力资源服务许可|人力资源和社会保障局|职业中介,人才中介|专职工作人员名单|1
灵活就业人员参保登记|人力资源和社会保障局|个人交社保,灵活就业社保|居民身份证|
建筑工程施工许可|住房和城乡建设局|施工许可证,开工许可|施工合同和建设资金落实证明|
商品房预售许可|住房和城乡建设局|预售证|预售方案和工程进度证明|
建设工程竣工验收备案|住房和城乡建设局|竣工备案|竣工验收报告|
城镇污水排入排水管网许可|城市管理局|排水许可证,排污许可|排水管网图纸和预处理设施材料|1
户外广告设施设置审批|城市管理局|广告牌审批,门头招牌|设计效果图和安全检测报告|
道路运输经营许可（道路普通货物运输）|交通运输局|货运许可证,道路运输证|车辆行驶证和驾驶员从业资格证|
机动车维修经营备案|交通运输局|汽修备案,修车厂|维修设备清单|
社会团体成立登记|民政局|协会成立,商会登记|社会团体章程草案|
养老机构备案|民政局|养老院备案|消防安全和食品安全证明材料|1
最低生活保障申请|民政局|低保,低保申请|家庭收入和财产状况声明|
民办学校办学许可|教育局|民办学校|办学章程和教师资格证明|
校外培训机构设立审批|教育局|培训班审批|培训场所消防合格证明|
娱乐场所经营许可|文化广电和旅游局|KTV许可证,歌舞厅|场所平面图和消防验收材料|1
旅行社设立许可|文化广电和旅游局|开旅行社|质量保证金存款证明|
互联网上网服务营业场所经营许可|文化广电和旅游局|网吧,网咖|计算机数量和网络安全技术措施|1
烟草专卖零售许可|烟草专卖局|卖烟许可证,烟草证|经营场所产权证明|1
不动产登记（二手房转移登记）|自然资源和规划局|过户,二手房过户|房屋买卖合同和完税证明|
出版物零售经营许可|文化广电和旅游局|书店许可证|经营场所使用证明|
特种设备使用登记|市场监管局|电梯登记,锅炉登记|特种设备安装监督检验报告|1
残疾人两项补贴申请|民政局|残疾补贴,护理补贴|残疾人证|
"""
ITEMS = [
    (n, d, a.split(","), m, bool(r)) for n, d, a, m, r in (ln.split("|") for ln in ITEM_TABLE.strip().splitlines())
]
TOPICS = """
    办事指南 申请材料清单 办理流程 常见问题 收费标准 办理时限 退件常见原因 远程勘验要点
    网上办理操作说明 延续办理 变更办理 注销办理 补证办理 窗口地址和办公时间 告知承诺制说明
    容缺受理说明 帮办话术 填写样例说明 政策依据 特殊情形处理 跨区域通办 视频帮办指引
    证照下载 进度查询 投诉与咨询渠道
""".split()  # noqa: SIM905
PLACES = """
    保定市 竞秀区 莲池区 满城区 清苑区 徐水区 涿州市 定州市 安国市 高碑店市
""".split()  # noqa: SIM905
TOPIC_TEXT = {
    "办事指南": "本指南说明{item}的适用范围、申请条件、申请材料、办理流程、办理时限和收费标准。",
    "申请材料清单": "申请{item}需要提交申请书、{material}以及申请人身份证明，材料应当真实、完整、清晰。",
    "办理流程": "{item}的办理流程为：网上申请、受理、审查、决定、送达，全程可在冀时办APP查看进度。",
    "常见问题": "整理了申请人咨询{item}时最常问到的问题及答复，帮办人员可直接引用。",
    "收费标准": "办理{item}不收取任何费用，第三方检测、评估费用按市场价格由申请人自行承担。",
    "办理时限": "{item}法定办结时限为{legal}个工作日，承诺时限为{promise}个工作日，补正材料时间不计入。",
    "退件常见原因": "{item}被退回的常见原因包括材料不全、签字缺失、{material}不符合要求，处理后可重新提交。",
    "远程勘验要点": "{item}的现场核查可通过视频帮办远程勘验完成，申请人按审查要点切换后置摄像头逐项展示。",
    "网上办理操作说明": "登录河北政务服务网或冀时办APP，搜索{item}，按页面提示填写信息并上传{material}。",
    "延续办理": "{item}有效期届满需要继续经营的，应当在有效期届满前30日提出延续申请。",
    "变更办理": "{item}的登记事项发生变化的，应当自变化之日起30日内申请变更。",
    "注销办理": "不再从事相关经营活动的，应当申请注销{item}，交回原证件。",
    "补证办理": "{item}证件遗失或者损毁的，可以申请补发，电子证照可随时下载。",
    "窗口地址和办公时间": "{place}政务服务中心{dept}窗口办理{item}，工作日9:00-12:00、13:30-17:30。",
    "告知承诺制说明": "{item}实行告知承诺制，申请人书面承诺符合条件的，审批部门当场作出决定，事后核查。",
    "容缺受理说明": "{item}的非核心材料缺失时可以容缺受理，申请人承诺在规定期限内补齐。",
    "帮办话术": "视频帮办时先确认申请人要办理的是{item}，询问卡在哪一步，再共享屏幕指导操作。",
    "填写样例说明": "{item}申请书的填写样例已上传为附件，帮办人员可在通话中一键发送给申请人。",
    "政策依据": "{item}的设定依据包括相关法律、行政法规和省级政府规章，具体条款见下文。",
    "特殊情形处理": "{item}遇到申请人无法到场、材料外文、跨省迁入等特殊情形的处理办法。",
    "跨区域通办": "{item}支持跨区域通办，申请人可以就近在任一政务服务中心提交申请。",
    "视频帮办指引": "申请人在办理{item}过程中遇到困难，可以点击视频帮办，与帮办人员一对一视频。",
    "证照下载": "{item}办结后，电子证照同步推送至冀时办APP“我的证照”，可下载打印。",
    "进度查询": "提交{item}申请后，可在冀时办APP“我的办件”中查询审批进度和审批意见。",
    "投诉与咨询渠道": "对{item}办理有疑问或意见的，可拨打12345政务服务便民热线或在线留言。",
}
FILLER = [
    "申请人应当对所提交材料的真实性负责。",
    "材料齐全、符合法定形式的，当场受理。",
    "需要补正材料的，一次性告知需要补正的全部内容。",
    "办理结果可选择邮寄送达或者窗口领取。",
    "申请人可以委托他人办理，受托人须提交授权委托书和身份证件。",
    "涉及现场核查的，核查时间不计入办理时限。",
    "纸质材料使用A4纸，复印件须注明与原件一致并签字。",
    "电子签名与手写签名具有同等法律效力。",
    "法定节假日不受理现场业务，网上申请不受影响。",
    "审批部门将通过短信告知办理结果。",
    "老年人等特殊群体可以预约上门帮办代办服务。",
    "上传照片时请保持光线充足，避免反光和遮挡。",
]
# query as typed | the right article: service item | topic | place (empty: any of the ten)
RELEVANCE_TABLE = """
营业执照怎么变更|企业变更登记（营业执照变更）|办事指南|
开公司要什么材料|企业设立登记|申请材料清单|
公司注销流程|企业注销登记|办理流程|
食品经营许可证小餐饮怎么办|食品经营许可（小餐饮）|办事指南|
小餐饮许可证要多久|食品经营许可（小餐饮）|办理时限|
药品经营许可证变更需要什么材料|药品经营许可证变更|申请材料清单|
公共场所卫生许可证收费吗|公共场所卫生许可|收费标准|
劳务派遣许可证延续|劳务派遣经营许可|延续办理|
排水许可证远程勘验|城镇污水排入排水管网许可|远程勘验要点|
个体户营业执照怎么办|个体工商户登记|办事指南|
名称自主申报被退回|名称自主申报|退件常见原因|
施工许可证网上怎么申请|建筑工程施工许可|网上办理操作说明|
商品房预售许可证办理时限|商品房预售许可|办理时限|
户外广告审批流程|户外广告设施设置审批|办理流程|
货运许可证丢了补办|道路运输经营许可（道路普通货物运输）|补证办理|
养老机构备案要什么材料|养老机构备案|申请材料清单|
低保怎么申请|最低生活保障申请|办事指南|
民办学校办学许可证变更|民办学校办学许可|变更办理|
旅行社设立收费标准|旅行社设立许可|收费标准|
网吧许可证办理指南|互联网上网服务营业场所经营许可|办事指南|
灵活就业社保怎么交|灵活就业人员参保登记|办事指南|
二类器械备案容缺受理|第二类医疗器械经营备案|容缺受理说明|
放射诊疗许可告知承诺|放射诊疗许可|告知承诺制说明|
合作社注册登记指南|农民专业合作社设立登记|办事指南|
竣工验收备案进度查询|建设工程竣工验收备案|进度查询|
竞秀区人力资源服务许可窗口在哪|人力资源服务许可|窗口地址和办公时间|竞秀区
食品生产许可证下载|食品生产许可|证照下载|
医疗机构执业登记跨区域通办|医疗机构执业登记|跨区域通办|
涿州市机动车维修备案窗口|机动车维修经营备案|窗口地址和办公时间|涿州市
社会团体成立登记政策依据|社会团体成立登记|政策依据|
"""
RELEVANCE: list[tuple[str, tuple[str, str, str | None]]] = [
    (q, (i, t, p or None)) for q, i, t, p in (ln.split("|") for ln in RELEVANCE_TABLE.strip().splitlines())
]
EXTRA_QUERIES = """
    许可证 变更 营业执照 怎么办理 收费标准 远程勘验 视频帮办 延续 注销 食品 药品经营
    卫生 办理时限多久 告知承诺 窗口地址 进度查询 补证 跨区域通办 退件 材料清单
""".split()  # noqa: SIM905


@dataclass
class Article:
    n: int
    item: str
    item_no: int
    topic: str
    region: str
    title: str
    tags: list[str]
    body: str


def make_corpus(count: int, rng: random.Random) -> list[Article]:
    """Titles "{place}{item}{topic}" (the city-level one without the place), bodies from templates."""
    out: list[Article] = []
    combos = [(i, t, p) for p in range(len(PLACES)) for i in range(len(ITEMS)) for t in range(len(TOPICS))]
    for n, (i, t, p) in enumerate(combos[:count]):
        name, dept, aliases, material, remote = ITEMS[i]
        topic, place = TOPICS[t], PLACES[p]
        legal = rng.choice([10, 15, 20, 30])
        fill = {
            "item": name,
            "material": material,
            "dept": dept,
            "place": place,
            "legal": legal,
            "promise": max(1, legal // rng.choice([2, 3, 4])),
        }
        sentences = [TOPIC_TEXT[topic].format(**fill), *rng.sample(FILLER, rng.randint(4, 8))]
        if remote and topic in ("办事指南", "办理流程", "远程勘验要点"):
            sentences.append(f"本事项可申请视频帮办远程勘验，{dept}审查人员按审查要点在线核查。")
        if topic == "常见问题":
            sentences.append(f"问：{name}需要现场办理吗？答：可以全程网办，不会操作的可以发起视频帮办。")
        body = f"{place}{dept}。" + "".join(sentences) + f"本文适用于{place}范围内办理{name}。"
        title = f"{name}{topic}" if p == 0 else f"{place}{name}{topic}"
        out.append(Article(n, name, i + 1, topic, place, title, [*aliases, topic], body))
    return out


@dataclass
class EngineResult:
    name: str
    build_s: float
    build_cpu_s: float
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float
    cpu_p95_ms: float
    hit1: int
    hit5: int
    size_mb: float


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def is_right(article: Article, target: tuple[str, str, str | None]) -> bool:
    item, topic, region = target
    return article.item == item and article.topic == topic and (region is None or article.region == region)


def measure(
    name: str,
    search: Callable[[str], list[int]],
    corpus: list[Article],
    queries: list[str],
    build: tuple[float, float],
    size_mb: float,
) -> EngineResult:
    timings: list[float] = []
    cpu: list[float] = []
    hit1 = hit5 = 0
    with progress() as p:
        task = p.add_task(f"{name}: queries", total=len(queries) * (1 + TIMED_PASSES) + len(RELEVANCE))
        for q in queries:  # warm-up pass (caches, first searcher)
            search(q)
            p.advance(task)
        for _ in range(TIMED_PASSES):
            for q in queries:
                t0, c0 = time.perf_counter(), time.thread_time()
                search(q)
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.thread_time() - c0) * 1000)
                p.advance(task)
        for q, target in RELEVANCE:
            ranked = search(q)[:5]
            hit1 += bool(ranked) and is_right(corpus[ranked[0]], target)
            hit5 += any(is_right(corpus[i], target) for i in ranked)
            p.advance(task)
    return EngineResult(name, *build, *pcts(timings), *pcts(cpu), hit1, hit5, size_mb)


def pcts(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def run_whoosh(corpus: list[Article], queries: list[str], workdir: Path) -> EngineResult:
    index = KbIndex(workdir / "whoosh")
    docs = [
        IndexDoc(
            id=str(a.n),
            title=a.title,
            body=a.body,
            tags=a.tags,
            items=[a.item_no],
            guide=a.topic == "办事指南",
        )
        for a in corpus
    ]
    with progress() as p:
        task = p.add_task("whoosh+jieba: build", total=len(docs))
        t0, c0 = time.perf_counter(), time.process_time()
        index.rebuild(docs, lambda n: p.update(task, completed=n))
        build = (time.perf_counter() - t0, time.process_time() - c0)
    try:
        return measure(
            "whoosh+jieba",
            lambda q: [int(h.id) for h in index.search(q, per_page=10).hits],
            corpus,
            queries,
            build,
            folder_mb(workdir / "whoosh"),
        )
    finally:
        index.close()


def run_fts5(corpus: list[Article], queries: list[str], workdir: Path, kind: str) -> EngineResult:
    path = workdir / f"fts5-{kind}.db"
    fts = Fts5(path, kind)
    with progress() as p:
        task = p.add_task(f"fts5 ({kind}): build", total=len(corpus))
        t0, c0 = time.perf_counter(), time.process_time()
        fts.build(((a.n, a.title, " ".join(a.tags), a.body) for a in corpus), lambda n: p.update(task, completed=n))
        build = (time.perf_counter() - t0, time.process_time() - c0)
    name = "fts5 trigram" if kind == "trigram" else "fts5 jieba/unicode61"
    try:
        return measure(name, lambda q: fts.search(q, 10), corpus, queries, build, path.stat().st_size / 1e6)
    finally:
        fts.close()


def write_results(results: list[EngineResult], n_docs: int, took_s: float, command: str, load_start: float) -> None:
    lines = [
        "## Knowledge base",
        "",
        f"Command: `{command}` (Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"took {took_s:.0f} s). Corpus: {n_docs:,} generated articles (40 service items x 25 topics x "
        "10 places, template Chinese text of 150-400 characters). Queries: the 30 relevance queries "
        "plus 20 broad ones, timed in 3 passes after a warm-up pass, 10 hits with snippets per query; "
        f"load average at the start {load_start:.1f} (other work shares the 2 cores: latencies are noisy).",
        "",
        "| engine | build (wall / CPU) | index size | query p50 | query p95 | CPU p50 | CPU p95 "
        "| hit@1 (30) | hit@5 (30) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.build_s:.1f} s / {r.build_cpu_s:.1f} s | {r.size_mb:.0f} MB | "
            f"{r.p50_ms:.1f} ms | {r.p95_ms:.1f} ms | "
            f"{r.cpu_p50_ms:.1f} ms | {r.cpu_p95_ms:.1f} ms | "
            f"{r.hit1} | {r.hit5} |"
        )
    lines += [
        "",
        "- whoosh+jieba is the KB's own path (`KbIndex.search`: the vocabulary and stop words, every article "
        'scored at once over the index generation\'s BM25 arrays, one ranking, "no answer" decided, snippets '
        "for the 10 hits shown). Timed after a warm-up pass: the arrays of the words the queries use are "
        "loaded once per index generation (as after any index change in production).",
        "- fts5 trigram: the typed query cut into trigrams, AND then OR, bm25 with the same column "
        "weights, snippet(). Two-character words (许可, 变更, 注销) cannot match a trigram index at all.",
        "- fts5 jieba/unicode61: title, tags and body segmented by jieba (search mode) and indexed with the "
        "unicode61 tokenizer; the query's jieba words, AND then OR.",
        "- query p50/p95 are wall-clock; CPU p50/p95 are the querying thread's CPU time, which the other "
        "processes on the machine disturb much less. build: the whole index from scratch (the KB's is "
        "`helpdesk kb reindex`, with a progress bar).",
        "- A hit is the article of the query's service item and topic (any of the 10 places unless the query "
        "names one); the queries and their targets are listed in bench/bench_kb.py. Quality on realistic "
        'guides: see "Knowledge base: evaluation set".',
        "",
    ]
    write_section("Knowledge base", "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    init_jieba()
    corpus = make_corpus(args.docs, random.Random(20261130))
    queries = [q for q, _ in RELEVANCE] + EXTRA_QUERIES
    with tempfile.TemporaryDirectory(prefix="bench-kb-") as tmp:
        work = Path(tmp)
        results = [
            run_whoosh(corpus, queries, work),
            run_fts5(corpus, queries, work, "trigram"),
            run_fts5(corpus, queries, work, "jieba"),
        ]
    took = time.perf_counter() - started
    for r in results:
        console.print(
            f"{r.name:<22} build {r.build_s:5.1f} s (CPU {r.build_cpu_s:5.1f} s)  p50 {r.p50_ms:5.1f} ms  "
            f"p95 {r.p95_ms:5.1f} ms  CPU p50 {r.cpu_p50_ms:5.1f} ms  CPU p95 {r.cpu_p95_ms:5.1f} ms  "
            f"hit@1 {r.hit1}/30  hit@5 {r.hit5}/30"
        )
    if not args.no_write:
        command = ".venv/bin/python bench/bench_kb.py" + ("" if args.docs == 10_000 else f" --docs {args.docs}")
        write_results(results, len(corpus), took, command, load_start)
        console.print(f"wrote the Knowledge base section of {RESULTS}")


if __name__ == "__main__":
    main()
