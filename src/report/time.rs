//! Durations and times as the report shows them.

use jiff::Timestamp;

/// A duration for people: two units at most ("5h 12m", "3m 20s", "45s").
pub fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    let rounded = match secs {
        0..=59 => secs,
        60..=3599 => secs,
        3600..=86_399 => secs / 60 * 60,
        _ => secs / 3600 * 3600,
    };
    if rounded == 0 {
        return "0s".to_string();
    }
    humantime::format_duration(std::time::Duration::from_secs(rounded)).to_string()
}

/// Now, to the millisecond (what snapshots record).
pub fn now_millis() -> Timestamp {
    let now = Timestamp::now();
    now.round(jiff::Unit::Millisecond).unwrap_or(now)
}

/// Now, to the second (what reports are stamped with).
pub fn now_seconds() -> Timestamp {
    let now = Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now)
}

/// A timestamp minus some seconds, to the whole second below, when both are sane (a
/// snapshot may say anything: no panic, no wrap, `None` out of range).
pub fn seconds_before(t: Timestamp, secs: f64) -> Option<Timestamp> {
    let span = jiff::SignedDuration::try_from_secs_f64(secs).ok()?;
    t.checked_sub(span).ok().map(floor_seconds)
}

/// A timestamp to the whole second below.
pub fn floor_seconds(t: Timestamp) -> Timestamp {
    t.round(
        jiff::TimestampRound::new()
            .smallest(jiff::Unit::Second)
            .mode(jiff::RoundMode::Floor),
    )
    .unwrap_or(t)
}
