"""One test per conversion artifact the policy cleaner handles."""

from knowledge.cleaner import clean_policy_text, heading_level


def texts(raw: str) -> list[str]:
    return [line.text for line in clean_policy_text(raw) if not line.table]


def test_bookmark_anchors_are_removed() -> None:
    raw = "[bookmark: _Toc32376][bookmark: _Toc5952]（二）儿童与健康\n1．优先保障儿童健康。全面实施健康儿童发展战略。"
    assert texts(raw)[0] == "（二）儿童与健康"
    assert "bookmark" not in "".join(texts(raw))


def test_markdown_heading_marks_are_removed() -> None:
    assert texts("### 一、工作目标\n到2026年，服务更加精准。") == ["一、工作目标", "到2026年，服务更加精准。"]


def test_table_of_contents_lines_are_dropped() -> None:
    raw = "目录\n一、 总体要求\t1\n(一) 指导思想\t1\n一、总体要求\n正文第一句。"
    assert texts(raw) == ["一、总体要求", "正文第一句。"]


def test_page_numbers_are_dropped() -> None:
    raw = "第一段结束。\n- 3 -\n— 12 —\n第 4 页\n7\n第二段。"
    assert texts(raw) == ["第一段结束。", "第二段。"]


def test_spaced_out_title_is_joined() -> None:
    assert texts("前　　言") == ["前言"]
    assert texts("韶关市曲江区儿童 发展规划") == ["韶关市曲江区儿童发展规划"]
    assert texts("（三）巩固提升（2026 年 1 月至 2026 年 10 月底）。") == ["（三）巩固提升（2026年1月至2026年10月底）。"]


def test_line_broken_mid_sentence_is_joined_even_across_blank_lines() -> None:
    raw = "4. 推进实施儿童营养改善项目。巩固项目实施成果。稳妥推进\n\n学龄期儿童连续完整的营养改善项目支持体系。\n5. 下一条。"
    assert texts(raw) == [
        "4. 推进实施儿童营养改善项目。巩固项目实施成果。稳妥推进学龄期儿童连续完整的营养改善项目支持体系。",
        "5. 下一条。",
    ]


def test_a_line_is_never_joined_into_a_heading() -> None:
    raw = "1. 覆盖城乡的儿童健康服务体系更加完善，儿\n\n2. 普及儿童健康生活方式。"
    assert texts(raw) == ["1. 覆盖城乡的儿童健康服务体系更加完善，儿", "2. 普及儿童健康生活方式。"]


def test_titles_are_not_glued_to_the_body() -> None:
    raw = "景德镇市农村地区少年儿童身心健康提质增效专项行动方案\n 为深入贯彻“健康第一”教育理念，特制定本方案。"
    assert texts(raw)[0] == "景德镇市农村地区少年儿童身心健康提质增效专项行动方案"


def test_flattened_table_becomes_one_line_per_row() -> None:
    header = "\t行动任务\n\t工作举措及目标\n\t责任单位\n\n"
    rows = "".join(
        f"\t{'实施精准帮扶工程' if i == 0 else ''}\n{'（牵头部门：市民政局）' + chr(10) if i == 0 else ''}"
        f"\t第{i + 1}项举措，每月走访{i + 1}次。\n\t市民政局\n\n"
        for i in range(3)
    )
    lines = clean_policy_text("附件\n任务清单\n\n" + header + rows)
    table = [line for line in lines if line.table]
    assert [line.text for line in table] == [
        f"工作举措及目标：第{i + 1}项举措，每月走访{i + 1}次；责任单位：市民政局。" for i in range(3)
    ]
    assert {line.group for line in table} == {"实施精准帮扶工程"}
    assert table[0].table == "任务清单"


def test_heading_levels() -> None:
    assert heading_level("一、总体要求") == 1
    assert heading_level("（四）明眸护眼行动") == 2
    assert heading_level("(一) 儿童与健康。") == 2
    assert heading_level("主要目标：") == 3
    assert heading_level("2.全覆盖视力筛查") == 4
    assert heading_level("1．发挥好家庭作用") == 4
    assert heading_level("（1）具体措施") == 5
    assert heading_level("坚持预防为主。") == 0
