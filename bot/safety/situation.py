"""What happened: the kind of emergency a message describes, so the reply gives the first aid for it.

Word families, not sentences: each situation is recognised by the verbs and objects people use for it
(落水/溺水/淹, 噎/卡在喉咙, 烫/烧伤/起泡, ...). The text is the normalised message (bot.safety.normalise).
Deterministic and fast (a handful of precompiled patterns, well under a millisecond).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SITUATIONS: tuple[str, ...] = (
    "drowning", "choking", "burn", "fire", "electric_shock", "fall", "seizure", "eye_chemical", "allergy",
    "stroke", "poisoning", "heat", "snakebite", "bite", "bleeding", "traffic", "missing", "other",
)

_C = r"[^，。！？；,.!?;\n]"  # any character inside one clause
_S = r"[^。！？.!?\n]"  # any character inside one sentence
_EYE_CHEMICAL = (r"(?:生石灰|石灰|熟石灰|水泥|碱水|火碱|烧碱|洗衣液|洗衣粉|洗衣凝珠|凝珠|洗洁精|消毒液|消毒水|84|漂白水|漂白剂|"
                 r"洁厕灵|农药|药水|杀虫剂|除草剂|硫酸|盐酸|电池液|油漆|辣椒水|花露水|风油精)")

# Checked in this order: the first family that matches names the situation. The order puts what must be
# done first ahead of what follows from it (get out of a fire before cooling a burn, cut the power before
# treating a fall, a child pulled from water needs CPR whatever else happened).
_FAMILIES: tuple[tuple[str, str], ...] = (
    # A splash in the eye is rinsed first (pesticide there is not a swallowed poison; 「遇水会烧起来」 is no fire).
    ("eye_chemical", rf"眼(?:睛|珠|皮)?(?:里|上)?{_C}{{0,4}}(?:进|溅|喷|弄|揉|撒|飞)(?:了|进|到|上)?{_C}{{0,4}}{_EYE_CHEMICAL}|"
                     rf"{_EYE_CHEMICAL}{_C}{{0,6}}(?:进|溅|喷|弄|揉|撒|飞)(?:了|进|到|在)?{_C}{{0,4}}眼|"
                     rf"眼(?:睛|珠)?{_C}{{0,2}}被{_C}{{0,2}}{_EYE_CHEMICAL}"),
    ("fire", rf"着火|失火|火灾|起火|(?:烧|燃)起来|(?:火|烟)(?:势)?(?:很|好|太|特别)大|浓烟|(?:屋|房|家|楼)(?:里|道){_C}{{0,3}}(?:全是|都是)(?:浓)?烟|"
             rf"(?:房子|屋|厨房|窗帘|被子|床|柴房|草堆|沙发|家里){_C}{{0,3}}(?:烧着|点着|着了)"),
    ("electric_shock", rf"触电|被电|电(?:打|击|到|着|住)(?:了)?|漏电|"
                       rf"(?:摸|碰|抓|握|挨|靠|连|咬|舔|插|粘|贴|扒|挂){_C}{{0,3}}(?:电线|插座|插头|电源|电门|电闸|电箱|高压线|变压器)"),
    ("drowning", rf"落水|溺水|淹(?:着|了|到|死|水)|呛水|"
                 rf"(?:掉|落|栽|跌|滑|摔)(?:进|到|下|入)?(?:了)?{_C}{{0,3}}(?:水里|河|塘|井|江|湖|水库|池|水沟|水缸|粪坑)|"
                 rf"(?:河|塘|井|水库|江|湖|池|沟)(?:里|中|头)?{_C}{{0,4}}(?:捞|救|拉)(?:上来|出来|起来)"),
    ("choking", rf"噎|哽住|呛(?:到|着|住)(?:了)?{_C}{{0,2}}(?:东西|异物|豆子|花生|果冻|瓜子|糖)|(?:卡|堵)(?:住|在|着)?{_C}{{0,3}}(?:喉咙|嗓子|气管)|(?:喉咙|嗓子|气管){_C}{{0,3}}(?:卡|堵)|"
                rf"(?:吃|吞|咽|含){_C}{{0,8}}(?:卡住|呛住)|(?:卡|呛)住了?{_C}{{0,4}}(?:喘|气|说不出|咳不出|脸)|"
                # Something swallowed that will not come up (「吞了个小珠子 咳不出来」), not phlegm.
                rf"(?:吞|卡|噎|吃|含)(?:了|到|下|进|着)(?:(?!痰|咳嗽|感冒){_C}){{0,10}}咳(?:也|都)?(?:咳)?不出(?!痰)"),
    # Stings and a severe allergic reaction (a swelling throat, wheezing after food, a drug or a sting): the
    # reply is about breathing and sitting up, not rabies (a wasp sting got the dog-bite reply) nor vomiting.
    ("allergy", rf"(?:蜂|虎头蜂|葫芦包){_C}{{0,4}}(?:蜇|蛰|螫|叮|咬|钉)|被{_C}{{0,3}}(?<!海)(?:蜇|蛰|螫)|过敏性休克|"
                rf"过敏{_S}{{0,14}}(?:喘|呼吸|憋|晕|昏|休克|发紫|喉咙|嗓子|说不出话|声音{_C}{{0,2}}变)|"
                rf"(?:喉咙|嗓子|舌头|嘴唇){_C}{{0,2}}(?:发紧|肿){_S}{{0,8}}(?:喘|呼吸|气)"),
    # Before poisoning and seizure: a drooping mouth and a weak side are a stroke whatever else is said.
    ("stroke", rf"嘴(?:巴|角)?(?:突然)?(?:歪|斜)(?:了|掉)|口角歪斜|"
               rf"(?:一边|半边|一侧)(?:的)?(?:手|脚|胳膊|腿|身子|身体|脸){_C}{{0,4}}(?:抬不起|动不了|没劲|没力|不听使唤|麻了)|"
               rf"(?:中风|脑梗|脑溢血|脑出血)了"),
    ("poisoning", rf"农药|百草枯|敌敌畏|除草剂|杀虫剂|老鼠药|鼠药|中毒|煤气|燃气|天然气|液化气|一氧化碳|炭火|(?:熏|呛)(?:晕|倒|昏)|"
                  rf"误(?:食|服|喝|吃|吞)|(?:吃|喝|吞)(?:了|下|掉){_C}{{0,6}}(?:药(?![^，。！？]{{0,3}}(?:还|也|又|没|不|后))|"
                  rf"消毒|洁厕|漂白|洗衣|汽油|柴油|煤油|电池|凝珠|干燥剂|烧碱|蘑菇|菌子)"),
    # Heat illness: shade and cooling, not the poisoning reply the model's label gave (「大热天…头晕想吐」).
    ("heat", rf"中暑|中署|热射病|晒晕|热晕|晒(?:得|的)?(?:发昏|昏|晕)|"
             rf"(?:大热天|热天|三伏|伏天|大太阳|太阳底下|日头底下|暴晒|高温|晒了)[^。！？\n]{{0,16}}"
             rf"(?:头晕|发晕|晕倒|晕了|想吐|吐了|呕吐|抽筋|没力气|发软|脸通红|说胡话|叫不醒|不出汗)"),
    ("traffic", rf"车祸|(?:车|摩托|电瓶车|电动车|三轮|拖拉机|货车|卡车|汽车|面包车|大巴){_C}{{0,4}}(?:撞|轧|压|碾|刮|碰)|"
                rf"被撞(?:了|倒|飞|伤)"),
    ("snakebite", rf"蛇{_C}{{0,3}}(?:咬|伤)|被{_C}{{0,3}}蛇"),
    ("bite", rf"(?:狗|猫|老鼠|猴|野兽|动物|疯狗|野狗|狼){_C}{{0,3}}(?:咬|抓|挠)"),
    ("fall", rf"摔|跌|坠楼|(?:掉|滚|栽)(?:了)?下(?:来|去|楼)|头(?:破|磕|撞)|磕(?:破|到|着)(?:了)?(?:头|脑袋)|"
             rf"(?:后脑|脑袋|头)(?:先)?着地"),
    ("seizure", rf"抽搐|抽风|抽筋|抽起(?:筋|风|来)|惊厥|翻白眼|口吐白沫|癫痫|羊癫疯|(?:浑身|全身|手脚)(?:一直)?(?:发抖|抖|抽)"),
    ("burn", rf"(?<!发)烫(?!发|头)|烧伤|灼伤|起泡|水泡|(?:开水|热水|热油|滚油|热汤|稀饭|热粥){_C}{{0,4}}(?:泼|浇|洒|溅|倒)"),
    ("bleeding", rf"血流满(?:脸|面|头)|满(?:脸|头)(?:都)?(?:是)?血|血流不止|流血不止|血止不住|大出血|(?:流|出)了(?:好多|很多|一地|一大摊|一大滩)(?:的)?血|"
                 rf"血(?:一直|不停|止不住)(?:地)?(?:往外)?(?:冒|流|涌|喷)|(?:扎|刺|割)(?:穿|进|断)|伤口(?:很|好|特别)深"),
)
_COMPILED = tuple((name, re.compile(pattern)) for name, pattern in _FAMILIES)


def detect_situation(text: str) -> str:
    """The emergency `text` (normalised) describes, or "none" when it names no situation."""
    for name, pattern in _COMPILED:
        if pattern.search(text):
            return name
    return "none"


def conversation_situation(texts: Iterable[str], categories: Iterable[str]) -> str:
    """The situation of a red or yellow conversation: the newest turn that names one (texts newest first);
    a missing child is "missing"; any other emergency without a named situation is "other"."""
    cats = set(categories)
    if "emergency" in cats:
        for text in texts:
            found = detect_situation(text)
            if found != "none":
                return found
        return "other"
    return "missing" if "missing" in cats else "none"
