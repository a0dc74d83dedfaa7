//! "Did you mean": the closest known name to a mistyped one, for error messages about datasets,
//! methods and settings.

/// The candidate nearest to `word` in edit distance, when it is near enough to be a typo
/// (at most a third of the word's letters changed, and at least one letter allowed).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// " Did you mean `NAME`?" when a candidate is near, else nothing: ready to append to a message.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or(String::new(), |c| format!(" Did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_its_name_and_a_stranger_finds_none() {
        let names = ["moons", "8gaussians", "checkerboard", "rotating-moons"];
        assert_eq!(closest("moon", names), Some("moons"));
        assert_eq!(closest("8gausians", names), Some("8gaussians"));
        assert_eq!(closest("Checkerbord", names), Some("checkerboard"));
        assert_eq!(closest("spiral", names), None);
        assert_eq!(did_you_mean("rotating-mons", names), " Did you mean `rotating-moons`?");
        assert_eq!(did_you_mean("xyz", names), "");
    }
}
