//! Lookup of syscall numbers by name in the generated tables (src/tables.rs): the names
//! are one sorted string, split at compile time, and a table is an array of numbers in
//! the same order, so nothing in them needs relocating when the binary starts.

use crate::tables::{COUNT, NAMES};

/// One architecture's numbers, by the index of the name in `NAMES`.
pub struct Table(pub [u32; COUNT]);

const NONE: u32 = u32::MAX;

/// Where each name starts in `NAMES` (and, last, the end).
const STARTS: [u16; COUNT + 1] = starts();

const fn starts() -> [u16; COUNT + 1] {
    let b = NAMES.as_bytes();
    let mut out = [0u16; COUNT + 1];
    let (mut i, mut n) = (0, 1);
    while i < b.len() {
        if b[i] == b' ' {
            out[n] = (i + 1) as u16;
            n += 1;
        }
        i += 1;
    }
    assert!(n == COUNT + 1, "NAMES and COUNT disagree");
    out
}

fn name(i: usize) -> &'static str {
    // The space after each name is left out.
    &NAMES[STARTS[i] as usize..STARTS[i + 1] as usize - 1]
}

impl Table {
    /// The number of `name`, if this architecture has it.
    pub fn get(&self, wanted: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0, COUNT);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match name(mid).as_bytes().cmp(wanted.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.0[mid]).filter(|&n| n != NONE),
            }
        }
        None
    }

    /// Every (name, number) this architecture has, by name.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        (0..COUNT)
            .filter(|&i| self.0[i] != NONE)
            .map(|i| (name(i), self.0[i]))
    }
}

#[cfg(test)]
mod tests {
    use crate::tables;

    #[test]
    fn names_are_sorted_and_found() {
        let all: Vec<&str> = (0..super::COUNT).map(super::name).collect();
        assert!(all.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        assert_eq!(tables::X86_64.get("read"), Some(0));
        assert_eq!(tables::X86_64.get("openat2"), Some(437));
        assert_eq!(tables::X86.get("_llseek"), Some(140));
        assert_eq!(tables::X86_64.get("_llseek"), None);
        assert_eq!(tables::AARCH64.get("open"), None);
        assert_eq!(tables::X86_64.get("no_such_call"), None);
        assert!(tables::X86_64
            .iter()
            .any(|(n, nr)| n == "clone3" && nr == 435));
    }
}
