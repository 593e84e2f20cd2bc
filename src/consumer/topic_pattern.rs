//! A compiled topic pattern (`subscribe_pattern`): what it matches in the cluster metadata. A
//! leaf of `consumer/`: the subscription state and the group task hold one.

use std::collections::BTreeSet;

use crate::cluster::ClusterMetadata;
use crate::{Error, ErrorKind, Result};

/// A compiled topic pattern and its source text.
#[derive(Debug, Clone)]
pub(crate) struct TopicPattern {
    source: String,
    /// The source anchored at both ends (`^(?:…)$`): a full match, as Java.
    full: regex::Regex,
}

impl TopicPattern {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// `InvalidArgument` naming the pattern and what is wrong with it.
    pub(crate) fn new(pattern: &str) -> Result<TopicPattern> {
        if pattern.is_empty() {
            return Err(Error::new(ErrorKind::InvalidArgument)
                .with_detail("subscribe_pattern() needs a non-empty pattern"));
        }
        let full = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            Error::new(ErrorKind::InvalidArgument).with_detail(format!(
                "subscribe_pattern({pattern:?}): not a valid regular expression: {}",
                first_line(&e.to_string())
            ))
        })?;
        Ok(TopicPattern {
            source: pattern.to_owned(),
            full,
        })
    }

    /// The pattern as given.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The non-internal topics of `md` whose whole name matches.
    pub(crate) fn matches(&self, md: &ClusterMetadata) -> BTreeSet<String> {
        md.topics
            .values()
            .filter(|t| !t.is_internal && t.error_code == 0 && self.full.is_match(&t.name))
            .map(|t| t.name.clone())
            .collect()
    }
}

/// The regex crate's errors span lines (a caret under the pattern); keep the line that says
/// what is wrong.
fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .or_else(|| s.lines().next())
        .unwrap_or("")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names_and_bad_ones_are_named() {
        let p = TopicPattern::new("orders-.*").unwrap();
        assert!(p.full.is_match("orders-eu"));
        assert!(!p.full.is_match("old-orders-eu"), "a full match, as Java");
        let p = TopicPattern::new("a|b").unwrap();
        assert!(p.full.is_match("a") && p.full.is_match("b") && !p.full.is_match("ab"));
        let e = TopicPattern::new("orders-(").unwrap_err();
        let line = e.to_string();
        assert!(line.contains("orders-(") && !line.contains('\n'), "{line}");
        assert!(TopicPattern::new("").is_err());
    }
}
