//! Deterministic `localId` generation.
//!
//! ADF task lists and task items carry a `localId`. Ids must be unique within a document and,
//! for this pure crate, reproducible: the same document always gets the same ids. Each id is
//! derived from a seed (a 64-bit FNV-1a hash of the document's JSON with its ids blanked) and a
//! counter, mixed with SplitMix64, and formatted as an RFC 9562 version-8 ("custom") UUID.

use std::io;

use super::model::Document;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a hash of `bytes`, continuing from `state`.
pub(crate) fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(state, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

struct HashWriter(u64);

impl io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = fnv1a(self.0, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The seed for a document's ids: the hash of its JSON (without building the string).
pub(crate) fn document_seed(doc: &Document) -> u64 {
    let mut writer = HashWriter(FNV_OFFSET);
    // Writing into the hasher cannot fail; on the impossible error the partial hash is used,
    // which is still deterministic.
    let _ = serde_json::to_writer(&mut writer, doc);
    writer.0
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Produces the ids of one document, in order.
#[derive(Debug, Clone)]
pub(crate) struct IdGenerator {
    seed: u64,
    counter: u64,
}

impl IdGenerator {
    /// A generator for the document hashed to `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }

    /// The next id, as a lowercase hyphenated UUID string.
    pub(crate) fn next_id(&mut self) -> String {
        self.counter += 1;
        let hi = splitmix64(self.seed ^ splitmix64(self.counter));
        let lo = splitmix64(hi ^ self.counter.rotate_left(32));
        // Version 8 in the high nibble of byte 6, variant 0b10 in the top bits of byte 8.
        let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_8000;
        let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_shaped_unique_and_repeatable() {
        let mut a = IdGenerator::new(42);
        let mut b = IdGenerator::new(42);
        let ids: Vec<String> = (0..1000).map(|_| a.next_id()).collect();
        let again: Vec<String> = (0..1000).map(|_| b.next_id()).collect();
        assert_eq!(ids, again);
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('8'), "{id}");
            assert!(
                matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
                "{id}"
            );
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn different_seeds_give_different_ids() {
        assert_ne!(IdGenerator::new(1).next_id(), IdGenerator::new(2).next_id());
    }

    #[test]
    fn fnv_matches_reference_values() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
