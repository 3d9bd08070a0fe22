"""Family affection the model reads as sexual abuse: 「妈妈摸他的头说乖」, 「爷爷摸了摸他的头」.

The word-feature model learned 摸 from abuse reports and scores a grandmother stroking a head as red
(p_red 0.8–0.97); no number of training lines on touch fixed it (batch_q, batch_s). A touch of the head,
hair, face, hand, back or shoulder, with nothing that marks abuse (a private part, undressing, a secret, a
lap, a bed, money, pain, a stranger's kind of adult), is affection: a sexual-abuse level that rests on the
model alone is dropped. Rules that found abuse words are never lowered here.
"""

from __future__ import annotations

import re

# The one touching is family (or the writer: 「我摸了摸孙子的头」), right before the touch.
_FAMILY = (r"(?:妈妈|妈|爸爸|爸|奶奶|爷爷|外婆|外公|姥姥|姥爷|婆婆|公公|阿婆|阿嬷|阿公|嫲嫲|阿爷|爹|娘|我|老伴|"
           r"姐姐|哥哥|姑姑|姨妈|舅舅)")
_TOUCH = re.compile(
    _FAMILY + r"(?:[^，。！？,.!?]{0,4})?(?:摸|摸了摸|摸摸|拍|拍了拍|拍拍|揉|揉了揉|亲|亲了亲|抱|抱了抱|搂)(?:了|着|一下|一下子)?"
    r"(?:他|她|娃|孩子|孙子|孙女|宝宝|我)?(?:的)?(?:头|脑袋|脑壳|头发|脸|脸蛋|脸蛋儿|小脸|额头|手|小手|背|后背|肩膀|肩)"
)
_ABUSE_CUE = re.compile(
    r"隐私|下面|下边|私处|私密|裆|胸|屁股|裤|衣服里|脱|嘴|舌|腿上|大腿|被窝|床上|单独|秘密|不(?:让|准|许)(?:我|他|她)?(?:告诉|说|讲)|"
    r"别(?:告诉|说出去)|给(?:我|他|她)?钱|零花钱|糖|舔|不放|疼|痛|红肿|怕|哭|躲|不舒服|恶心|老光棍|陌生|网友|叔叔|伯伯|大爷|"
    r"老头|男的|邻居|老师|继父|后爸|动手动脚|摸来摸去|老是摸|总是摸|经常摸|天天摸|偷偷|那个人|有人|别人|外人|"
    r"带走|抱走|拉走|领走|不见|找不到|上车|跟(?:着|他|她)走|喝酒|醉|打|掐|拧|扇"
)


def is_affection(text: str) -> bool:
    """True when `text` (normalised) tells of a family member's affectionate touch and nothing that marks abuse
    or danger (a stranger, a child taken away, drink, hitting)."""
    return bool(_TOUCH.search(text)) and not _ABUSE_CUE.search(text)
