//! The HTML report: one self-contained page (inline CSS and vanilla JS, no
//! network) with the analysis embedded as JSON and drawn in the browser: a
//! treemap of the filesystem by directory, per-layer bars, findings with
//! their fixes and Dockerfile lines, Python distributions, the pull
//! timeline. `check` and `diff` add their own data beside the analysis.

use serde::Serialize;

use crate::analyze::Analysis;
use crate::analyze::treemap::MapNode;

const PAGE: &str = include_str!("html/page.html");
const SCRIPT: &str = include_str!("html/page.js");

/// What the page shows.
#[derive(Serialize)]
pub struct Page<'a> {
    /// The analysis (the JSON report's object); `None` for a diff.
    pub analysis: Option<&'a Analysis>,
    /// The filesystem aggregated by directory (`None`: no treemap, e.g.
    /// `--manifest-only`).
    pub treemap: Option<&'a MapNode>,
    /// `check`'s budget results, as their JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<serde_json::Value>,
    /// `diff`'s result, as its JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<serde_json::Value>,
}

/// Renders a command's report as a page: `analyze` and `check` with the
/// analysis (and the budget verdicts), `diff` with its comparison.
pub fn render_report(report: &super::Report<'_>) -> String {
    use super::Report;
    let as_json = || {
        super::json::render_report(report)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
    };
    let page = match report {
        Report::Analysis(a) => Page {
            analysis: Some(a.analysis),
            treemap: a.analysis.treemap.as_ref(),
            check: None,
            diff: None,
        },
        Report::Check(c) => Page {
            analysis: Some(c.analysis),
            treemap: c.analysis.treemap.as_ref(),
            check: as_json()
                .and_then(|mut v: serde_json::Value| v.get_mut("check").map(std::mem::take)),
            diff: None,
        },
        _ => Page {
            analysis: None,
            treemap: None,
            check: None,
            diff: as_json(),
        },
    };
    render(&page)
}

/// Renders the page.
pub fn render(page: &Page) -> String {
    let data = serde_json::to_string(page).unwrap_or_else(|_| "{}".to_owned());
    // Inside <script> only `<` can end the element: JSON allows it escaped.
    let data = data.replace('<', "\\u003c");
    let title = match (page.analysis, &page.diff) {
        (Some(a), _) => escape(&a.image.reference),
        (None, Some(d)) => escape(&format!(
            "{} → {}",
            d["old"]["reference"].as_str().unwrap_or(""),
            d["new"]["reference"].as_str().unwrap_or("")
        )),
        (None, None) => String::new(),
    };
    fill(
        PAGE,
        &[
            ("__TITLE__", &title),
            ("__DATA__", &data),
            ("__SCRIPT__", SCRIPT),
        ],
    )
}

/// Replaces each marker of the template (in template order) once, never
/// looking inside what was inserted.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|v| v.1.len()).sum::<usize>());
    let mut rest = template;
    for (marker, value) in values {
        if let Some(i) = rest.find(marker) {
            out.push_str(&rest[..i]);
            out.push_str(value);
            rest = &rest[i + marker.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_cannot_close_the_script() {
        assert_eq!(escape("a<b>&\"\u{1b}"), "a&lt;b&gt;&amp;&quot; ");
        let data = serde_json::to_string("</script><script>").unwrap_or_default();
        assert!(!data.replace('<', "\\u003c").contains('<'));
    }
}
