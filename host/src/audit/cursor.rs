//! Reading committed audit records in id order while later ones are still being written:
//! the floor below which every id was read (or given up on), shared by
//! `tokengate audit --follow` and the audit sink.
//!
//! Ids are handed out before commit, and PostgreSQL commits several batches at once
//! (several gateways too), so a record can become visible after one with a higher id:
//! reading "after the highest id seen" would skip it. A missing id is waited for
//! [`GAP_WAIT`], then given up on (a rolled-back batch, a pruned record, or a record a
//! filter leaves out).

use std::time::{Duration, Instant};

use super::AuditRow;

/// How long a missing id below a read one is waited for before it counts as never
/// coming.
pub const GAP_WAIT: Duration = Duration::from_secs(10);

/// Where reading resumes: every id up to the floor was read or given up on.
#[derive(Debug, Clone)]
pub struct Cursor {
    floor: i64,
    /// Since when the id after the floor has been missing while a higher one was read.
    stalled_since: Option<Instant>,
}

impl Cursor {
    /// A cursor after `floor`.
    pub fn new(floor: i64) -> Self {
        Self {
            floor,
            stalled_since: None,
        }
    }

    /// The id to read after.
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// Moves the floor to `id` (read, or given up on below it).
    pub fn advance_to(&mut self, id: i64) {
        if id > self.floor {
            self.floor = id;
            self.stalled_since = None;
        }
    }

    /// Whether the id after the floor, missing while higher ones are read, has been
    /// missing for [`GAP_WAIT`] by `now` (the wait starts at the first call).
    pub fn gap_expired(&mut self, now: Instant) -> bool {
        let since = *self.stalled_since.get_or_insert(now);
        now.duration_since(since) >= GAP_WAIT
    }

    /// That no id is missing above the floor (the wait, if any, starts afresh).
    pub fn no_gap(&mut self) {
        self.stalled_since = None;
    }

    /// How many of `rows` (read after the floor, by id) may be passed on in id order:
    /// those up to the first missing id, or past it once it was missing for
    /// [`GAP_WAIT`]. The floor moves only with [`Self::advance_to`], once they are
    /// delivered.
    pub fn in_order(&mut self, rows: &[AuditRow], now: Instant) -> usize {
        let mut next = self.floor.saturating_add(1);
        let mut ready = 0;
        for row in rows {
            if row.id > next && (ready > 0 || !self.gap_expired(now)) {
                break;
            }
            next = row.id.saturating_add(1);
            ready += 1;
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ids: &[i64]) -> Vec<AuditRow> {
        ids.iter()
            .map(|&id| AuditRow {
                id,
                ..AuditRow::default()
            })
            .collect()
    }

    #[test]
    fn records_after_a_missing_id_wait_for_it() {
        let start = Instant::now();
        let mut cursor = Cursor::new(10);
        assert_eq!(cursor.in_order(&rows(&[11, 12, 14, 15]), start), 2);
        cursor.advance_to(12);
        // 13 is still committing.
        assert_eq!(cursor.in_order(&rows(&[14, 15]), start), 0);
        let later = start + Duration::from_secs(1);
        assert_eq!(cursor.in_order(&rows(&[13, 14, 15]), later), 3);
        cursor.advance_to(15);
        assert_eq!(cursor.floor(), 15);
    }

    #[test]
    fn a_missing_id_is_given_up_on_after_the_wait() {
        let start = Instant::now();
        let mut cursor = Cursor::new(10);
        assert_eq!(cursor.in_order(&rows(&[12, 14]), start), 0);
        let before = start + GAP_WAIT - Duration::from_millis(1);
        assert_eq!(cursor.in_order(&rows(&[12, 14]), before), 0);
        // Past the wait, 11 is given up on; 13 gets a wait of its own.
        assert_eq!(cursor.in_order(&rows(&[12, 14]), start + GAP_WAIT), 1);
        cursor.advance_to(12);
        assert_eq!(cursor.in_order(&rows(&[14]), start + GAP_WAIT), 0);
        assert_eq!(cursor.in_order(&rows(&[13, 14]), start + GAP_WAIT), 2);
    }
}
