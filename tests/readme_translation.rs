//! The README exists twice: `README.md` in English and `README.zh-CN.md` in Simplified Chinese,
//! section for section. Prose cannot be compared across languages, but structure can: every
//! heading of the Chinese file carries the English heading it translates in a comment on the
//! next line (`<!-- en: Configuration -->`), so this test walks both files and fails when a
//! section of one is missing from the other, when sections changed order or level, or when a
//! section gained or lost a code block in one file only. It also checks that every in-page link
//! (`[Models](#models)`) of either file lands on one of that file's headings, since the Chinese
//! headings have Chinese anchors. Only `std`, so it compiles on its own:
//! `rustc --edition 2021 --test tests/readme_translation.rs`.

const EN: &str = "README.md";
const ZH: &str = "README.zh-CN.md";

/// One heading and the text under it, up to the next heading of any level. The part before the
/// first heading is a section of level 0 with no text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    level: usize,
    /// The heading as written in its own file.
    text: String,
    /// What the two files are matched by: the heading itself in the English file, the text of
    /// its `<!-- en: … -->` comment in the translation.
    id: String,
    /// 1-based line of the heading.
    line: usize,
    code_blocks: usize,
}

impl Section {
    fn title(&self) -> String {
        format!("{} {}", "#".repeat(self.level), self.id)
    }
}

/// A file's sections in order, and what was wrong with its form (a heading of the translation
/// without its comment, a code fence never closed).
#[derive(Debug, Default)]
struct Outline {
    sections: Vec<Section>,
    problems: Vec<String>,
}

/// The opening of a fenced code block: its character and how many of them.
fn fence_of(line: &str) -> Option<(char, usize)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let marker = trimmed.chars().next()?;
    if marker != '`' && marker != '~' {
        return None;
    }
    let run = trimmed.chars().take_while(|&c| c == marker).count();
    (run >= 3).then_some((marker, run))
}

/// Whether `line` closes a fence opened with `run` times `marker`.
fn closes(line: &str, marker: char, run: usize) -> bool {
    match fence_of(line) {
        Some((m, n)) => m == marker && n >= run && line.trim().chars().all(|c| c == marker),
        None => false,
    }
}

/// An ATX heading (`## Models`, up to three spaces in front): its level and text, without a
/// closing run of `#`.
fn heading_of(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let mut text = rest.trim();
    let without_closing = text.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        text = without_closing.trim_end();
    }
    Some((level, text.to_string()))
}

/// The English heading a translated heading names: `<!-- en: Configuration -->`.
fn english_id(line: &str) -> Option<String> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim()
        .strip_prefix("en:")?;
    Some(inner.trim().to_string())
}

/// The sections of `markdown`, the file called `name`. With `translated`, each heading's id is
/// the English heading in the comment on its next non-blank line.
fn outline(name: &str, markdown: &str, translated: bool) -> Outline {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Outline::default();
    out.sections.push(Section {
        level: 0,
        text: String::new(),
        id: String::new(),
        line: 0,
        code_blocks: 0,
    });
    let mut fence: Option<(char, usize, usize)> = None;
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        if let Some((marker, run, _)) = fence {
            if closes(line, marker, run) {
                fence = None;
            }
            continue;
        }
        if let Some((marker, run)) = fence_of(line) {
            fence = Some((marker, run, number));
            if let Some(section) = out.sections.last_mut() {
                section.code_blocks += 1;
            }
            continue;
        }
        let Some((level, text)) = heading_of(line) else {
            continue;
        };
        let id = if translated {
            let comment = lines[index + 1..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| english_id(l));
            if let Some(id) = comment {
                id
            } else {
                out.problems.push(format!(
                    "{name} line {number}: the heading `{} {text}` has no \
                         `<!-- en: <English heading> -->` comment on the next line",
                    "#".repeat(level)
                ));
                text.clone()
            }
        } else {
            text.clone()
        };
        out.sections.push(Section {
            level,
            text,
            id,
            line: number,
            code_blocks: 0,
        });
    }
    if let Some((_, _, opened)) = fence {
        out.problems.push(format!(
            "{name} line {opened}: a code fence that is never closed"
        ));
    }
    out
}

/// Pairs of indexes (English, translation) of the longest common run of sections matched by
/// level and id, so one missing section is reported once instead of shifting every later one.
fn matched_pairs(en: &[Section], zh: &[Section]) -> Vec<(usize, usize)> {
    let same = |a: &Section, b: &Section| a.level == b.level && a.id == b.id;
    let (n, m) = (en.len(), zh.len());
    let mut longest = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            longest[i][j] = if same(&en[i], &zh[j]) {
                longest[i + 1][j + 1] + 1
            } else {
                longest[i + 1][j].max(longest[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut pairs = Vec::new();
    while i < n && j < m {
        if same(&en[i], &zh[j]) {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if longest[i + 1][j] >= longest[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

/// Every difference of structure between the English outline and the translation's, in the
/// order of the English file.
fn differences(en: &Outline, zh: &Outline) -> Vec<String> {
    let pairs = matched_pairs(&en.sections, &zh.sections);
    let mut problems = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut report_unmatched = |until_en: usize, until_zh: usize, i: &mut usize, j: &mut usize| {
        while *i < until_en {
            let s = &en.sections[*i];
            problems.push(format!(
                "{ZH} lacks the section `{}` ({EN} line {})",
                s.title(),
                s.line
            ));
            *i += 1;
        }
        while *j < until_zh {
            let s = &zh.sections[*j];
            problems.push(format!(
                "{ZH} has `{}` (line {}, `<!-- en: {} -->`) that {EN} does not",
                "#".repeat(s.level) + " " + &s.text,
                s.line,
                s.id
            ));
            *j += 1;
        }
    };
    let mut counts = Vec::new();
    for &(pi, pj) in &pairs {
        report_unmatched(pi, pj, &mut i, &mut j);
        let (a, b) = (&en.sections[pi], &zh.sections[pj]);
        if a.code_blocks != b.code_blocks {
            let name = if a.level == 0 {
                "the text before the first heading".to_string()
            } else {
                format!("the section `{}`", a.title())
            };
            counts.push(format!(
                "{name} has {} code block(s) in {EN} (line {}) but {} in {ZH} (line {})",
                a.code_blocks, a.line, b.code_blocks, b.line
            ));
        }
        i = pi + 1;
        j = pj + 1;
    }
    report_unmatched(en.sections.len(), zh.sections.len(), &mut i, &mut j);
    problems.extend(counts);
    problems
}

/// The anchor GitHub gives a heading: lower case, letters (any script), digits, `-` and `_`
/// kept, spaces made `-`, everything else (backticks, punctuation, Chinese punctuation) dropped.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// In-page links (`](#anchor)`) of `markdown` outside code blocks that no heading's anchor
/// answers.
fn broken_anchors(name: &str, markdown: &str, sections: &[Section]) -> Vec<String> {
    // A repeated heading's anchor gets `-1`, `-2`, … as on GitHub.
    let bases: Vec<String> = sections
        .iter()
        .filter(|s| s.level > 0)
        .map(|s| slug(&s.text))
        .collect();
    let anchors: Vec<String> = bases
        .iter()
        .enumerate()
        .map(
            |(i, base)| match bases[..i].iter().filter(|b| *b == base).count() {
                0 => base.clone(),
                taken => format!("{base}-{taken}"),
            },
        )
        .collect();
    let mut problems = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (index, line) in markdown.lines().enumerate() {
        if let Some((marker, run)) = fence {
            if closes(line, marker, run) {
                fence = None;
            }
            continue;
        }
        if let Some(opening) = fence_of(line) {
            fence = Some(opening);
            continue;
        }
        for (at, _) in line.match_indices("](#") {
            let rest = &line[at + 3..];
            let anchor = rest.split(')').next().unwrap_or(rest);
            if !anchors.iter().any(|a| a == anchor) {
                problems.push(format!(
                    "{name} line {}: the link `#{anchor}` leads to no heading of {name}",
                    index + 1
                ));
            }
        }
    }
    problems
}

/// Everything wrong with the pair of READMEs, one sentence each; empty when they are in step.
fn check(en_markdown: &str, zh_markdown: &str) -> Vec<String> {
    let en = outline(EN, en_markdown, false);
    let zh = outline(ZH, zh_markdown, true);
    let mut problems = Vec::new();
    problems.extend(en.problems.iter().cloned());
    problems.extend(zh.problems.iter().cloned());
    problems.extend(differences(&en, &zh));
    problems.extend(broken_anchors(EN, en_markdown, &en.sections));
    problems.extend(broken_anchors(ZH, zh_markdown, &zh.sections));
    problems
}

#[test]
fn the_chinese_readme_has_every_section_of_the_english_one_in_order() {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let en = read(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    let zh = read(concat!(env!("CARGO_MANIFEST_DIR"), "/README.zh-CN.md"));
    let problems = check(&en, &zh);
    assert!(
        problems.is_empty(),
        "README.md and README.zh-CN.md are out of step (translate the new or changed section, \
         with `<!-- en: <English heading> -->` under its heading):\n- {}",
        problems.join("\n- ")
    );
    let sections = outline(EN, &en, false).sections.len();
    assert!(sections > 20, "README.md has only {sections} sections");
}

#[cfg(test)]
mod parser {
    use super::*;

    const ENGLISH: &str = "\
# Title

Intro.

## Alpha

```sh
# a shell comment, not a heading
run it
```

### Alpha detail

See [Beta](#beta).

## Beta

Text.
";

    const CHINESE: &str = "\
# 标题
<!-- en: Title -->

简介。

## 甲
<!-- en: Alpha -->

```sh
# a shell comment, not a heading
run it
```

### 甲的细节
<!-- en: Alpha detail -->

见[乙](#乙)。

## 乙
<!-- en: Beta -->

正文。
";

    #[test]
    fn files_in_step_pass() {
        assert_eq!(check(ENGLISH, CHINESE), Vec::<String>::new());
    }

    #[test]
    fn a_hash_inside_a_code_fence_is_not_a_heading() {
        let en = outline(EN, ENGLISH, false);
        let ids: Vec<String> = en.sections[1..].iter().map(Section::title).collect();
        assert_eq!(ids, ["# Title", "## Alpha", "### Alpha detail", "## Beta"]);
        assert_eq!(en.sections[2].code_blocks, 1);
        let tilde = "## A\n~~~~\n## not a heading\n```\nstill code\n~~~~\n## B\n";
        let titles: Vec<String> = outline(EN, tilde, false).sections[1..]
            .iter()
            .map(Section::title)
            .collect();
        assert_eq!(titles, ["## A", "## B"]);
    }

    #[test]
    fn a_section_missing_from_the_translation_is_named_with_its_english_line() {
        let zh = CHINESE.replace("### 甲的细节\n<!-- en: Alpha detail -->\n", "");
        assert_eq!(
            check(ENGLISH, &zh),
            ["README.zh-CN.md lacks the section `### Alpha detail` (README.md line 12)"]
        );
    }

    #[test]
    fn a_section_missing_from_the_english_readme_is_named_too() {
        let en = ENGLISH.replace("## Beta\n\nText.\n", "");
        let en = en.replace("See [Beta](#beta).", "");
        let problems = check(&en, CHINESE);
        assert_eq!(
            problems,
            ["README.zh-CN.md has `## 乙` (line 19, `<!-- en: Beta -->`) that README.md does not"]
        );
    }

    #[test]
    fn a_changed_level_or_order_is_caught() {
        let en = ENGLISH.replace("### Alpha detail", "## Alpha detail");
        let problems = check(&en, CHINESE);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("lacks the section `## Alpha detail`"));
        assert!(problems[1].contains("has `### 甲的细节`"));
    }

    #[test]
    fn a_changed_code_block_count_is_caught() {
        let zh = CHINESE.replace("正文。\n", "正文。\n\n```json\n{}\n```\n");
        assert_eq!(
            check(ENGLISH, &zh),
            [
                "the section `## Beta` has 0 code block(s) in README.md (line 16) \
              but 1 in README.zh-CN.md (line 19)"
            ]
        );
    }

    #[test]
    fn a_translated_heading_without_its_english_comment_is_caught() {
        let zh = CHINESE.replace("<!-- en: Beta -->\n", "");
        let problems = check(ENGLISH, &zh);
        assert!(
            problems[0].starts_with("README.zh-CN.md line 19: the heading `## 乙` has no"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_fence_left_open_is_caught() {
        let problems = check(ENGLISH, &format!("{CHINESE}\n```sh\nls\n"));
        assert!(
            problems.iter().any(|p| p.contains("never closed")),
            "{problems:?}"
        );
    }

    #[test]
    fn links_must_land_on_a_heading_of_their_own_file() {
        let zh = CHINESE.replace("(#乙)", "(#beta)");
        assert_eq!(
            check(ENGLISH, &zh),
            ["README.zh-CN.md line 17: the link `#beta` leads to no heading of README.zh-CN.md"]
        );
    }

    #[test]
    fn anchors_are_made_as_github_makes_them() {
        assert_eq!(
            slug("Client keys with limits, the config file"),
            "client-keys-with-limits-the-config-file"
        );
        assert_eq!(slug("`/v1/keys/status`"), "v1keysstatus");
        assert_eq!(
            slug("文件、缓存、批处理与 Interactions"),
            "文件缓存批处理与-interactions"
        );
        assert_eq!(
            heading_of("### Closed ###"),
            Some((3, "Closed".to_string()))
        );
        assert_eq!(heading_of("#hashtag"), None);
        assert_eq!(heading_of("    # indented code"), None);
    }
}
