//! Figures as people read them: rates with a k/M suffix, memory in MiB.
//! The stderr summary and `pipework-bench report` print them alike.

/// Items per second with three significant-looking digits: `1.80M/s`,
/// `51.5k/s`, `97.9/s`.
pub(crate) fn rate(items_per_s: f64) -> String {
    if items_per_s >= 1e6 {
        format!("{:.2}M/s", items_per_s / 1e6)
    } else if items_per_s >= 1e3 {
        format!("{:.1}k/s", items_per_s / 1e3)
    } else {
        format!("{items_per_s:.1}/s")
    }
}

/// Bytes in MiB with one decimal: `3.6 MiB`.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Seconds to three significant digits (`5.57`, `0.831`, `0.00132`), but
/// never more than six decimals (the clock's rounding in the lines).
pub(crate) fn seconds(seconds: f64) -> String {
    let decimals = if seconds > 0.0 && seconds.is_finite() {
        (2 - seconds.log10().floor() as i32).clamp(0, 6)
    } else {
        3
    };
    format!("{seconds:.*}", decimals as usize)
}

/// An item count as sizes are written in the scenarios' docs: `10k` and
/// `2M` for whole thousands and millions, else the digits (`1500`), so
/// the count is always exact.
pub(crate) fn count(items: u64) -> String {
    if items >= 1_000_000 && items.is_multiple_of(1_000_000) {
        format!("{}M", items / 1_000_000)
    } else if items >= 1_000 && items.is_multiple_of(1_000) {
        format!("{}k", items / 1_000)
    } else {
        items.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_sizes_and_memory_read_as_written_in_the_docs() {
        assert_eq!(rate(1_795_326.0), "1.80M/s");
        assert_eq!(rate(51_500.0), "51.5k/s");
        assert_eq!(rate(97.9), "97.9/s");
        assert_eq!(mib(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
        assert_eq!(seconds(5.570_019), "5.57");
        assert_eq!(seconds(0.831_338), "0.831");
        assert_eq!(seconds(0.001_321), "0.00132");
        assert_eq!(seconds(123.4), "123");
        assert_eq!(seconds(0.0), "0.000");
        assert_eq!(count(10_000_000), "10M");
        assert_eq!(count(20_000), "20k");
        assert_eq!(count(1_500), "1500");
    }
}
