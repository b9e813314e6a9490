//! Token events for webhooks (`token.created`, `token.revoked`, `token.rotated`,
//! `token.expiring`, `token.expired`, `token.new_ip`).
//!
//! The store's triggers write each event in the transaction of the change that caused it,
//! so the `events` table is an outbox: an event exists exactly when its change
//! committed, whichever process made it (the gateway, the CLI, another instance).
//! [`crate::webhooks`] claims and delivers them.

use serde_json::{Value, json};

/// How long an instance holds a claimed event before another may take it: longer than a
/// delivery may take.
pub const CLAIM_MS: i64 = 30_000;
/// Delivered events (and, with no webhook, any event) are kept this long.
pub const KEEP_MS: i64 = 7 * 86_400_000;

/// One event, as claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique in the database: receivers drop repeats by it.
    pub id: i64,
    /// `token.created`, …
    pub kind: String,
    /// The token it is about.
    pub token_id: String,
    /// When it happened, epoch ms.
    pub time: i64,
    /// The kind's detail: the successor (rotated), the expiry (expiring, expired) or
    /// the address (new_ip).
    pub detail: Option<String>,
    /// Deliveries tried before this one.
    pub attempts: i64,
    /// The token's label, when it still exists.
    pub label: Option<String>,
    /// The token's user.
    pub user: Option<String>,
}

impl Event {
    /// The id receivers see (`evt_12`).
    pub fn public_id(&self) -> String {
        format!("evt_{}", self.id)
    }

    /// The JSON body delivered.
    pub fn body(&self) -> Value {
        let detail = self.detail.as_deref();
        let data = match self.kind.as_str() {
            "token.rotated" => json!({ "rotatedTo": detail }),
            "token.expiring" | "token.expired" => {
                json!({ "validUntil": detail.and_then(|d| d.parse::<i64>().ok()) })
            }
            "token.new_ip" => json!({ "ip": detail }),
            _ => json!({}),
        };
        json!({
            "id": self.public_id(),
            "type": self.kind,
            "time": self.time,
            "token": { "id": self.token_id, "label": self.label, "user": self.user },
            "data": data,
        })
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The receiver took it (2xx) at this time.
    Delivered(i64),
    /// It failed; try again at this time.
    Retry(i64),
}

/// The next attempt after `attempts` failed ones: 1 s doubling, at most 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let shift = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
    (1_000_i64 << shift).min(300_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_an_id_a_time_and_the_kinds_data() {
        let event = Event {
            id: 7,
            kind: "token.rotated".into(),
            token_id: "t1".into(),
            time: 1_000,
            detail: Some("t2".into()),
            attempts: 0,
            label: Some("ci".into()),
            user: None,
        };
        let body = event.body();
        assert_eq!(body["id"], "evt_7");
        assert_eq!(body["time"], 1_000);
        assert_eq!(body["data"]["rotatedTo"], "t2");
        assert_eq!(body["token"]["label"], "ci");
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff_ms(0), 1_000);
        assert_eq!(backoff_ms(3), 8_000);
        assert_eq!(backoff_ms(40), 300_000);
    }
}
