"""Source routing: which kind of material a question is asking for.

Policy documents say what schools, villages and government will do; outreach articles say what a family
can do today. A question about services, rules or institutions (「学校有没有…」「能不能申请补助」) prefers
policy passages; a practical question (「…怎么办」「吃什么好」) keeps the plain ranking.
"""

from __future__ import annotations

import re

# Institutions, services and rules: the things policy documents are about.
_ASKS_ABOUT_SERVICES_RE = re.compile(
    r"学校|幼儿园|政府|政策|规定|补助|补贴|救助|保障|免费|申请|报销|部门|民政|卫健|卫生院|妇幼|妇联|团委|共青团|"
    r"法院|检察院|公安|村里|村委|乡镇|镇上|县里|市里|区里|机构|服务|热线|项目|计划|方案|托管|托班|课堂|档案|"
    r"儿童主任|督导员|社工|志愿者"
)
_PRACTICAL_RE = re.compile(r"怎么办|咋办|咋整|怎么弄|怎么教|怎么做|要注意|吃什么|吃啥|怎么哄|怎么说")
# Every policy document is one place's: a question about the whole country (「全国心理援助热线是多少」) or a phone
# number to call is answered first by the national article (12356, 12355), not a county's passage that names it
# in passing. A place named, or the asker's home, still lifts that place's own line.
_NATIONAL_RE = re.compile(r"全国|国家(?:统一|规定|的)")
_ASKS_NUMBER_RE = re.compile(r"(?:热线|电话|号码|号)(?:是|系)?(?:多少|几多|好多|几号|啥|什么|么子|乜)")


def asks_national(question: str) -> bool:
    """The question asks about the whole country (「全国心理援助热线」): no county's rule belongs in the answer."""
    return bool(_NATIONAL_RE.search(question))


def prefers_policy(question: str) -> bool:
    """True when the question asks what institutions provide rather than what to do at home."""
    return (bool(_ASKS_ABOUT_SERVICES_RE.search(question)) and not _PRACTICAL_RE.search(question)
            and not asks_national(question) and not _ASKS_NUMBER_RE.search(question))
