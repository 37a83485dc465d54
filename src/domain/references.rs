//! What a group written names must exist: its category and the custom fields it
//! has values for. The service checks this before the write; the engine asks
//! again with the rows it read inside the write's transaction (a category or
//! field may have gone in between).

/// A reference that names nothing in the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("category {0} does not exist")]
    UnknownCategory(i64),
    #[error("custom field {0} does not exist")]
    UnknownField(i64),
}

/// What a group insert or update names: a category (an update may leave it
/// unchanged) and the custom fields it writes values for, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct References {
    pub category: Option<i64>,
    pub fields: Vec<i64>,
}

impl References {
    pub fn new(category: Option<i64>, fields: impl IntoIterator<Item = i64>) -> References {
        References {
            category,
            fields: fields.into_iter().collect(),
        }
    }

    /// Whether there is anything to look up (the engine reads nothing otherwise).
    pub fn is_empty(&self) -> bool {
        self.category.is_none() && self.fields.is_empty()
    }

    /// Checks the references against what the engine found: whether the category
    /// exists, and which of the fields do. The category is named first, then the
    /// first missing field in the order given.
    pub fn check(&self, category_found: bool, fields_found: &[i64]) -> Result<(), ReferenceError> {
        if let Some(c) = self.category {
            if !category_found {
                return Err(ReferenceError::UnknownCategory(c));
            }
        }
        match self.fields.iter().find(|f| !fields_found.contains(f)) {
            Some(f) => Err(ReferenceError::UnknownField(*f)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_named_needs_no_look_up() {
        assert!(References::new(None, []).is_empty());
        assert!(!References::new(Some(1), []).is_empty());
        assert!(!References::new(None, [3]).is_empty());
        assert_eq!(References::new(None, []).check(false, &[]), Ok(()));
    }

    #[test]
    fn a_missing_category_is_named_first() {
        let r = References::new(Some(42), [5]);
        assert_eq!(
            r.check(false, &[]),
            Err(ReferenceError::UnknownCategory(42))
        );
        assert_eq!(r.check(true, &[]), Err(ReferenceError::UnknownField(5)));
        assert_eq!(r.check(true, &[5]), Ok(()));
    }

    #[test]
    fn an_unchanged_category_is_not_checked() {
        assert_eq!(References::new(None, [5]).check(false, &[5]), Ok(()));
    }

    #[test]
    fn the_first_missing_field_in_the_order_given_is_named() {
        let r = References::new(Some(1), [7, 3, 9]);
        assert_eq!(r.check(true, &[7]), Err(ReferenceError::UnknownField(3)));
        assert_eq!(r.check(true, &[3, 7]), Err(ReferenceError::UnknownField(9)));
        assert_eq!(r.check(true, &[9, 3, 7]), Ok(()));
    }

    #[test]
    fn errors_read_as_the_store_said_them() {
        assert_eq!(
            ReferenceError::UnknownCategory(42).to_string(),
            "category 42 does not exist"
        );
        assert_eq!(
            ReferenceError::UnknownField(5).to_string(),
            "custom field 5 does not exist"
        );
    }
}
