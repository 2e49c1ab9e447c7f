//! A twin's metric aliases, as its last birth declared them: looked up for every metric of
//! every DATA message, so how they lie in memory is most of what a lookup costs.
//!
//! Edge nodes number aliases in sequence (Ignition, Tahu and Node-RED count up per node), so
//! one device's aliases are nearly always a short run. Kept as a list from the lowest, a
//! lookup is an index, and a device's declarations share a cache line or two. A hash map's
//! lookup touches its control bytes and then a bucket per metric: each a cache miss when
//! thousands of devices report in turn (`twinscope bench`: about two misses a message
//! more). Aliases too spread out to list without allocating more than the birth justifies
//! are kept in a map.

use crate::twin::PropertyName;

/// What a birth declared about one metric.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MetricDef {
    pub(super) name: PropertyName,
    pub(super) datatype: u32,
}

#[derive(Debug)]
pub(super) enum Aliases {
    /// `defs[i]` is alias `base + i`.
    Listed {
        base: u64,
        defs: Vec<Option<MetricDef>>,
    },
    Mapped(foldhash::HashMap<u64, MetricDef>),
}

impl Default for Aliases {
    fn default() -> Self {
        Aliases::Listed {
            base: 0,
            defs: Vec::new(),
        }
    }
}

/// A list is kept while it has at most this many slots per declared alias (plus a few):
/// gaps cost little, but never more than the birth's own size justifies.
const SLOTS_PER_ALIAS: u64 = 2;
const SPARE_SLOTS: u64 = 8;

impl Aliases {
    /// The aliases of a birth's metrics, in its order: an alias declared twice means what
    /// its last declaration says.
    pub(super) fn declared(declarations: Vec<(u64, MetricDef)>) -> Self {
        let (Some(low), Some(high)) = (
            declarations.iter().map(|d| d.0).min(),
            declarations.iter().map(|d| d.0).max(),
        ) else {
            return Aliases::default();
        };
        let span = high - low;
        if span
            >= (declarations.len() as u64)
                .saturating_mul(SLOTS_PER_ALIAS)
                .saturating_add(SPARE_SLOTS)
        {
            return Aliases::Mapped(declarations.into_iter().collect());
        }
        let mut defs = vec![None; span as usize + 1];
        for (alias, def) in declarations {
            defs[(alias - low) as usize] = Some(def);
        }
        Aliases::Listed { base: low, defs }
    }

    /// Starts loading the first declarations of a list (a device's few metrics): its first
    /// 128 bytes, over whichever lines they lie on (three declarations are 72 bytes, and an
    /// allocation is not aligned to a line: they nearly always straddle two).
    pub(super) fn prefetch(&self) {
        if let Aliases::Listed { defs, .. } = self {
            let bytes = std::mem::size_of_val(defs.as_slice()).clamp(1, 128);
            let start = defs.as_ptr() as *const u8;
            crate::prefetch::line(start);
            crate::prefetch::line(start.wrapping_add(bytes - 1));
        }
    }

    pub(super) fn get(&self, alias: u64) -> Option<&MetricDef> {
        match self {
            Aliases::Listed { base, defs } => {
                let slot = alias.checked_sub(*base)?;
                defs.get(usize::try_from(slot).ok()?)?.as_ref()
            }
            Aliases::Mapped(map) => map.get(&alias),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str) -> MetricDef {
        MetricDef {
            name: name.into(),
            datatype: 10,
        }
    }

    /// Every way of keeping them answers as a map of the same declarations would.
    #[test]
    fn aliases_answer_as_their_declarations_say_however_they_are_kept() {
        let cases: [&[u64]; 6] = [
            &[],
            &[0, 1, 2, 3],
            &[1000, 1003, 1001],
            &[7, 7, 8],
            &[0, u64::MAX],
            &[5, 40, 41, 42, 1 << 40],
        ];
        for aliases in cases {
            let declarations: Vec<(u64, MetricDef)> = aliases
                .iter()
                .enumerate()
                .map(|(i, a)| (*a, def(&format!("m{i}"))))
                .collect();
            let expected: std::collections::HashMap<u64, MetricDef> =
                declarations.iter().cloned().collect();
            let table = Aliases::declared(declarations);
            for probe in aliases.iter().copied().chain([
                0,
                1,
                4,
                6,
                9,
                999,
                1002,
                1004,
                u64::MAX,
                u64::MAX - 1,
                1 << 40,
            ]) {
                assert_eq!(
                    table.get(probe),
                    expected.get(&probe),
                    "aliases {aliases:?}, probe {probe}"
                );
            }
        }
    }

    #[test]
    fn runs_are_listed_and_spread_aliases_mapped() {
        let listed = |aliases: &[u64]| {
            matches!(
                Aliases::declared(aliases.iter().map(|a| (*a, def("m"))).collect()),
                Aliases::Listed { .. }
            )
        };
        assert!(
            listed(&[100, 101, 102, 103]) && listed(&[3, 1, 12]),
            "a run from any base, and small gaps, are listed"
        );
        assert!(
            !listed(&[0, u64::MAX]) && !listed(&[0, 1, 2, 3, 1000]),
            "a list never outgrows what the birth declared"
        );
    }
}
