//! `index.html` and `index.md`: every figure with its caption and summary table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::load::Inputs;
use crate::{Figure, ReportError, write_atomically};

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown pipe table → HTML table.
fn md_to_html_table(md: &str) -> String {
    let mut out = String::from("<table>\n");
    for (i, line) in md.lines().enumerate() {
        if i == 1 {
            continue; // the |---| separator
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
        let tag = if i == 0 { "th" } else { "td" };
        out.push_str("<tr>");
        for c in cells {
            let _ = write!(out, "<{tag}>{}</{tag}>", html_escape(c.trim()));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

pub fn write(
    results: &Path,
    out: &Path,
    figures: &[Figure],
    inputs: &Inputs,
) -> Result<(PathBuf, PathBuf), ReportError> {
    let sources: Vec<String> = inputs
        .runs
        .iter()
        .map(|r| r.path.display().to_string())
        .chain(inputs.sweeps.iter().map(|s| s.path.display().to_string()))
        .collect();
    let mut md = format!(
        "# hesim report\n\nFrom `{}` ({} simulation result(s), {} sweep table(s)). Figures are \
         SVG (PNG beside each).\n\n",
        results.display(),
        inputs.runs.len(),
        inputs.sweeps.len()
    );
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>hesim \
         report</title>\n<style>body{{font-family:sans-serif;max-width:1150px;margin:auto;\
         padding:1em}}img{{max-width:100%;border:1px solid #ddd}}table{{border-collapse:\
         collapse;margin:.5em 0 2em}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:\
         left;font-size:90%}}</style></head><body>\n<h1>hesim report</h1>\n<p>From <code>{}\
         </code> ({} simulation result(s), {} sweep table(s)).</p>\n<ul>\n",
        html_escape(&results.display().to_string()),
        inputs.runs.len(),
        inputs.sweeps.len()
    );
    for f in figures {
        let _ = writeln!(
            html,
            "<li><a href=\"#{}\">{}</a></li>",
            f.name,
            html_escape(&f.title)
        );
    }
    html.push_str("</ul>\n");
    for f in figures {
        let _ = write!(
            md,
            "## {}\n\n![{}]({}.svg)\n\n{} ([PNG]({}.png))\n\n{}\n",
            f.title, f.title, f.name, f.caption, f.name, f.table
        );
        let _ = write!(
            html,
            "<h2 id=\"{}\">{}</h2>\n<img src=\"{}.svg\" alt=\"{}\">\n<p>{} (<a \
             href=\"{}.png\">PNG</a>)</p>\n{}",
            f.name,
            html_escape(&f.title),
            f.name,
            html_escape(&f.title),
            html_escape(&f.caption),
            f.name,
            md_to_html_table(&f.table)
        );
    }
    md.push_str("## Sources\n\n");
    html.push_str("<h2>Sources</h2>\n<ul>\n");
    for s in &sources {
        let _ = writeln!(md, "- `{s}`");
        let _ = writeln!(html, "<li><code>{}</code></li>", html_escape(s));
    }
    html.push_str("</ul>\n</body></html>\n");
    let index_html = out.join("index.html");
    let index_md = out.join("index.md");
    write_atomically(&index_html, html.as_bytes())?;
    write_atomically(&index_md, md.as_bytes())?;
    Ok((index_html, index_md))
}
