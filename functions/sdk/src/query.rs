//! Query-string access.
//!
//! Values are percent-decoded (`+` is a space, as in HTML forms). A scalar
//! parameter given twice (`?page=1&page=2`) is an error rather than a silent
//! pick, so clients notice the mistake.

use crate::problem::FieldError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses the raw query (without the leading `?`; one is tolerated).
    pub fn parse(query: &str) -> Self {
        let query = query.strip_prefix('?').unwrap_or(query);
        Self {
            pairs: form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The single value of `name`: `Ok(None)` if absent, an error naming the
    /// parameter if it is repeated.
    pub fn single(&self, name: &str) -> Result<Option<&str>, FieldError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(FieldError::new(name, "must be given at most once"));
        }
        Ok(first)
    }

    /// Like [`single`](Self::single) but an empty value counts as absent
    /// (`?q=` from an empty search box).
    pub fn non_empty(&self, name: &str) -> Result<Option<&str>, FieldError> {
        Ok(self.single(name)?.filter(|v| !v.trim().is_empty()))
    }

    pub fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_string();
        self.pairs
            .iter()
            .filter(move |(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Names present that are not in `known`, in order of appearance and
    /// without duplicates; services may reject these to catch typos.
    pub fn unknown<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for (k, _) in &self.pairs {
            if !known.contains(&k.as_str()) && !out.contains(&k.as_str()) {
                out.push(k);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_values() {
        let q = QueryParams::parse("q=red+shoe%21&page=2");
        assert_eq!(q.single("q").unwrap(), Some("red shoe!"));
        assert_eq!(q.single("page").unwrap(), Some("2"));
        assert_eq!(q.single("missing").unwrap(), None);
    }

    #[test]
    fn leading_question_mark_is_tolerated() {
        assert_eq!(QueryParams::parse("?a=1").single("a").unwrap(), Some("1"));
    }

    #[test]
    fn repeated_scalar_is_an_error() {
        let e = QueryParams::parse("page=1&page=2")
            .single("page")
            .unwrap_err();
        assert_eq!(e.field, "page");
    }

    #[test]
    fn empty_value_counts_as_absent_for_non_empty() {
        let q = QueryParams::parse("q=&x=%20");
        assert_eq!(q.single("q").unwrap(), Some(""));
        assert_eq!(q.non_empty("q").unwrap(), None);
        assert_eq!(q.non_empty("x").unwrap(), None);
    }

    #[test]
    fn unknown_lists_each_once() {
        let q = QueryParams::parse("a=1&zz=2&zz=3&b=4");
        assert_eq!(q.unknown(&["a", "b"]), vec!["zz"]);
    }

    #[test]
    fn empty_query() {
        let q = QueryParams::parse("");
        assert_eq!(q.single("a").unwrap(), None);
        assert!(q.unknown(&[]).is_empty());
    }
}
