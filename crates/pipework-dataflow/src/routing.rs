//! Stable routing of keys to workers and partitions.
//!
//! Routing must agree across worker threads *and processes*, and across runs
//! (a recovery store maps keys to state), so it cannot use `RandomState`. This
//! is 64-bit FNV-1a, which is fixed by its specification.

/// A hash of `key` that is the same in every process and every run.
pub(crate) fn stable_hash(key: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    key.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// Deals `parts` (any order, duplicates ignored) to `workers` workers: the
/// sorted keys go round-robin, so each worker gets `parts / workers` or one
/// more, and every worker computes the same assignment.
pub(crate) fn assign_parts(parts: &[String], workers: usize) -> Vec<(String, usize)> {
    let mut sorted: Vec<String> = parts.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, part)| (part, i % workers.max(1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_matches_the_fnv1a_reference_values() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn parts_are_dealt_evenly_and_deterministically() {
        let parts: Vec<String> = ["c", "a", "e", "b", "d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let assigned = assign_parts(&parts, 2);
        let workers: Vec<usize> = assigned.iter().map(|(_, w)| *w).collect();
        assert_eq!(workers, vec![0, 1, 0, 1, 0]);
        assert_eq!(assigned[0].0, "a");
        let mut shuffled = parts.clone();
        shuffled.reverse();
        assert_eq!(assign_parts(&shuffled, 2), assigned);
    }
}
