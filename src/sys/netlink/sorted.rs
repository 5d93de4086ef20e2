//! A map kept as a vector sorted by key, for the kernel view.
//!
//! A gateway has a handful of links, addresses and default routes, so a binary search over
//! a vector is as fast as a B-tree here, and its code is a fraction of the size: every
//! `BTreeMap<K, V>` brings its own copy of the node balancing code (about 5 KiB a type
//! in the release build), and the view has five of them. Iteration is in key order, as
//! with a `BTreeMap`.

/// Entries sorted by key, each key once.
#[derive(Debug, Clone)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// Sets the value of `key`, returning the one it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.find(key).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// The value of `key`, inserted as `V::default()` if there was none.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Keeps the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut m = SortedMap::default();
        assert_eq!(m.insert(5, "e"), None);
        assert_eq!(m.insert(1, "a"), None);
        assert_eq!(m.insert(3, "c"), None);
        assert_eq!(m.insert(3, "C"), Some("c"));
        assert_eq!(m.get(&3), Some(&"C"));
        assert_eq!(m.get(&4), None);
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 3, 5]);
        *m.get_or_default(1) = "A";
        assert_eq!(m.values().copied().collect::<Vec<_>>(), ["A", "C", "e"]);
        assert_eq!(m.remove(&3), Some("C"));
        assert_eq!(m.remove(&3), None);
        m.retain(|k, _| *k != 5);
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn get_or_default_inserts_in_order() {
        let mut m: SortedMap<(u32, u8), Vec<u32>> = SortedMap::default();
        m.get_or_default((2, 0)).push(20);
        m.get_or_default((1, 1)).push(11);
        m.get_or_default((2, 0)).push(21);
        for (_, v) in m.iter_mut() {
            v.push(0);
        }
        let all: Vec<_> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(all, [((1, 1), vec![11, 0]), ((2, 0), vec![20, 21, 0])]);
    }
}
