//! Thought signatures through clients that keep only the standard fields. Gemini 3 rejects a
//! replayed function call without the signature it was issued (and a forged one). OpenAI
//! clients keep a tool call's `id` (Chat Completions) or `call_id` (Responses) whatever else
//! they drop, so the signature travels inside it: `call_<random>__gs<family>_<signature>`, the
//! family being the model version it was issued for (a signature is only replayed to the same
//! family). Where no signature survives, Google's documented sentinel goes instead.

/// Google's "skip validation" thought signature for history the model did not produce.
pub const SKIP_SIGNATURE_SENTINEL: &str = "skip_thought_signature_validator";

const MARK: &str = "__gs";

/// The characters of an id's random part.
const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The length of an id's random part.
const ID_CHARS: usize = 24;

/// `prefix` + 24 random ASCII alphanumerics (`call_…`, `msg_…`), each uniform: six random bits
/// a character, the two values past the alphabet drawn again. Three or four 64-bit draws an id
/// instead of one thread-local draw a character (a sixth of the cost).
pub fn new_id(prefix: &str) -> String {
    let mut random = [0u8; ID_CHARS];
    let mut rng = fastrand::Rng::new();
    let (mut bits, mut left) = (0u64, 0u32);
    let mut made = 0;
    while made < ID_CHARS {
        if left < 6 {
            (bits, left) = (rng.u64(..), 64);
        }
        let six = (bits & 63) as usize;
        (bits, left) = (bits >> 6, left - 6);
        if let Some(&c) = ALPHANUMERIC.get(six) {
            random[made] = c;
            made += 1;
        }
    }
    // Written at once: ASCII letters and digits, always UTF-8.
    let mut id = String::with_capacity(prefix.len() + ID_CHARS);
    id.push_str(prefix);
    id.push_str(std::str::from_utf8(&random).unwrap_or_default());
    id
}

/// A fresh id that carries `signature` (issued for `family`), when there is one.
pub fn id_carrying(prefix: &str, family: &str, signature: Option<&str>) -> String {
    let mut id = new_id(prefix);
    if let Some(sig) = signature.filter(|s| !s.is_empty() && !family.contains('_')) {
        id.push_str(MARK);
        id.push_str(family);
        id.push('_');
        id.push_str(sig);
    }
    id
}

/// The (family, signature) an id made by [`id_carrying`] carries.
pub fn carried(id: &str) -> Option<(&str, &str)> {
    let (_, rest) = id.split_once(MARK)?;
    let (family, sig) = rest.split_once('_')?;
    (!sig.is_empty()).then_some((family, sig))
}

/// The signature to replay on a call to a model of `family`: one carried by the id (or given
/// beside it) when it was issued for that family.
pub fn for_family<'a>(family: &str, id: &'a str, given: Option<&'a str>) -> Option<&'a str> {
    match carried(id) {
        Some((f, sig)) if f == family => Some(sig),
        Some(_) => None,
        None => given.filter(|s| !s.is_empty()),
    }
}

/// A signature as opaque content a client keeps and sends back (a Responses `reasoning`
/// item's `encrypted_content`): `gs1|<family>|<signature>`.
pub fn sealed(family: &str, signature: &str) -> String {
    format!("gs1|{family}|{signature}")
}

/// The (family, signature) of [`sealed`] content.
pub fn unsealed(content: &str) -> Option<(&str, &str)> {
    let rest = content.strip_prefix("gs1|")?;
    let (family, sig) = rest.split_once('|')?;
    (!sig.is_empty()).then_some((family, sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_prefix_and_24_alphanumerics_drawn_from_all_62() {
        let mut seen = std::collections::BTreeMap::<char, usize>::new();
        let mut ids = std::collections::BTreeSet::new();
        for _ in 0..2_000 {
            let id = new_id("msg_");
            let random = id.strip_prefix("msg_").unwrap();
            assert_eq!(random.len(), 24, "{id}");
            assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
            for c in random.chars() {
                *seen.entry(c).or_default() += 1;
            }
            ids.insert(id);
        }
        assert_eq!(ids.len(), 2_000, "ids repeat");
        // 48,000 characters: each of the 62 expected ~774 times; a character never drawn, or
        // drawn at twice the rate (a skewed mapping of the six bits), is far outside chance.
        assert_eq!(seen.len(), 62);
        assert!(seen.values().all(|n| (550..1_000).contains(n)), "{seen:?}");
    }

    #[test]
    fn a_signature_rides_in_the_id_and_only_back_to_its_family() {
        let id = id_carrying("call_", "3", Some("c2lnbmF0dXJl+/="));
        assert!(id.starts_with("call_"));
        assert_eq!(carried(&id), Some(("3", "c2lnbmF0dXJl+/=")));
        assert_eq!(for_family("3", &id, None), Some("c2lnbmF0dXJl+/="));
        assert_eq!(for_family("2.5", &id, None), None, "another family");
        let plain = id_carrying("call_", "3", None);
        assert_eq!(plain.len(), 29);
        assert_eq!(carried(&plain), None);
        assert_eq!(for_family("3", &plain, Some("given")), Some("given"));
        assert_eq!(for_family("3", "call_from_elsewhere", None), None);
        assert_eq!(unsealed(&sealed("2.5", "abc")), Some(("2.5", "abc")));
        assert_eq!(unsealed("opaque OpenAI content"), None);
    }
}
