"""The HTML report's charts: matplotlib figures as inline SVG, with Japanese labels kept as text.

matplotlib is imported here only, and only when a report is asked for (it costs about 0.6 s, and
the two charts about 0.1 s each): `etl build --html` and `etl report` have them drawn in a child
process (etl.report.drawer), which loads matplotlib while the command loads its own libraries.
Labels stay `<text>` in the SVG (`svg.fonttype: none`), so the browser draws them with the page's
fonts and they can be searched, copied and read by a screen reader; matplotlib measures them with
IPAexGothic, which the PyPI package japanize-matplotlib ships, so no system font is needed to
lay them out and no glyph goes missing. The SVG is deterministic: no date, a fixed id salt.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import sys
import warnings
from pathlib import Path

# Colour-blind-safe (Okabe–Ito), one per 相手方区分 in the order the table prints them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
FONT_FILE = Path("fonts") / "ipaexg.ttf"


class ChartError(RuntimeError):
    """The charts cannot be drawn without tofu (the Japanese font is missing)."""


def font_path() -> Path:
    """IPAexGothic from japanize-matplotlib, found without importing that module (it imports distutils)."""
    spec = importlib.util.find_spec("japanize_matplotlib")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        if (Path(folder) / FONT_FILE).is_file():
            return Path(folder) / FONT_FILE
    raise ChartError("the Japanese font IPAexGothic is missing: install the package japanize-matplotlib "
                     "(python3 tasks.py setup does).")


def _matplotlib():
    # The one-off "building the font cache" notice is not a problem of the report; keep stderr clean.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    font = font_path()
    font_manager.fontManager.addfont(str(font))
    family = font_manager.FontProperties(fname=str(font)).get_name()
    matplotlib.rcParams.update({
        "font.family": [family], "svg.fonttype": "none", "svg.hashsalt": "etl-report",
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 10,
    })
    return Figure


def _svg(fig, title: str) -> str:
    """The figure as an SVG element for inline use (no XML prolog, no DOCTYPE), with a title."""
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*missing from (current )?font.*")  # tofu is an error
        try:
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
        except UserWarning as exc:
            raise ChartError(f"a label has a character the font IPAexGothic lacks ({exc})") from None
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<svg ", f'<svg role="img" aria-label="{_attr(title)}" ', text, count=1)
    return text.replace(">", f"><title>{_attr(title)}</title>", 1)


def _attr(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def counts_chart(rows: list[str], columns: list[str], cells: dict[tuple[str, str], int]) -> str:
    """Agreements by 協定種別 (bars), stacked by 相手方区分, each bar's total at its end."""
    figure = _matplotlib()
    fig = figure(figsize=(7, 0.55 * len(rows) + 1.4))
    ax = fig.add_subplot()
    left = [0] * len(rows)
    for j, col in enumerate(columns):
        values = [cells.get((r, col), 0) for r in rows]
        ax.barh(rows, values, left=left, label=col, color=PALETTE[j % len(PALETTE)])
        left = [a + b for a, b in zip(left, values)]
    for i, total in enumerate(left):
        ax.text(total, i, f" {total}", va="center")
    ax.invert_yaxis()
    ax.set_xlabel("協定数（件）")
    ax.set_title("協定種別・相手方区分別の協定数")
    ax.legend(title="相手方区分", ncols=len(columns), loc="lower center", bbox_to_anchor=(0.5, 1.08), frameon=False)
    return _svg(fig, "協定種別・相手方区分別の協定数")


def budget_chart(fields: list[str], budgets: list[int], sub: list[int]) -> str:
    """Budgets (千円) by 分野, the うち part drawn inside its bar."""
    figure = _matplotlib()
    fig = figure(figsize=(7, 0.45 * len(fields) + 1.4))
    ax = fig.add_subplot()
    ax.barh(fields, budgets, color=PALETTE[0], label="予算額")
    ax.barh(fields, sub, color=PALETTE[1], hatch="//", edgecolor="white", label="うち額")
    for i, (b, s) in enumerate(zip(budgets, sub)):
        ax.text(b, i, f" {b:,}" + (f"（うち {s:,}）" if s else ""), va="center")
    ax.invert_yaxis()
    ax.set_xlabel("予算額（千円）")
    ax.set_xlim(0, max(budgets, default=1) * 1.35)
    ax.set_title("分野別の予算額（千円）")
    ax.legend(loc="lower right", frameon=False)
    return _svg(fig, "分野別の予算額（千円）")


def loaded() -> bool:
    """Whether this process has loaded matplotlib already."""
    return "matplotlib.figure" in sys.modules
