//! One small stable sort for the short lists this daemon orders: WANs (at most
//! `MAX_WANS`), config errors (at most `MAX_ERRORS`), the files of the hook directory, the
//! instances of the SNMP tree (built in order already: a single pass of comparisons).
//!
//! The standard library's sorts are fast on large inputs and large in code: each call site
//! with its own element type or comparison closure instantiates a few KiB of quicksort,
//! heapsort and small-sort code. An insertion sort is a few dozen instructions per use and,
//! for lists this short, just as quick.

use core::cmp::Ordering;

/// Sorts `items` in place by `cmp`, keeping equal items in their order. Quadratic: for
/// short lists only.
pub fn sort_by<T>(items: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && cmp(&items[j - 1], &items[j]) == Ordering::Greater {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Sorts `items` in place by `key`, keeping items with equal keys in their order.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_is_stable() {
        let mut v = [(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_by_key(&mut v, |&(k, _)| k);
        assert_eq!(v, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut empty: [u8; 0] = [];
        sort_by_key(&mut empty, |&x| x);
        let mut one = [7];
        sort_by(&mut one, |a, b| b.cmp(a));
        assert_eq!(one, [7]);
    }

    #[test]
    fn agrees_with_the_standard_sort() {
        let mut seed = 0x2545_f491_u32;
        for len in 0..40 {
            let mut v: Vec<u32> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed % 8
                })
                .collect();
            let mut expected = v.clone();
            expected.sort();
            sort_by(&mut v, |a, b| a.cmp(b));
            assert_eq!(v, expected);
        }
    }
}
