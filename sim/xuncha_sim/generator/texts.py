"""Chinese text for synthetic rows: organisation names, team names and problem summaries.

Everything is drawn from the caller's `random.Random`, so text is as deterministic as the numbers.
Some summaries deliberately carry ASCII commas, double quotes and line breaks, so exporters' CSV
quoting (RFC 4180) and importers' parsers are exercised.
"""

from __future__ import annotations

import random

DEPTS = (
    "组织部", "宣传部", "统战部", "政法委", "机构编制委员会办公室", "发展和改革委员会", "教育局", "科学技术局",
    "工业和信息化局", "公安局", "民政局", "司法局", "财政局", "人力资源和社会保障局", "自然资源局", "生态环境局",
    "住房和城乡建设局", "交通运输局", "水利局", "农业农村局", "商务局", "文化广电和旅游局", "卫生健康委员会",
    "退役军人事务局", "应急管理局", "审计局", "市场监督管理局", "统计局", "医疗保障局", "乡村振兴局", "林业局",
    "城市管理局", "信访局", "机关事务管理中心", "档案馆", "总工会", "团委", "妇女联合会", "科学技术协会",
    "人民法院", "人民检察院", "供销合作社", "行政审批服务局", "人民防空办公室", "融媒体中心", "党校",
    "工商业联合会", "残疾人联合会", "红十字会", "住房公积金管理中心", "地方史志办公室", "文学艺术界联合会",
    "投资促进局", "大数据管理局", "体育局", "民族宗教事务局", "粮食和物资储备局", "扶贫开发办公室",
)
SOE = ("城市建设投资有限公司", "国有资产经营有限公司", "水务集团有限公司", "交通投资有限公司", "农业发展投资有限公司",
       "文化旅游投资有限公司", "产业集聚区投资有限公司", "供热有限公司", "公共交通有限公司", "粮油购销有限公司",
       "融资担保有限公司", "城乡建设发展集团有限公司")
SCHOOLS = ("第一高级中学", "第二高级中学", "实验中学", "职业教育中心", "实验小学", "第三高级中学", "特殊教育学校")
HOSPITALS = ("人民医院", "中医院", "妇幼保健院", "第二人民医院", "疾病预防控制中心")
OTHER = ("机关事务服务中心", "公共资源交易中心", "产业集聚区管理委员会", "经济技术开发区管理委员会")
CITY_SCHOOLS = ("洛阳职业技术学院", "洛阳市第一高级中学", "洛阳市第二外国语学校", "洛阳市实验中学", "洛阳幼儿师范学校",
                "洛阳市职业教育中心")
CITY_HOSPITALS = ("洛阳市中心医院", "洛阳市第三人民医院", "洛阳市妇幼保健院", "洛阳市第五人民医院", "洛阳市中医院")
CITY_SOE = ("洛阳城市发展投资集团有限公司", "洛阳国宏投资控股集团有限公司", "洛阳市文化旅游投资集团有限公司",
            "洛阳市水利投资有限公司", "洛阳市公共交通集团有限公司", "洛阳市热力有限公司", "洛阳市自来水有限公司",
            "洛阳市交通投资集团有限公司", "洛阳市农业发展投资有限公司", "洛阳市产业发展集团有限公司",
            "洛阳市住房投资有限公司", "洛阳市金融控股有限公司")

_A = "东西南北大小上下前后新老白黄青石柳杨王李张刘陈马高河山岭坡沟庄寨屯营店桥湾坪岗峪槐桑枣榆杏花泉水龙凤"
_B = "庄村营寨沟岭坡河店屯湾坪岗峪头口洼园堡楼桥集寺院庙窑"
_T = ("城关", "白河", "车村", "木植街", "黄庄", "大章", "田湖", "旧县", "德亭", "饭坡", "九店", "大坪", "纸房", "何村",
      "库区", "闫庄", "城郊", "会盟", "平乐", "送庄", "白鹤", "横水", "常袋", "小浪底", "朝阳", "麻屯", "石寺", "铁门",
      "磁涧", "五头", "正村", "仓头", "北冶", "南李村", "石井", "寺河", "石门", "城南", "城北", "东城", "西城", "新城",
      "湖滨", "河西", "滨河", "龙门", "关林", "辛店", "李楼", "安乐", "古城", "开元", "太康", "翠云", "牡丹", "丽景")
_COMMUNITY = ("和平", "幸福", "建设", "团结", "光明", "民主", "解放", "胜利", "文化", "兴华", "长安", "中州", "武汉路",
              "天津路", "延安路", "景华", "青岛路", "南昌路", "重庆路", "太原路", "广州市场", "东花坛", "西花坛", "春都",
              "九都", "丽春", "洛浦", "滨河", "翠微", "华山", "嵩山", "泰山", "王城", "金谷园", "唐宫", "周公庙")

CN_NUM = "零一二三四五六七八九十"


def chinese_number(n: int) -> str:
    if n <= 10:
        return CN_NUM[n]
    if n < 20:
        return "十" + CN_NUM[n - 10]
    return CN_NUM[n // 10] + "十" + (CN_NUM[n % 10] if n % 10 else "")


def township_names(rng: random.Random, n: int, urban: bool) -> list[str]:
    pool = list(_T)
    rng.shuffle(pool)
    names = []
    for i in range(n):
        base = pool[i % len(pool)] + ("" if i < len(pool) else chinese_number(i // len(pool) + 1))
        names.append(base + ("街道" if urban else rng.choice(("镇", "镇", "乡"))))
    return names


def village_name(rng: random.Random, taken: set[str], suffix: str = "村") -> str:
    for _ in range(200):
        name = rng.choice(_A) + rng.choice(_A + _B) + suffix
        if name not in taken:
            taken.add(name)
            return name
    name = f"{rng.choice(_A)}{len(taken)}{suffix}"
    taken.add(name)
    return name


def community_name(rng: random.Random, taken: set[str]) -> str:
    for _ in range(50):
        name = rng.choice(_COMMUNITY) + "社区"
        if name not in taken:
            taken.add(name)
            return name
    return village_name(rng, taken, "社区")


def team_name(committee: str, n: int) -> str:
    return f"{committee}第{chinese_number(n)}巡察组"


_SUMMARIES = {
    "SL1": (
        "{org}贯彻落实上级决策部署不够有力，{topic}工作推进缓慢，{n}项重点任务未按期完成",
        "{org}学习贯彻习近平新时代中国特色社会主义思想存在学用脱节，理论学习中心组全年仅开展学习{n}次",
        "{org}落实乡村振兴、“六稳”“六保”等部署打折扣，{topic}项目资金闲置{n}万元",
    ),
    "SL2": (
        "{org}党组织履行全面从严治党主体责任不到位，全年专题研究党风廉政建设仅{n}次",
        "{org}落实中央八项规定精神不严格，违规发放津补贴{n}万元",
        "{org}执行财经纪律不严，{n}笔支出无审批手续、票据不规范",
    ),
    "SL3": (
        "{org}基层党组织建设薄弱，“三会一课”制度落实不到位，{n}名党员长期未参加组织生活",
        "{org}选人用人不规范，{n}名干部档案材料缺失或不一致",
        "{org}发展党员程序不规范，{n}份入党材料存在补签、代签问题",
    ),
    "SL4": (
        "{org}对上轮巡察反馈问题整改不到位，{n}个问题整改“回头看”仍未销号",
        "{org}巡察整改台账不健全，{n}项整改措施未见成效",
    ),
    "SJ1": (
        "{org}村“三资”管理混乱，集体资金{n}万元账外运行",
        "{org}在低保、危房改造等惠民政策落实中优亲厚友，涉及{n}户",
        "{org}工程项目未按规定招投标，{n}个项目化整为零规避监管",
        "{org}村干部虚报冒领补贴资金{n}万元",
    ),
    "SJ2": (
        "{org}党组织软弱涣散，班子成员分工不明确，{n}个月未召开支部委员会",
        "{org}党员教育管理松散，{n}名流动党员失联",
        "{org}“四议两公开”制度执行不到位，{n}项重大事项未经党员大会讨论",
    ),
    "SJ3": (
        "{org}主要负责人履行第一责任人职责不到位，对班子成员提醒谈话仅{n}次",
        "{org}纪检监察组织监督执纪偏宽偏软，{n}件问题线索处置不及时",
    ),
    "OT": (
        "{org}档案管理不规范，{n}卷文书档案未归档",
        "{org}意识形态工作责任制落实不到位，{n}个宣传阵地管理缺位",
        "{org}安全生产责任落实不到位，{n}处隐患未按期整改",
    ),
}
_TOPICS = ("人居环境整治", "脱贫攻坚", "河长制", "营商环境优化", "疫情防控", "农村集体产权制度改革", "信访积案化解",
           "违建别墅清查整治", "耕地保护", "安全生产专项整治")
_EXTRA = (
    '，涉及金额12,000元以上',
    '，群众反映"办事难"问题突出',
    '。具体表现：\n一是台账不全；\n二是公开不及时',
    '，其中"两委"成员参与其中',
)


def finding_summary(rng: random.Random, category: str, org: str) -> str:
    text = rng.choice(_SUMMARIES[category]).format(org=org, topic=rng.choice(_TOPICS), n=rng.randint(2, 48))
    if rng.random() < 0.04:
        text += rng.choice(_EXTRA)
    return text


CATEGORY_WEIGHTS = {"SL1": 14, "SL2": 18, "SL3": 14, "SL4": 6, "SJ1": 20, "SJ2": 12, "SJ3": 9, "OT": 7}
