"""Subjects and grades are found by their code or by either name."""

from collab.catalog import spellings


def test_a_grade_or_subject_is_found_by_code_or_name():
    assert spellings("八年级") == spellings("8") == {"8", "八年级", "Grade 8"}
    assert spellings("数学") == spellings("math") == {"math", "数学", "Maths"}
    assert {"math", "数学"} <= spellings("MATHS")  # as typed, in any case
    assert "高一" in spellings("10")


def test_free_text_is_itself():
    assert spellings(" 初中数学 ") == {"初中数学"}
