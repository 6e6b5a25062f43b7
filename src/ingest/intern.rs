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
    /// The last value of each column slot: consecutive rows often repeat it (force names,
    /// month, outcome), and a comparison is cheaper than a hash and a lookup.
    last: [Option<Arc<str>>; SLOTS],
}

/// Column slots [`Interner::get_in`] remembers.
pub const SLOTS: usize = 12;

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self {
            seen: HashMap::new(),
            last: Default::default(),
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

    /// As [`Interner::get`], first comparing with the last value of column `slot` (slots at or
    /// beyond [`SLOTS`] go straight to [`Interner::get`]).
    pub fn get_in(&mut self, slot: usize, text: &str) -> Arc<str> {
        if let Some(Some(last)) = self.last.get(slot)
            && **last == *text
        {
            return Arc::clone(last);
        }
        let shared = self.get(text);
        if let Some(cell) = self.last.get_mut(slot) {
            *cell = Some(Arc::clone(&shared));
        }
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
    #[expect(
        clippy::many_single_char_names,
        reason = "a, b, c... are the values compared"
    )]
    fn equal_strings_share_one_allocation() {
        let mut i = Interner::new();
        let a = i.get("Bristol 044C");
        let b = i.get(&String::from("Bristol 044C"));
        let c = i.get("Bristol 045A");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "Bristol 045A");
        assert_eq!(i.len(), 2);
        // Slots remember the last value and still share it.
        let d = i.get_in(0, "Bristol 044C");
        let e = i.get_in(0, "Bristol 044C");
        let f = i.get_in(0, "Bristol 045A");
        assert!(Arc::ptr_eq(&a, &d) && Arc::ptr_eq(&d, &e) && Arc::ptr_eq(&c, &f));
        assert_eq!(&*i.get_in(99, "x"), "x");
    }
}
