"""The report's charts: plotly figures built from `ReportData` (xuncha.reports.data), one function per chart.

Why plotly: it is in the lock, well kept, and its hover labels carry each figure's numerator and denominator
(the marts store both; auditors recompute rates). The page inlines plotly.js once (xuncha.reports.html), so the
file opens from disk with no request leaving the machine; static SVG would need a headless browser (kaleido) at
build time on every Airflow worker and would lose the hover detail.

Every chart function returns `(figure, summary)`: `summary` is the plain-text line printed beside the chart with
the chart's totals (numerator/denominator), so the figures are readable without hovering. A chart with no data
returns `None` for the figure and says so in `summary`. Bars carry `customdata` = [numerator, denominator] (or
the count), which the browser tests compare against the marts.
"""

from __future__ import annotations

from collections import defaultdict

from xuncha.reports.data import ReportData

FONT = "system-ui, -apple-system, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', sans-serif"
"""Local fonts only (no web fonts): the page must render offline."""
GOOD, BAD, WARN, NEUTRAL = "#2e7d32", "#c62828", "#ef6c00", "#1565c0"


def _codes(kind: str) -> dict[str, str]:
    from xuncha.spec import load_spec

    return load_spec().codes[kind]


def _layout(fig, title: str, height: int = 380, **kw):
    fig.update_layout(title={"text": title, "x": 0, "font": {"size": 15}}, height=height, font={"family": FONT, "size": 12},
                      margin={"l": 60, "r": 20, "t": 50, "b": 90}, plot_bgcolor="white", hoverlabel={"font": {"family": FONT}},
                      legend={"orientation": "h", "y": -0.25}, **kw)
    fig.update_yaxes(gridcolor="#e0e0e0")
    return fig


def _pct(n, d) -> str:
    return f"{100 * n / d:.1f}%" if d else "—"


def _units(data: ReportData, rows: list[dict]) -> list[str]:
    """Reporting units in code order, the city (410300) first."""
    return sorted({r["county_code"] for r in rows}, key=lambda c: (c != "410300", c))


def coverage(data: ReportData):
    """巡察覆盖率 per unit (org_type 'all') against 100%: bar = coverage_rate, customdata = [covered, in scope]."""
    import plotly.graph_objects as go

    rows = [r for r in data.marts["coverage"] if r["org_type"] == "all"]
    if not rows:
        return None, "无覆盖数据 / no coverage rows for this day"
    rows.sort(key=lambda r: (r["county_code"] != "410300", r["county_code"]))
    x = [data.name(r["county_code"]) for r in rows]
    y = [float(r["coverage_rate"] or 0) for r in rows]
    cd = [[r["orgs_covered"], r["orgs_in_scope"]] for r in rows]
    fig = go.Figure(go.Bar(x=x, y=y, customdata=cd, marker_color=[GOOD if r["full_coverage"] else NEUTRAL for r in rows],
                           text=[f"{c}/{d}" for c, d in cd], textposition="outside", name="覆盖率 coverage",
                           hovertemplate="%{x}<br>覆盖率 coverage %{y:.1%}<br>已巡察 covered %{customdata[0]} / "
                                         "在册 in scope %{customdata[1]}<extra></extra>"))
    fig.add_hline(y=1, line_dash="dash", line_color=GOOD)
    _layout(fig, "巡察覆盖率（按县区）Coverage by county vs 100%",
            yaxis={"tickformat": ".0%", "range": [0, 1.15], "title": "覆盖率 coverage（虚线 = 全覆盖 100%）"})
    n, d = sum(c for c, _ in cd), sum(d for _, d in cd)
    return fig, f"全市 whole city: {n:,} / {d:,} 个单位已巡察 organisations covered ({_pct(n, d)}); " \
                f"{sum(r['full_coverage'] for r in rows)} / {len(rows)} 县区实现全覆盖 units at 100%"


def coverage_by_type(data: ReportData):
    """Coverage per unit × org type as a heatmap: z = rate, customdata = [covered, in scope]."""
    import plotly.graph_objects as go

    rows = [r for r in data.marts["coverage"] if r["org_type"] != "all"]
    if not rows:
        return None, "无覆盖数据 / no coverage rows for this day"
    types = [t for t in _codes("org_type") if any(r["org_type"] == t for r in rows)]
    units = _units(data, rows)
    cell = {(r["county_code"], r["org_type"]): r for r in rows}
    z, cd, text = [], [], []
    for u in units:
        zr, cr, tr = [], [], []
        for t in types:
            r = cell.get((u, t))
            zr.append(float(r["coverage_rate"]) if r and r["coverage_rate"] is not None else None)
            cr.append([r["orgs_covered"], r["orgs_in_scope"]] if r else [0, 0])
            tr.append(f"{r['orgs_covered']}/{r['orgs_in_scope']}" if r else "")
        z.append(zr), cd.append(cr), text.append(tr)
    names = _codes("org_type")
    fig = go.Figure(go.Heatmap(z=z, x=[f"{names[t]}<br>{t}" for t in types], y=[data.name(u) for u in units],
                               customdata=cd, text=text, texttemplate="%{text}", zmin=0, zmax=1, colorscale="RdYlGn",
                               colorbar={"tickformat": ".0%", "title": {"text": "覆盖率"}},
                               hovertemplate="%{y} · %{x}<br>覆盖率 coverage %{z:.1%}<br>已巡察 covered "
                                             "%{customdata[0]} / 在册 in scope %{customdata[1]}<extra></extra>"))
    _layout(fig, "巡察覆盖率（按县区和单位类型）Coverage by county and organisation type", height=120 + 26 * len(units),
            yaxis={"autorange": "reversed"})
    full = sum(r["full_coverage"] for r in rows)
    return fig, f"{full} / {len(rows)} 个县区×类型组合全覆盖 county × type cells at 100%"


def rounds(data: ReportData):
    """巡察轮次 per unit and year against the target of its level (city ≥ 3, counties 4–5): heatmap of rounds,
    coloured by met (green) / below (red) / above (orange) / year still running (blue); customdata =
    [rounds, target_min, target_max]."""
    import plotly.graph_objects as go

    rows = data.marts["rounds_per_year"]
    if not rows:
        return None, "无轮次数据 / no rounds for this day"
    units, years = _units(data, rows), sorted({r["year"] for r in rows})
    cell = {(r["county_code"], r["year"]): r for r in rows}
    from xuncha.metrics import config as metrics_config

    starts = [t.start for t in metrics_config.load().terms]
    first = min(starts) if starts else None
    # A year the first term started in after 1 January (2016: term 11 from October) is partial: its target is not
    # judged (blue, as a running year), never red.
    partial = {first.year} if first is not None and (first.month, first.day) != (1, 1) else set()

    def state(r):
        if r is None:
            return None
        if r["target_min"] is not None and r["rounds"] < r["target_min"]:
            return 0.5 if not r["year_complete"] or r["year"] in partial else 0.0     # in progress or partial / below
        if r["target_max"] is not None and r["rounds"] > r["target_max"]:
            return 0.75
        return 1.0

    z = [[state(cell.get((u, y))) for y in years] for u in units]
    cd = [[[cell[(u, y)]["rounds"], cell[(u, y)]["target_min"] or 0, cell[(u, y)]["target_max"] or 0]
           if (u, y) in cell else [0, 0, 0] for y in years] for u in units]
    text = [[str(cell[(u, y)]["rounds"]) if (u, y) in cell else "" for y in years] for u in units]
    scale = [[0, BAD], [0.374, BAD], [0.375, NEUTRAL], [0.624, NEUTRAL], [0.625, WARN], [0.874, WARN], [0.875, GOOD], [1, GOOD]]
    fig = go.Figure(go.Heatmap(z=z, x=[str(y) for y in years], y=[data.name(u) for u in units], customdata=cd, text=text,
                               texttemplate="%{text}", zmin=0, zmax=1, colorscale=scale, showscale=False,
                               hovertemplate="%{y} %{x}年<br>轮次 rounds %{customdata[0]}<br>目标 target "
                                             "%{customdata[1]}–%{customdata[2]} (0 = 不设上限 no maximum)<extra></extra>"))
    _layout(fig, "巡察轮次（按年）Rounds per year vs target — 市委 ≥ 3, 县委 4–5", height=190 + 26 * len(units),
            yaxis={"autorange": "reversed", "type": "category"}, xaxis={"type": "category"})
    _rounds_key(fig, [(data.name(u), next(r for r in rows if r["county_code"] == u)) for u in units])
    done = [r for r in rows if r["year_complete"] and r["meets_target"] is not None and r["year"] not in partial]
    met = sum(bool(r["meets_target"]) for r in done)
    part = "".join(f"、{y}年不完整（届期始于 {first}）partial year" for y in sorted(partial))
    return fig, (f"已结束年度达标 complete years on target: {met} / {len(done)}; 绿=达标 met, 红=未达标 below, "
                 f"橙=超出 above, 蓝=年度进行中或不完整年度 year in progress{part}")


ROUNDS_KEY = (("达标 met the target", GOOD), ("未达标 below the target", BAD), ("超出上限 above the maximum", WARN),
              ("年度进行中或不完整 year running or partial", NEUTRAL))
"""The rounds heatmap's legend: what each colour of a cell means."""


def _rounds_key(fig, units: list[tuple[str, dict]]) -> None:
    """The rounds heatmap's legend (ROUNDS_KEY, the unit of the numbers) and, right of each unit's row, its target
    as mart.rounds_per_year gives it (target_min/target_max, from config/metrics.yml `rounds.targets`)."""
    import plotly.graph_objects as go

    for name, colour in ROUNDS_KEY:    # legend entries only: a point outside a hidden axis pair's range (an empty
        fig.add_trace(go.Scatter(x=[0], y=[0], xaxis="x2", yaxis="y2", mode="markers", name=name,  # trace or one
                                 hoverinfo="skip", showlegend=True,                             # on the heatmap's
                                 marker={"symbol": "square", "size": 13, "color": colour}))     # axes breaks them)
    hidden = {"visible": False, "range": [1, 2], "fixedrange": True}
    fig.update_layout(xaxis2={**hidden, "overlaying": "x"}, yaxis2={**hidden, "overlaying": "y"})
    plot_px = max(fig.layout.height - 50 - 120, 40)           # the legend sits 30 px under the year labels
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -30 / plot_px, "yanchor": "top",
                                               "title": {"text": "格内数字 = 当年启动的巡察轮次（轮）numbers: rounds "
                                                                 "started in the year; 颜色 colour:", "side": "top"}},
                      margin={"l": 60, "r": 120, "t": 50, "b": 120})
    targets = []
    for i, (name, r) in enumerate(units):
        lo, hi = r["target_min"], r["target_max"]
        if lo is None and hi is None:
            text = "目标 无 no target"
        elif hi is None:
            text = f"目标 ≥{lo} 轮/年"
        elif lo is None:
            text = f"目标 ≤{hi} 轮/年"
        else:
            text = f"目标 {lo}–{hi} 轮/年"
        targets.append({"x": 1.005, "xref": "paper", "xanchor": "left", "y": i, "yref": "y", "text": text,  # row i
                        "showarrow": False, "font": {"size": 11, "color": "#424242"}, "name": f"target-{name}"})
    # Set at once: plotly's add_annotation copies and re-validates every annotation so far, so one call per row grew
    # with the square of the units (197 counties: 5.3 s of the report task, far more in a Celery task; P3s 2026-12-07).
    fig.update_layout(annotations=[*fig.layout.annotations, *targets])


def rectification(data: ReportData):
    """整改完成率 per unit: bar = completion_rate, customdata = [completed, due]; overdue count in the hover."""
    import plotly.graph_objects as go

    rows = sorted(data.marts["rectification"], key=lambda r: (r["county_code"] != "410300", r["county_code"]))
    if not rows:
        return None, "无整改数据 / no rectification tasks due by this day"
    x = [data.name(r["county_code"]) for r in rows]
    cd = [[r["tasks_completed"], r["tasks_due"], r["tasks_overdue"]] for r in rows]
    fig = go.Figure(go.Bar(x=x, y=[float(r["completion_rate"] or 0) for r in rows], customdata=cd,
                           text=[f"{c}/{d}" for c, d, _ in cd], textposition="outside", marker_color=NEUTRAL,
                           hovertemplate="%{x}<br>整改完成率 completion %{y:.1%}<br>已完成 completed %{customdata[0]} / "
                                         "到期 due %{customdata[1]}<br>超期 overdue %{customdata[2]}<extra></extra>"))
    _layout(fig, "整改完成率 Rectification completion (tasks due by the as-of day)",
            yaxis={"tickformat": ".0%", "range": [0, 1.15]})
    n, d = sum(c[0] for c in cd), sum(c[1] for c in cd)
    return fig, f"全市 whole city: {n:,} / {d:,} 项到期整改任务已完成 due tasks completed ({_pct(n, d)}); " \
                f"超期 overdue {sum(c[2] for c in cd):,}"


def satisfaction(data: ReportData):
    """整改满意率 distribution: organisations per 5-point band of their rate, with the threshold line (90% by
    default, from the mart); customdata = [organisations, band]."""
    import plotly.graph_objects as go

    orgs = [r for r in data.marts["satisfaction_by_org"] if r["satisfaction_rate"] is not None]
    if not orgs:
        return None, "无测评数据 / no rated satisfaction surveys by this day"
    threshold = float(data.marts["satisfaction"][0]["threshold"]) if data.marts["satisfaction"] else 0.9
    bands: dict[int, int] = defaultdict(int)
    for r in orgs:
        bands[min(int(float(r["satisfaction_rate"]) * 20), 19)] += 1
    xs = list(range(min(bands), 20))
    counts = [bands.get(b, 0) for b in xs]
    labels = [f"{5 * b}–{5 * b + 5}%" for b in xs]
    fig = go.Figure(go.Bar(x=[b * 0.05 + 0.025 for b in xs], y=counts, width=0.045, customdata=list(zip(counts, labels)),
                           marker_color=[GOOD if b * 0.05 >= threshold - 1e-9 else WARN for b in xs],
                           text=counts, textposition="outside",
                           hovertemplate="满意率 rate %{customdata[1]}<br>单位 organisations %{customdata[0]} / "
                                         f"{len(orgs)}<extra></extra>"))
    fig.add_vline(x=threshold, line_dash="dash", line_color=BAD, annotation_text=f"{threshold:.0%} 线 line")
    _layout(fig, "整改满意率分布 Satisfaction distribution (organisations by rate)",
            xaxis={"tickformat": ".0%", "title": "满意率 satisfaction rate"}, yaxis={"title": "单位数 organisations"})
    meet = sum(bool(r["meets_threshold"]) for r in orgs)
    rolled = data.marts["satisfaction"]
    n, d = sum(r["satisfied_count"] for r in rolled), sum(r["respondents"] for r in rolled)
    return fig, (f"达到 {threshold:.0%} 的单位 organisations at or above: {meet} / {len(orgs)} ({_pct(meet, len(orgs))}); "
                 f"加权满意率 weighted rate {n:,} / {d:,} 人 respondents ({_pct(n, d)})")


def clue_ageing(data: ReportData):
    """Open clues per unit by age bucket (stacked), with the unit's 清零 state in the hover;
    customdata = [open clues, unit's open total]."""
    import plotly.graph_objects as go

    rows = data.marts["clue_ageing"]
    if not rows:
        return None, "无线索数据 / no clues transferred by this day"
    disp = {r["county_code"]: r for r in data.marts["clue_disposal"]}
    units = _units(data, rows)
    fig = go.Figure()
    palette = ["#90caf9", "#ffb74d", "#e57373", "#b71c1c", "#4a148c"]
    for b in sorted({(r["bucket_no"], r["bucket"]) for r in rows}):
        cell = {r["county_code"]: r for r in rows if r["bucket_no"] == b[0]}
        fig.add_bar(name=b[1], x=[data.name(u) for u in units], y=[cell[u]["open_clues"] if u in cell else 0 for u in units],
                    marker_color=palette[(b[0] - 1) % len(palette)],
                    customdata=[[cell[u]["open_clues"] if u in cell else 0, disp[u]["clues_open"] if u in disp else 0,
                                 "已清零 cleared" if disp.get(u, {}).get("cleared") else "未清零 not cleared"] for u in units],
                    hovertemplate="%{x} · " + b[1] + "<br>未办结 open %{customdata[0]} / 全部未办结 all open "
                                  "%{customdata[1]}<br>%{customdata[2]}<extra></extra>")
    _layout(fig, "问题线索账龄 Open clues by age (三个月反馈 3-month feedback rule)", barmode="stack",
            yaxis={"title": "未办结线索 open clues"})
    cleared = sum(r["cleared"] for r in disp.values())
    n, d = sum(r["clues_disposed"] for r in disp.values()), sum(r["clues_transferred"] for r in disp.values())
    return fig, (f"清零 cleared: {cleared} / {len(disp)} 县区 units; 已办结 disposed {n:,} / 已移交 transferred {d:,} "
                 f"({_pct(n, d)})")


def outcomes(data: ReportData):
    """处置结果 per unit by outcome type (stacked bars; the term's decisions up to the as-of day);
    customdata = [decisions of the type, the unit's decisions]."""
    import plotly.graph_objects as go

    rows = data.marts["outcomes"]
    if not rows:
        return None, "无处置结果 / no outcomes decided by this day"
    units = _units(data, rows)
    per: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        per[(r["county_code"], r["outcome_type"])] += r["outcomes"]
    total = {u: sum(v for (c, _), v in per.items() if c == u) for u in units}
    fig = go.Figure()
    for t, zh in _codes("outcome_type").items():
        if any(k[1] == t for k in per):
            fig.add_bar(name=f"{zh} {t}", x=[data.name(u) for u in units], y=[per.get((u, t), 0) for u in units],
                        customdata=[[per.get((u, t), 0), total[u]] for u in units],
                        hovertemplate="%{x} · " + zh + "<br>%{customdata[0]} / 全部处置 all outcomes "
                                      "%{customdata[1]}<extra></extra>")
    _layout(fig, "处置结果（按类型）Outcomes by type", barmode="stack", yaxis={"title": "人次 decisions"})
    amount = sum(float(r["amount_recovered"]) for r in rows)
    return fig, f"处置 decisions {sum(total.values()):,}; 收缴/挽回 recovered {amount:,.2f} 元 CNY"


CHARTS = (("coverage", coverage), ("coverage_by_type", coverage_by_type), ("rounds", rounds),
          ("rectification", rectification), ("satisfaction", satisfaction), ("clue_ageing", clue_ageing),
          ("outcomes", outcomes))
"""(id, function) in page order; the id is the chart's HTML element id (`chart-<id>`)."""
