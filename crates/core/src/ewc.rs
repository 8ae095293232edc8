//! The European Waste Catalogue (the EU List of Waste, Commission Decision 2000/532/EC as amended by
//! 2014/955/EU): its 20 chapters, their sections and the six-digit entries with the hazardous mark,
//! each mapped to the matching category it usually belongs to. Loaded from `configs/ewc.toml` with
//! the taxonomy and read-only afterwards.
//!
//! The mapping is many entries to one category; an entry may name further categories a flow with
//! its code may be registered in (`also`), or no category at all, with the reason. It is a judgement
//! of what the material usually is, not a legal classification. This module neither knows nor checks
//! the taxonomy: `Taxonomy::with_ewc_catalogue` checks that every category named exists.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::taxonomy::TaxonomyError;

/// The catalogue shipped with Symbiont, compiled into the binary.
pub const BUILTIN_EWC: &str = include_str!("../../../configs/ewc.toml");

/// What a flow on hazardous waste must be told, on the flow and on its matches.
pub const HAZARDOUS_WASTE_NOTE: &str =
    "hazardous waste: consignment note and permitted receiver required";

/// One six-digit entry of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EwcEntry {
    /// Six digits in three pairs, without the hazardous mark: `16 08 02`.
    #[cfg_attr(feature = "openapi", schema(example = "16 08 02"))]
    pub code: String,
    /// Marked `*` in the list: hazardous waste (Directive 2008/98/EC, art. 7).
    pub hazardous: bool,
    /// The entry's title in the Decision's English text.
    pub title: String,
    /// The two-digit chapter, e.g. `16`.
    pub chapter: String,
    /// The four-digit section, e.g. `16 08`.
    pub section: String,
    /// The matching category a flow with this code gets, if the entry has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Further categories a flow with this code may be registered in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Why the entry has no category (hazardous residues only a permitted facility may take,
    /// "not otherwise specified" entries, health-care waste, materials without a category yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_category: Option<String>,
}

impl EwcEntry {
    /// The code as the list prints it, with `*` when hazardous: `16 08 02*`.
    pub fn marked_code(&self) -> String {
        if self.hazardous {
            format!("{}*", self.code)
        } else {
            self.code.clone()
        }
    }

    /// Whether a flow with this code may be registered in `category`: the entry's own category,
    /// one of `also`, or any category when the entry has none (the owner classifies it).
    pub fn admits(&self, category: &str) -> bool {
        match &self.category {
            Some(own) => own == category || self.also.iter().any(|a| a == category),
            None => true,
        }
    }
}

/// A chapter or section heading.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EwcHeading {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    version: String,
    #[serde(rename = "chapter")]
    chapters: Vec<ChapterFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChapterFile {
    code: String,
    title: String,
    #[serde(rename = "section")]
    sections: Vec<SectionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    code: String,
    title: String,
    /// The reason every entry of the section without a category of its own shares.
    #[serde(default)]
    no_category: Option<String>,
    entries: Vec<EntryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    /// As printed in the list: `16 08 02*`.
    code: String,
    title: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    also: Vec<String>,
    #[serde(default)]
    no_category: Option<String>,
}

/// The loaded catalogue with a lookup index. Entries are in code order.
#[derive(Debug, Clone, Default)]
pub struct EwcCatalogue {
    pub version: String,
    chapters: Vec<EwcHeading>,
    sections: Vec<EwcHeading>,
    entries: Vec<EwcEntry>,
    by_code: HashMap<String, usize>,
    /// Per entry: its title, section title and chapter title in lower case, for search.
    search_text: Vec<String>,
}

fn invalid(message: String) -> TaxonomyError {
    TaxonomyError::Invalid(format!("EWC catalogue: {message}"))
}

impl EwcCatalogue {
    pub fn builtin() -> Result<Self, TaxonomyError> {
        Self::from_toml(BUILTIN_EWC)
    }

    pub fn from_toml(text: &str) -> Result<Self, TaxonomyError> {
        let file: CatalogueFile = toml::from_str(text)?;
        let mut catalogue = EwcCatalogue {
            version: file.version,
            ..Self::default()
        };
        for chapter in file.chapters {
            if chapter.code.len() != 2 || !chapter.code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!(
                    "chapter '{}' is not two digits",
                    chapter.code
                )));
            }
            for section in chapter.sections {
                if normalise_prefix(&section.code).as_deref() != Some(section.code.as_str())
                    || section.code.len() != 5
                    || !section.code.starts_with(&chapter.code)
                {
                    return Err(invalid(format!(
                        "section '{}' is not a section of chapter {}",
                        section.code, chapter.code
                    )));
                }
                for entry in section.entries {
                    let (code, hazardous) = match entry.code.strip_suffix('*') {
                        Some(code) => (code, true),
                        None => (entry.code.as_str(), false),
                    };
                    if normalise_code(code).as_deref() != Some(code)
                        || !code.starts_with(&section.code)
                    {
                        return Err(invalid(format!(
                            "entry '{}' is not a code of section {}",
                            entry.code, section.code
                        )));
                    }
                    let no_category = match (&entry.category, entry.no_category) {
                        (Some(_), Some(_)) => {
                            return Err(invalid(format!(
                                "entry {code} has both a category and a reason for having none"
                            )));
                        }
                        (Some(_), None) => None,
                        (None, Some(reason)) => Some(reason),
                        (None, None) => Some(section.no_category.clone().ok_or_else(|| {
                            invalid(format!("entry {code} has no category and says not why"))
                        })?),
                    };
                    if entry.category.is_none() && !entry.also.is_empty() {
                        return Err(invalid(format!(
                            "entry {code} lists further categories but has none of its own"
                        )));
                    }
                    let index = catalogue.entries.len();
                    if catalogue.by_code.insert(code.to_string(), index).is_some() {
                        return Err(invalid(format!("entry {code} appears twice")));
                    }
                    catalogue.search_text.push(
                        format!("{} {} {}", entry.title, section.title, chapter.title)
                            .to_lowercase(),
                    );
                    catalogue.entries.push(EwcEntry {
                        code: code.to_string(),
                        hazardous,
                        title: entry.title,
                        chapter: chapter.code.clone(),
                        section: section.code.clone(),
                        category: entry.category,
                        also: entry.also,
                        no_category,
                    });
                }
                catalogue.sections.push(EwcHeading {
                    code: section.code,
                    title: section.title,
                });
            }
            catalogue.chapters.push(EwcHeading {
                code: chapter.code,
                title: chapter.title,
            });
        }
        if !catalogue
            .entries
            .windows(2)
            .all(|pair| pair[0].code < pair[1].code)
        {
            return Err(invalid("entries are not in code order".into()));
        }
        Ok(catalogue)
    }

    pub fn entries(&self) -> &[EwcEntry] {
        &self.entries
    }

    pub fn chapters(&self) -> &[EwcHeading] {
        &self.chapters
    }

    pub fn sections(&self) -> &[EwcHeading] {
        &self.sections
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for a code written as `160802`, `16 08 02`, `16 08 02*` or `16.08.02`.
    pub fn entry(&self, code: &str) -> Option<&EwcEntry> {
        let code = normalise_code(code)?;
        self.by_code.get(&code).map(|i| &self.entries[*i])
    }

    /// Entries in code order that match `query`: a code or code prefix (`16 08`, `1608`, `16`)
    /// matches by prefix; words match when every one appears in the entry's title or in the titles
    /// of its section or chapter (case-insensitive).
    pub fn search<'a>(&'a self, query: &str) -> impl Iterator<Item = &'a EwcEntry> + use<'a> {
        let query = query.trim();
        let prefix = normalise_prefix(query);
        let words: Vec<String> = if prefix.is_some() {
            Vec::new()
        } else {
            query.split_whitespace().map(str::to_lowercase).collect()
        };
        self.entries
            .iter()
            .zip(&self.search_text)
            .filter(move |(entry, text)| match &prefix {
                Some(prefix) => entry.code.starts_with(prefix.as_str()),
                None => words.iter().all(|w| text.contains(w.as_str())),
            })
            .map(|(entry, _)| entry)
    }
}

/// `160802`, `16 08 02`, `16-08-02`, `16.08.02`, with or without a trailing `*`, as `16 08 02`.
pub fn normalise_code(text: &str) -> Option<String> {
    let prefix = normalise_prefix(text)?;
    (prefix.len() == 8).then_some(prefix)
}

/// Two, four or six digits (in pairs, optionally separated by spaces, dots or dashes, optionally
/// with a trailing `*`) as `16`, `16 08` or `16 08 02`; anything else is not a code.
fn normalise_prefix(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text.strip_suffix('*').unwrap_or(text).trim_end();
    let pairs: Vec<&str> = if text.contains([' ', '.', '-']) {
        text.split([' ', '.', '-']).collect()
    } else if text.len().is_multiple_of(2) && text.is_ascii() {
        (0..text.len())
            .step_by(2)
            .map(|i| &text[i..i + 2])
            .collect()
    } else {
        return None;
    };
    let valid = (1..=3).contains(&pairs.len())
        && pairs
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| pairs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_in_every_usual_spelling() {
        for spelling in [
            "160802",
            "16 08 02",
            "16 08 02*",
            "16.08.02",
            "16-08-02",
            " 160802* ",
        ] {
            assert_eq!(
                normalise_code(spelling).as_deref(),
                Some("16 08 02"),
                "{spelling}"
            );
        }
        for bad in [
            "",
            "1608",
            "16 08 0",
            "1 608 02",
            "16 080 2",
            "16 08 02 01",
            "16a802",
            "*",
        ] {
            assert_eq!(normalise_code(bad), None, "{bad}");
        }
        assert_eq!(normalise_prefix("16 08").as_deref(), Some("16 08"));
        assert_eq!(normalise_prefix("10").as_deref(), Some("10"));
    }

    #[test]
    fn the_builtin_catalogue_is_the_whole_list() {
        let catalogue = EwcCatalogue::builtin().expect("the shipped catalogue is valid");
        // Decision 2000/532/EC as amended by 2014/955/EU: 20 chapters, 842 entries, 408 hazardous.
        assert_eq!(catalogue.chapters().len(), 20);
        assert_eq!(catalogue.sections().len(), 111);
        assert_eq!(catalogue.entries().len(), 842);
        assert_eq!(
            catalogue.entries().iter().filter(|e| e.hazardous).count(),
            408
        );
        let fly_ash = catalogue.entry("100102").expect("coal fly ash");
        assert_eq!(fly_ash.title, "coal fly ash");
        assert_eq!(fly_ash.category.as_deref(), Some("material.fly_ash"));
        assert!(!fly_ash.hazardous);
        let catalyst = catalogue.entry("16 08 02*").expect("spent catalysts");
        assert!(catalyst.hazardous);
        assert_eq!(catalyst.marked_code(), "16 08 02*");
        for entry in catalogue.entries() {
            assert!(
                entry.category.is_some() != entry.no_category.is_some(),
                "{} has a category or says why not",
                entry.code
            );
            if entry.code.ends_with(" 99") {
                assert!(
                    entry.category.is_none(),
                    "{} is 'not otherwise specified'",
                    entry.code
                );
            }
        }
    }

    #[test]
    fn search_by_code_prefix_and_by_words() {
        let catalogue = EwcCatalogue::builtin().expect("valid");
        let section: Vec<_> = catalogue.search("16 08").map(|e| e.code.as_str()).collect();
        assert_eq!(section.first(), Some(&"16 08 01"));
        assert_eq!(section.len(), 7);
        let words: Vec<_> = catalogue
            .search("Mill Scale")
            .map(|e| e.code.as_str())
            .collect();
        assert_eq!(words, ["10 02 10"]);
        // Words may come from the section's title: pharmaceutical mother liquors.
        assert!(
            catalogue
                .search("pharmaceuticals solid wastes")
                .any(|e| e.code == "07 05 14")
        );
        assert_eq!(catalogue.search("no such waste anywhere").count(), 0);
    }

    #[test]
    fn an_entry_without_a_category_must_say_why() {
        let text = r#"
            version = "test"
            [[chapter]]
            code = "10"
            title = "wastes from thermal processes"
            [[chapter.section]]
            code = "10 01"
            title = "wastes from power stations"
            entries = [{ code = "10 01 02", title = "coal fly ash" }]
        "#;
        let error = EwcCatalogue::from_toml(text).expect_err("no reason given");
        assert!(error.to_string().contains("10 01 02"), "{error}");
        let misplaced = text.replace(
            "code = \"10 01 02\"",
            "code = \"10 02 02\", category = \"x\"",
        );
        let error = EwcCatalogue::from_toml(&misplaced).expect_err("wrong section");
        assert!(error.to_string().contains("10 02 02"), "{error}");
    }
}
