//! The arithmetic of the report: percentiles, the time an invocation spent waiting on AWS calls
//! (the union of their intervals, since concurrent calls wait together), and how many calls were
//! made one after another (the longest chain of calls that each started after the previous ended).

use serde::Serialize;

/// A call's interval in microseconds on the twin's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

/// Nearest-rank percentile of unsorted values (`q` in 0..=100); 0 for no values.
pub fn percentile(values: &[u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50/p99/min/max of a sample, in the unit of the values.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub n: usize,
    pub p50: u64,
    pub p99: u64,
    pub min: u64,
    pub max: u64,
}

impl Summary {
    pub fn of(values: &[u64]) -> Self {
        Self {
            n: values.len(),
            p50: percentile(values, 50.0),
            p99: percentile(values, 99.0),
            min: values.iter().copied().min().unwrap_or(0),
            max: values.iter().copied().max().unwrap_or(0),
        }
    }
}

/// Microseconds covered by at least one span, counting only what lies inside `window`.
pub fn covered(spans: &[Span], window: Span) -> u64 {
    let mut clipped: Vec<Span> = spans
        .iter()
        .map(|s| Span {
            start: s.start.max(window.start),
            end: s.end.min(window.end),
        })
        .filter(|s| s.end > s.start)
        .collect();
    clipped.sort_by_key(|s| s.start);
    let mut total = 0;
    let mut current: Option<Span> = None;
    for s in clipped {
        current = match current {
            Some(c) if s.start <= c.end => Some(Span {
                start: c.start,
                end: c.end.max(s.end),
            }),
            Some(c) => {
                total += c.end - c.start;
                Some(s)
            }
            None => Some(s),
        };
    }
    total + current.map_or(0, |c| c.end - c.start)
}

/// The most spans that ran strictly one after another (each starting at or after the previous end).
pub fn sequential_chain(spans: &[Span]) -> usize {
    let mut sorted = spans.to_vec();
    sorted.sort_by_key(|s| (s.end, s.start));
    let mut longest: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, s) in sorted.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| sorted[j].end <= s.start)
            .map(|j| longest[j])
            .max()
            .unwrap_or(0);
        longest.push(before + 1);
    }
    longest.into_iter().max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u64, end: u64) -> Span {
        Span { start, end }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!((percentile(&v, 50.0), percentile(&v, 99.0)), (50, 99));
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(Summary::of(&[3, 1, 2]).max, 3);
    }

    #[test]
    fn concurrent_calls_are_waited_for_once() {
        let window = span(0, 100);
        assert_eq!(covered(&[span(10, 30), span(20, 40), span(50, 60)], window), 40);
        assert_eq!(covered(&[span(90, 130)], window), 10, "clipped to the window");
        assert_eq!(covered(&[], window), 0);
    }

    #[test]
    fn the_chain_counts_calls_that_waited_for_each_other() {
        // Two concurrent reads, then a write, then a send alongside a detached receipt.
        let calls = [span(0, 20), span(1, 21), span(22, 42), span(43, 63), span(43, 64)];
        assert_eq!(sequential_chain(&calls), 3);
        assert_eq!(sequential_chain(&[span(0, 5), span(1, 6)]), 1);
        assert_eq!(sequential_chain(&[]), 0);
    }
}
