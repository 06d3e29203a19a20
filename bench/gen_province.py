#!/usr/bin/env python3
"""Writes a synthetic province-scale period for vanban's benchmarks.

Usage: gen_province.py N OUT_DIR
Makes OUT_DIR/period.toml and OUT_DIR/directory.toml with N communes (units), one group of
all of them, and N tasks: each commune leads one task and coordinates on its neighbour's, so
vanban renders N assignment letters of two tasks each, plus the report and the notice.
The figures are synthetic but valid (disbursed <= allocated, shares of a positive whole).
"""
import pathlib
import sys

n = int(sys.argv[1])
out = pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)

units = []
for i in range(1, n + 1):
    units.append(f'''[[units]]
id = "xa-{i:04d}"
name = "Ủy ban nhân dân xã Thử Nghiệm {i}"
short = "UBND xã Thử Nghiệm {i}"
email = "xa{i:04d}@example.vn"
''')
members = ", ".join(f'"xa-{i:04d}"' for i in range(1, n + 1))
directory = 'report_to = "cac-xa"\n\n' + "\n".join(units) + f'''
[[groups]]
id = "cac-xa"
name = "UBND các xã, phường, đặc khu"
members = [{members}]
'''
(out / "directory.toml").write_text(directory, encoding="utf-8")

programs = []
for p, name in enumerate(["Xây dựng nông thôn mới", "Giảm nghèo bền vững",
                          "Phát triển kinh tế - xã hội vùng đồng bào dân tộc thiểu số và miền núi"], 1):
    allocated = 100000 * p + n * 37
    programs.append(f'''[[programs]]
id = "ct{p}"
name = "{name}"
budget = {{ allocated = {allocated}, disbursed = {allocated * 52 // 100} }}
results = ["Kết quả {p}.1 của chương trình", "Kết quả {p}.2 của chương trình"]
[[programs.indicators]]
name = "Chỉ tiêu {p}"
unit = "xã"
value = {n // 2}
plan = {n}
share_of = {n}
''')
tasks = []
for i in range(1, n + 1):
    neighbour = i % n + 1
    tasks.append(f'''[[tasks]]
to = ["xa-{i:04d}"]
with = ["xa-{neighbour:04d}"]
text = "Hoàn thành nhiệm vụ số {i} về phát triển sản xuất, giảm nghèo và xây dựng nông thôn mới trên địa bàn"
due = 2026-09-30
''')
period = f'''[period]
year = 2026
half = 1

[issuer]
name = "Ủy ban nhân dân tỉnh Thử Nghiệm"
abbr = "UBND"
place = "Thử Nghiệm"

[committee]
name = "Ban Chỉ đạo các Chương trình mục tiêu quốc gia tỉnh"
head = {{ name = "Nguyễn Văn A", title = "Chủ tịch UBND tỉnh, Trưởng Ban Chỉ đạo" }}

[meeting]
date = 2026-06-20

[documents]
date = 2026-06-25
review_report = {{ signer = {{ authority = "TM. Ủy ban nhân dân", title = "Chủ tịch", name = "Nguyễn Văn A" }} }}
conclusion_notice = {{ signer = {{ authority = "KT. Chủ tịch", title = "Phó Chủ tịch", name = "Trần Văn B" }} }}
assignment_letter = {{ unit_abbr = "KT", signer = {{ authority = "KT. Chủ tịch", title = "Phó Chủ tịch", name = "Trần Văn B" }} }}

[report]
leadership = ["Công tác lãnh đạo, chỉ đạo được triển khai đồng bộ."]
achievements = ["Các chỉ tiêu cơ bản đạt kế hoạch."]
shortcomings = ["Tiến độ giải ngân còn chậm ở một số địa phương."]

''' + "\n".join(programs) + "\n" + "\n".join(tasks)
(out / "period.toml").write_text(period, encoding="utf-8")
print(f"{out}/period.toml: {n} units, {n} tasks")
