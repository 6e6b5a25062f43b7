//! Shared strings for repetitive columns: a million police rows carry a few hundred distinct
//! LSOA codes, fourteen crime types and a handful of outcomes, so each distinct value is
//! allocated once per parse and every row holds a reference-counted pointer to it.

use std::sync::Arc;

use foldhash::HashMap;
use foldhash::HashMapExt as _;

/// Distinct strings seen so far in one parse.
#[derive(Debug, Default)]
pub struct Interner {
    seen: HashMap<Box<str>, Arc<str>>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self {
            seen: HashMap::new(),
        }
    }

    /// The shared copy of `text`, allocated the first time it is seen.
    pub fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.seen.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.seen.insert(Box::from(text), Arc::clone(&shared));
        shared
    }

    /// Distinct strings held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when nothing has been interned.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation() {
        let mut i = Interner::new();
        let a = i.get("Bristol 044C");
        let b = i.get(&String::from("Bristol 044C"));
        let c = i.get("Bristol 045A");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "Bristol 045A");
        assert_eq!(i.len(), 2);
    }
}
