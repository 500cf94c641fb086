"""Great Expectations Data Docs that work offline and quote county data as text.

GX 1.24 renders its Data Docs pages with Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from public
CDNs (great_expectations/render/view/templates/*.j2), so on an office network without internet they show an
unstyled page with dead buttons. And it pastes unexpected values from the validated data into the page
unescaped: a county cell `<img src=x onerror=...>` becomes markup. Values are escaped before GX stores a
result (xuncha.validate.validation); here, after GX builds the site, `make_offline(site_dir)`: every page is rewritten: remote `<script>`/`<link>`
   and every script are removed (the pages' scripts only drive the CDN widgets: filters, sortable tables);
   GX's own local stylesheets (static/styles, shipped in the package) and a small stylesheet standing in for
   the Bootstrap classes the pages use are inlined; a Content-Security-Policy forbidding any fetch and any
   script is added. The pages' content (suites, expectations, observed and unexpected values) is unchanged,
   except the site index: GX fills its table of validation results with bootstrap-table from a script, so the
   rewrite writes that list into the page as plain links (newest first).

Every link of a rewritten page resolves inside the site (issue 28: the suite link of a result page was a 404): a
result page of the `<entity>_columns` / `<entity>_rules` passes links to the page of the entity's whole suite
(expectations/<entity>.html, rendered by xuncha.validate.validation.publish_docs); a link to a page that does not
exist, or off the site (GX's home page: nothing to open offline), loses its href and stays as text.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

CSP = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
       "img-src data:; font-src data:\">")
"""No script, no request: what remains is the page's HTML and inline styles."""
STAND_IN_CSS = Path(__file__).with_name("templates") / "datadocs.css"
_REMOTE_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_REMOTE_SRC = re.compile(r"<(img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*[\"']?(https?:)?//[^>]*>", re.IGNORECASE)
_REMOTE_URL = re.compile(r"url\(\s*['\"]?(https?:)?//[^)]*\)", re.IGNORECASE)
_FOOTER = re.compile(r"<footer\b.*?</footer\s*>", re.IGNORECASE | re.DOTALL)
_MARK = "<!-- xuncha: offline -->"


def make_offline(site_dir: Path, since: float = 0.0) -> list[Path]:
    """Rewrite the HTML pages under `site_dir` modified at or after `since` (a time.time(); 0 = all) as the
    module doc says. Idempotent: a page already rewritten is left alone. Returns the pages rewritten."""
    site_dir = Path(site_dir)
    styles = _local_styles(site_dir) + STAND_IN_CSS.read_text(encoding="utf-8")
    done = []
    for page in site_dir.rglob("*.html"):
        if since and page.stat().st_mtime < since:
            continue
        text = page.read_text(encoding="utf-8")
        if _MARK in text:
            continue
        text = _resolve_links(offline_html(text, styles), page, site_dir)
        if page == site_dir / "index.html":
            text = text.replace("</body>", _index_list(site_dir) + "</body>", 1)
        page.write_text(text, encoding="utf-8")
        done.append(page)
    return done


def site_path(url: str, site_dir: Path) -> str:
    """The site-relative path (posix) of the Data Docs page at `url` (GX's file:// URL of a page of `site_dir`);
    what reports keep instead of a platform path. ValueError for a page outside the site."""
    from urllib.parse import unquote, urlsplit

    path = Path(unquote(urlsplit(url).path)).resolve()
    return path.relative_to(Path(site_dir).resolve()).as_posix()


_HREF = re.compile(r"""\bhref\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_PASS_SUFFIX = re.compile(r"_(columns|rules)(\.html)$")


def _resolve_links(text: str, page: Path, site_dir: Path) -> str:
    """`text` (the HTML of `page`) with every href resolving inside `site_dir`: in-page anchors kept, a missing
    `expectations/<entity>_columns|_rules.html` sent to `expectations/<entity>.html`, anything else that does
    not resolve (or leaves the site) without its href."""
    site = site_dir.resolve()

    def fix(m: re.Match) -> str:
        href = html.unescape(m.group(2))
        if href.startswith("#"):
            return m.group(0)
        if "://" in href or href.startswith(("//", "mailto:", "/")):
            return ""
        target, anchor = href.split("#", 1) if "#" in href else (href, None)
        for candidate in (target, _PASS_SUFFIX.sub(r"\2", target)):
            resolved = (page.parent / candidate).resolve()
            if resolved.is_relative_to(site) and resolved.is_file():
                new = candidate + (f"#{anchor}" if anchor else "")
                return f'href="{html.escape(new)}"'
        return ""

    return _HREF.sub(fix, text)


def offline_html(text: str, styles: str) -> str:
    """One page's HTML without scripts or remote/linked resources, with `styles` inlined and the CSP added."""
    text = _SCRIPT.sub("", text)
    text = _REMOTE_LINK.sub("", text)                     # CDN stylesheets, and local ones (inlined below)
    text = _REMOTE_SRC.sub("", text)
    text = _FOOTER.sub("", text)                          # GX's newsletter link: nothing to subscribe to offline
    head = f"{_MARK}\n{CSP}\n<style>\n{styles}\n</style>\n"
    text = re.sub(r"<head\b[^>]*>", lambda m: m.group(0) + "\n" + head, text, count=1, flags=re.IGNORECASE)
    return _REMOTE_URL.sub("none", text)                  # CSS background: url('https://…') (GX's logo)


def _index_list(site_dir: Path, limit: int = 1000) -> str:
    """The validation result pages of the site as a plain list of links, newest first (at most `limit`)."""
    pages = sorted((site_dir / "validations").rglob("*.html"), key=lambda p: p.stat().st_mtime, reverse=True)
    items = "".join(f'<li><a href="{html.escape(p.relative_to(site_dir).as_posix())}">'
                    f"{html.escape(' / '.join(p.relative_to(site_dir / 'validations').parts[:2]))}</a></li>\n"
                    for p in pages[:limit])
    return (f'<div class="container-fluid" id="xuncha-validations"><h3>Validation results 校验结果 ({len(pages)})</h3>'
            f"<ul>\n{items}</ul></div>\n")


def _local_styles(site_dir: Path) -> str:
    """GX's own stylesheets (copied by GX into the site's static/styles from the package), minus web fonts."""
    folder = site_dir / "static" / "styles"
    css = "".join(p.read_text(encoding="utf-8") + "\n" for p in sorted(folder.glob("*.css"))) if folder.exists() else ""
    return re.sub(r"@font-face\s*{[^}]*}", "", css)
