//! `GET /dashboard`: one self-contained page (no CDN, no build step) that shows the pool live —
//! each key masked with its state, cooldowns with countdowns, ejections, request rates, today's
//! usage per key and model, the recent requests — and, given the admin key, offers the admin
//! actions. The page holds no data: it reads the protected endpoints (`/v1/keys/status`,
//! `/v1/usage`, `/v1/requests`, `/admin/…`) with the key the operator types in, sent as a header
//! and kept only in the tab's session storage.
//!
//! The page speaks English and Simplified Chinese. Its every word is in one table,
//! `dashboard_strings.js`, spliced into the page once; the page is built once per language, with
//! `<html lang>` set to the language `Accept-Language` asks for (the page's own switch, kept in
//! the browser, overrides it).

use std::sync::LazyLock;

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

const TEMPLATE: &str = include_str!("dashboard.html");
const STRINGS: &str = include_str!("dashboard_strings.js");
/// Where the string table goes, in the template.
const STRINGS_SLOT: &str = "/* DASHBOARD_STRINGS */";
/// The template's own `<html lang>`, replaced by the page's language.
const LANG_SLOT: &str = r#"<html lang="en">"#;

/// A language the page speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    ZhCn,
}

impl Lang {
    fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language a range of `Accept-Language` names, if the page speaks it. Chinese is
    /// Simplified Chinese when the range says so or says no more (`zh`, `zh-CN`, `zh-SG`,
    /// `zh-Hans…`); Traditional (`zh-TW`, `zh-HK`, `zh-Hant…`) is not spoken.
    fn of_range(range: &str) -> Option<Lang> {
        let range = range.to_ascii_lowercase();
        let mut parts = range.split('-');
        match (parts.next(), parts.next()) {
            (Some("en"), _) => Some(Lang::En),
            (Some("zh"), None | Some("cn" | "sg" | "hans")) => Some(Lang::ZhCn),
            _ => None,
        }
    }
}

/// The language to serve for an `Accept-Language` header: the spoken language of the highest
/// q-value (the first on a tie); English when none is spoken or the header is malformed.
fn negotiate(accept_language: &str) -> Lang {
    let mut best: Option<(f32, Lang)> = None;
    for item in accept_language.split(',') {
        let mut fields = item.split(';').map(str::trim);
        let range = fields.next().unwrap_or_default();
        if range.is_empty() || !range.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        let mut q = 1.0;
        for param in fields {
            match param.split_once('=') {
                Some((name, value)) if name.trim().eq_ignore_ascii_case("q") => {
                    match value.trim().parse::<f32>() {
                        Ok(v) if (0.0..=1.0).contains(&v) => q = v,
                        _ => q = 0.0,
                    }
                }
                _ => {}
            }
        }
        if let Some(lang) = Lang::of_range(range) {
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
    }
    best.map_or(Lang::En, |(_, lang)| lang)
}

fn build(lang: Lang) -> String {
    TEMPLATE
        .replacen(LANG_SLOT, &format!(r#"<html lang="{}">"#, lang.tag()), 1)
        .replacen(STRINGS_SLOT, STRINGS, 1)
}

/// The page in each language, built on first use.
static PAGES: LazyLock<[String; 2]> = LazyLock::new(|| [build(Lang::En), build(Lang::ZhCn)]);

fn page_in(lang: Lang) -> &'static str {
    let pages: &'static [String; 2] = &PAGES;
    match lang {
        Lang::En => &pages[0],
        Lang::ZhCn => &pages[1],
    }
}

pub async fn page(headers: HeaderMap) -> Response {
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Lang::En, negotiate);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::VARY, "accept-language"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        page_in(lang),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_spoken_language() {
        for (header, want) in [
            ("zh-CN,zh;q=0.9,en;q=0.8", Lang::ZhCn),
            ("en-US,en;q=0.9,zh;q=0.1", Lang::En),
            ("fr", Lang::En),
            ("fr-FR,fr;q=0.9,zh;q=0.5", Lang::ZhCn),
            ("zh", Lang::ZhCn),
            ("zh-Hans-CN", Lang::ZhCn),
            ("ZH-sg", Lang::ZhCn),
            ("zh-TW", Lang::En),
            ("zh-Hant,zh-TW;q=0.9", Lang::En),
            ("en;q=0.5, zh-CN;q=0.8", Lang::ZhCn),
            ("zh-CN;q=0, en;q=0.1", Lang::En),
            ("*", Lang::En),
        ] {
            assert_eq!(negotiate(header), want, "{header}");
        }
    }

    #[test]
    fn a_malformed_accept_language_is_english() {
        for header in [
            "",
            ";;;",
            "zh;q=x",
            "zh;q=2",
            "zh CN",
            "zh_CN",
            ",,,",
            "\u{4e2d}\u{6587}",
        ] {
            assert_eq!(negotiate(header), Lang::En, "{header:?}");
        }
    }

    #[test]
    fn each_page_carries_its_language_and_the_string_table() {
        for lang in [Lang::En, Lang::ZhCn] {
            let page = page_in(lang);
            assert!(page.contains(&format!(r#"<html lang="{}">"#, lang.tag())));
            assert!(page.contains("const STRINGS = {") && !page.contains(STRINGS_SLOT));
        }
        assert!(
            TEMPLATE.matches(LANG_SLOT).count() == 1 && TEMPLATE.matches(STRINGS_SLOT).count() == 1
        );
    }
}
