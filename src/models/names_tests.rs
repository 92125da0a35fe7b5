use serde_json::json;

use super::*;

fn catalog(ids: &[&str]) -> Catalog {
    let models: Vec<_> = ids
        .iter()
        .map(|id| {
            let methods = if id.contains("embedding") {
                json!(["embedContent"])
            } else {
                json!(["generateContent"])
            };
            json!({"name": format!("models/{id}"), "supportedGenerationMethods": methods})
        })
        .collect();
    let mut c = Catalog::default();
    c.add_listing("k", "v1beta", &models);
    c
}

fn today() -> Catalog {
    catalog(&[
        "gemini-3.8-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.1-pro-preview",
        "gemini-2.5-flash-lite",
        "gemini-embedding-001",
    ])
}

fn claude(name: &str) -> Option<Tier> {
    if name.contains("haiku") {
        Some(Tier::Small)
    } else if name.contains("sonnet") || name.contains("opus") {
        Some(Tier::Big)
    } else {
        None
    }
}

fn served(naming: &Naming, c: Option<&Catalog>, name: &str) -> (String, Via) {
    let r = resolve(naming, c, name, claude).unwrap();
    (r.model.to_string(), r.via)
}

#[test]
fn live_names_are_served_as_named() {
    let c = today();
    let n = Naming::default();
    assert_eq!(
        served(&n, Some(&c), "models/gemini-3.8-flash"),
        ("gemini-3.8-flash".into(), Via::Named)
    );
}

#[test]
fn retired_names_are_served_by_their_replacement_chains_included() {
    let c = today();
    let n = Naming::default();
    let r = resolve(&n, Some(&c), "gemini-2.5-pro", claude).unwrap();
    assert_eq!(
        (&*r.model, r.via, r.from.as_deref()),
        ("gemini-3.8-flash", Via::Retired, Some("gemini-2.5-pro"))
    );
    let r = resolve(&n, Some(&c), "gemini-2.0-flash", claude).unwrap();
    assert_eq!(
        (&*r.model, r.from.as_deref()),
        ("gemini-3.5-flash-lite", Some("gemini-2.0-flash"))
    );
    assert_eq!(
        served(&n, Some(&c), "text-embedding-004").0,
        "gemini-embedding-001"
    );
    // Before the catalog is read the retirements apply too.
    assert_eq!(
        served(&n, None, "gemini-3-pro-preview").0,
        "gemini-3.1-pro-preview"
    );
    // A retired name the catalog still lists (a key Google still serves it to) is served.
    let mut still = today();
    still.add_listing("k", "v1beta", &[json!({"name": "models/gemini-2.5-pro"})]);
    assert_eq!(
        served(&n, Some(&still), "gemini-2.5-pro"),
        ("gemini-2.5-pro".into(), Via::Named)
    );
    // Turned off, a retired name is unknown like any other.
    let off = Naming {
        retired_aliases: false,
        ..Naming::default()
    };
    assert!(matches!(
        resolve(&off, Some(&c), "gemini-2.5-pro", claude),
        Err(Unresolved::Unknown { .. })
    ));
}

#[test]
fn operator_aliases_win_and_patterns_match() {
    let c = today();
    let n = Naming {
        aliases: vec![
            Alias {
                pattern: "gemini-3.8-flash".into(),
                target: "gemini-3.5-flash-lite".into(),
            },
            Alias {
                pattern: "claude-*-haiku-*".into(),
                target: "gemini-2.5-flash-lite".into(),
            },
            Alias {
                pattern: "my-model".into(),
                target: "gemini-2.5-pro".into(),
            },
        ],
        ..Naming::default()
    };
    assert_eq!(
        served(&n, Some(&c), "gemini-3.8-flash"),
        ("gemini-3.5-flash-lite".into(), Via::Alias)
    );
    assert_eq!(
        served(&n, Some(&c), "claude-3-5-haiku-20241022"),
        ("gemini-2.5-flash-lite".into(), Via::Alias)
    );
    // An alias to a retired name follows the retirement.
    assert_eq!(served(&n, Some(&c), "my-model").0, "gemini-3.8-flash");
}

#[test]
fn tiers_follow_the_catalog_unless_written() {
    let mut c = today();
    let n = Naming::default();
    assert_eq!(
        served(&n, Some(&c), "claude-sonnet-4-5"),
        ("gemini-3.1-pro-preview".into(), Via::Tier)
    );
    assert_eq!(
        served(&n, Some(&c), "claude-haiku-4-5").0,
        "gemini-3.8-flash"
    );
    c.add_listing(
        "k",
        "v1beta",
        &[json!({"name": "models/gemini-pro-latest", "supportedGenerationMethods": ["generateContent"]})],
    );
    assert_eq!(served(&n, Some(&c), "claude-opus-5").0, "gemini-pro-latest");
    assert_eq!(served(&n, None, "claude-opus-5").0, PRO_LATEST);
    let written = Naming {
        big: Some("gemini-2.5-pro".into()),
        ..Naming::default()
    };
    // A 2.5-era BIG_MODEL still answers, from the retirement alias.
    assert_eq!(
        served(&written, Some(&c), "claude-opus-5"),
        ("gemini-3.8-flash".into(), Via::Retired)
    );
}

#[test]
fn unknown_names_get_the_closest_live_ones() {
    let c = today();
    let n = Naming::default();
    let Err(Unresolved::Unknown { name, closest }) =
        resolve(&n, Some(&c), "gemini-3.8-flsh", claude)
    else {
        panic!("unknown");
    };
    assert_eq!(name, "gemini-3.8-flsh");
    assert_eq!(closest[0], "gemini-3.8-flash");
    assert!(matches!(
        resolve(&n, Some(&c), "gemini/../files", claude),
        Err(Unresolved::Invalid(_))
    ));
    // Before the catalog is read, plain names pass.
    assert_eq!(served(&n, None, "gemini-9-future").0, "gemini-9-future");
}

#[test]
fn fallback_chains() {
    let n = Naming {
        fallbacks: vec![vec![
            "gemini-3.1-pro-preview".into(),
            "gemini-3.8-flash".into(),
            "gemini-3.5-flash-lite".into(),
        ]],
        ..Naming::default()
    };
    assert_eq!(
        fallback_after(&n, "gemini-3.1-pro-preview"),
        Some("gemini-3.8-flash")
    );
    assert_eq!(
        fallback_after(&n, "gemini-3.8-flash"),
        Some("gemini-3.5-flash-lite")
    );
    assert_eq!(fallback_after(&n, "gemini-3.5-flash-lite"), None);
    assert_eq!(fallback_after(&n, "gemini-4-argon"), None);
}
