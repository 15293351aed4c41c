//! The rollup buckets the dashboards have read, kept in memory per bucket
//! with the version they were read at (`dash_versions`, raised by every
//! write to the bucket in the same transaction). A 30-day dashboard then
//! re-reads only the buckets that changed since (on a live system: the
//! newest few) and sums the rest here, instead of asking the database to
//! group a month of rows on every request.
//!
//! Exactness does not depend on timing: a bucket's version is read before
//! its rows, so rows stored under a version are at least that new, and any
//! later write raises the version past it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The dimension values of a rollup row (its text key columns), shared by
/// every bucket holding that combination.
pub(crate) type RowKey = Arc<[String]>;

/// One bucket's rows of one table: key texts and counters.
#[derive(Debug, Default)]
pub(crate) struct BucketRows {
    pub rows: Vec<(RowKey, Box<[i64]>)>,
}

/// A row as read: key texts, counters.
pub(crate) type ReadRow = (Vec<String>, Vec<i64>);

/// (table, bucket size, bucket start).
pub(crate) type BucketId = (&'static str, i64, i64);

/// At most this many counters are kept (about 8 bytes each, plus a few
/// words per row): a month of buckets at the 3-million-message scale holds
/// about 4 million.
const MAX_CELLS: usize = 8_000_000;
/// Beyond this many distinct key combinations the interning set starts
/// over (sharing keys only saves memory and time; sums group by value).
const MAX_KEYS: usize = 200_000;

#[derive(Debug)]
pub struct BucketCache {
    inner: Mutex<Inner>,
    max_cells: usize,
}

impl Default for BucketCache {
    fn default() -> Self {
        Self::with_capacity(MAX_CELLS)
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<BucketId, Entry>,
    cells: usize,
    clock: u64,
    keys: HashSet<RowKey>,
}

#[derive(Debug)]
struct Entry {
    version: i64,
    rows: Arc<BucketRows>,
    cells: usize,
    used: u64,
}

impl BucketCache {
    pub(crate) fn with_capacity(max_cells: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max_cells,
        }
    }

    /// The bucket's rows if they were read at `version`.
    pub(crate) fn get(&self, id: BucketId, version: i64) -> Option<Arc<BucketRows>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let entry = inner.entries.get_mut(&id)?;
        if entry.version != version {
            return None;
        }
        entry.used = clock;
        Some(Arc::clone(&entry.rows))
    }

    /// Keeps rows read at `version` (read after the version was), evicting
    /// the least recently used buckets beyond the capacity.
    pub(crate) fn put(&self, id: BucketId, version: i64, rows: Vec<ReadRow>) -> Arc<BucketRows> {
        let mut inner = self.lock();
        if inner.keys.len() > MAX_KEYS {
            inner.keys.clear();
        }
        let rows: Vec<(RowKey, Box<[i64]>)> = rows
            .into_iter()
            .map(|(key, values)| (inner.intern(key), values.into_boxed_slice()))
            .collect();
        let cells = rows.iter().map(|(_, v)| v.len() + 1).sum::<usize>();
        let rows = Arc::new(BucketRows { rows });
        inner.clock += 1;
        let entry = Entry {
            version,
            rows: Arc::clone(&rows),
            cells,
            used: inner.clock,
        };
        if let Some(old) = inner.entries.insert(id, entry) {
            inner.cells -= old.cells;
        }
        inner.cells += cells;
        while inner.cells > self.max_cells && inner.entries.len() > 1 {
            let oldest = inner
                .entries
                .iter()
                .filter(|(key, _)| **key != id)
                .min_by_key(|(_, e)| e.used)
                .map(|(key, _)| *key);
            let Some(oldest) = oldest.and_then(|key| inner.entries.remove(&key)) else {
                break;
            };
            inner.cells -= oldest.cells;
        }
        rows
    }

    /// How many buckets and counters are kept.
    #[cfg(test)]
    fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.cells)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves nothing half-done that a
        // later reader could trust less than a fresh read: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn intern(&mut self, key: Vec<String>) -> RowKey {
        if let Some(known) = self.keys.get(key.as_slice()) {
            return Arc::clone(known);
        }
        let key: RowKey = key.into();
        self.keys.insert(Arc::clone(&key));
        key
    }
}

/// The rows of `buckets` that `keep` accepts, summed per projection of
/// their key onto the columns `group` (by position).
pub(crate) fn sum(
    buckets: &[Arc<BucketRows>],
    keep: impl Fn(&[String]) -> bool,
    group: &[usize],
) -> Vec<ReadRow> {
    // Rows of one combination share their key: sum by its address first
    // (a pointer hash per row), then filter and project the few thousand
    // distinct keys.
    let mut by_key: HashMap<*const [String], (&RowKey, Vec<i64>)> = HashMap::new();
    for bucket in buckets {
        for (key, values) in &bucket.rows {
            let (_, sums) = by_key
                .entry(Arc::as_ptr(key))
                .or_insert_with(|| (key, vec![0; values.len()]));
            add(sums, values);
        }
    }
    let mut grouped: HashMap<Vec<String>, Vec<i64>> = HashMap::new();
    for (key, values) in by_key.into_values() {
        if !keep(key) {
            continue;
        }
        let projected = group
            .iter()
            .map(|&i| key.get(i).cloned().unwrap_or_default())
            .collect();
        let sums = grouped
            .entry(projected)
            .or_insert_with(|| vec![0; values.len()]);
        add(sums, &values);
    }
    // In key order, as the database's GROUP BY gave them: views that break
    // ties by position stay the same from one request to the next.
    let mut rows: Vec<ReadRow> = grouped.into_iter().collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn add(sums: &mut Vec<i64>, values: &[i64]) {
    if sums.len() < values.len() {
        sums.resize(values.len(), 0);
    }
    for (sum, value) in sums.iter_mut().zip(values) {
        *sum += value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &[&str], values: &[i64]) -> ReadRow {
        (
            key.iter().map(|k| (*k).to_owned()).collect(),
            values.to_vec(),
        )
    }

    #[test]
    fn a_bucket_is_served_only_at_the_version_it_was_read() {
        let cache = BucketCache::default();
        let id = ("dash_counts", 900, 0);
        assert!(cache.get(id, 0).is_none());
        cache.put(id, 3, vec![row(&["US", "twilio"], &[1, 2])]);
        assert_eq!(cache.get(id, 3).map(|b| b.rows.len()), Some(1));
        assert!(cache.get(id, 4).is_none(), "a raised version is a miss");
        assert!(cache.get(("dash_otp", 900, 0), 3).is_none());
    }

    #[test]
    fn equal_keys_are_shared_across_buckets() {
        let cache = BucketCache::default();
        let a = cache.put(("t", 1, 0), 1, vec![row(&["US", "x"], &[1])]);
        let b = cache.put(("t", 1, 1), 1, vec![row(&["US", "x"], &[2])]);
        assert!(Arc::ptr_eq(&a.rows[0].0, &b.rows[0].0));
    }

    #[test]
    fn least_recently_used_buckets_go_first_beyond_the_capacity() {
        // Each bucket below holds one row of three counters: 4 cells.
        let cache = BucketCache::with_capacity(8);
        cache.put(("t", 1, 0), 1, vec![row(&["a"], &[1, 1, 1])]);
        cache.put(("t", 1, 1), 1, vec![row(&["b"], &[1, 1, 1])]);
        assert!(cache.get(("t", 1, 0), 1).is_some()); // 0 is now the newer
        cache.put(("t", 1, 2), 1, vec![row(&["c"], &[1, 1, 1])]);
        assert_eq!(cache.size(), (2, 8));
        assert!(cache.get(("t", 1, 1), 1).is_none(), "evicted");
        assert!(cache.get(("t", 1, 0), 1).is_some());
        assert!(cache.get(("t", 1, 2), 1).is_some());
    }

    #[test]
    fn a_bucket_larger_than_the_capacity_is_still_kept_alone() {
        let cache = BucketCache::with_capacity(2);
        cache.put(("t", 1, 0), 1, vec![row(&["a"], &[1])]);
        cache.put(("t", 1, 1), 1, vec![row(&["b"], &[1, 2, 3])]);
        assert_eq!(cache.size(), (1, 4));
        assert!(cache.get(("t", 1, 1), 1).is_some());
    }

    #[test]
    fn replacing_a_bucket_counts_its_cells_once() {
        let cache = BucketCache::default();
        cache.put(("t", 1, 0), 1, vec![row(&["a"], &[1])]);
        cache.put(("t", 1, 0), 2, vec![row(&["a"], &[1]), row(&["b"], &[1])]);
        assert_eq!(cache.size(), (1, 4));
    }

    #[test]
    fn sums_filter_and_project() {
        let cache = BucketCache::default();
        let day1 = cache.put(
            ("t", 1, 0),
            1,
            vec![
                row(&["US", "twilio", "otp"], &[1, 10]),
                row(&["US", "vonage", "otp"], &[2, 20]),
                row(&["FR", "twilio", "otp"], &[4, 40]),
            ],
        );
        let day2 = cache.put(
            ("t", 1, 1),
            1,
            vec![
                row(&["US", "twilio", "otp"], &[8, 80]),
                row(&["US", "twilio", "marketing"], &[16, 160]),
            ],
        );
        let us_by_provider = sum(&[day1, day2], |k| k[0] == "US", &[1]);
        assert_eq!(
            us_by_provider,
            vec![
                (vec!["twilio".to_owned()], vec![25, 250]),
                (vec!["vonage".to_owned()], vec![2, 20]),
            ]
        );
    }

    #[test]
    fn nothing_sums_to_nothing() {
        assert!(sum(&[], |_| true, &[0]).is_empty());
        let empty = Arc::new(BucketRows::default());
        assert!(sum(&[empty], |_| true, &[0]).is_empty());
    }
}
