//! A bar chart drawn on the server as SVG (no JavaScript): the geometry of one bar per day.

use chrono::NaiveDate;

pub const WIDTH: u32 = 560;
pub const HEIGHT: u32 = 180;
/// Room for the axis labels.
const LEFT: u32 = 36;
const BOTTOM: u32 = 20;
const TOP: u32 = 8;

pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// For the bar's tooltip and the table behind the chart.
    pub label: String,
    pub count: i64,
}

pub struct AxisLabel {
    pub x: u32,
    pub text: String,
}

pub struct BarChart {
    pub bars: Vec<Bar>,
    pub x_labels: Vec<AxisLabel>,
    pub max: i64,
    pub total: i64,
    pub baseline: u32,
    pub top: u32,
    pub left: u32,
    pub width: u32,
    pub height: u32,
}

impl BarChart {
    /// Bars scaled to the busiest day; a label under every seventh day, counting back from
    /// the last, so today is always labelled.
    pub fn per_day(series: &[(NaiveDate, i64)]) -> BarChart {
        let max = series.iter().map(|&(_, n)| n).max().unwrap_or(0);
        let total = series.iter().map(|&(_, n)| n).sum();
        let plot_height = HEIGHT - TOP - BOTTOM;
        let slot = (WIDTH - LEFT) / (series.len().max(1) as u32);
        let last = series.len().saturating_sub(1);
        let mut bars = Vec::with_capacity(series.len());
        let mut x_labels = Vec::new();
        for (i, &(day, count)) in series.iter().enumerate() {
            let scaled = if max == 0 {
                0
            } else {
                ((count as f64 / max as f64) * f64::from(plot_height)).round() as u32
            };
            // At least one pixel for any badge at all, so a quiet day is not "none".
            let height = if count > 0 { scaled.max(1) } else { 0 };
            let x = LEFT + i as u32 * slot;
            bars.push(Bar {
                x: x + 1,
                y: HEIGHT - BOTTOM - height,
                width: slot.saturating_sub(2).max(1),
                height,
                label: crate::badging::stats::day_key(day),
                count,
            });
            if (last - i).is_multiple_of(7) {
                x_labels.push(AxisLabel {
                    x: x + slot / 2,
                    text: day.format("%b %-d").to_string(),
                });
            }
        }
        BarChart {
            bars,
            x_labels,
            max,
            total,
            baseline: HEIGHT - BOTTOM,
            top: TOP,
            left: LEFT,
            width: WIDTH,
            height: HEIGHT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day() {
        let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let series: Vec<(NaiveDate, i64)> = (0..30)
            .map(|i| {
                (
                    first + chrono::Duration::days(i),
                    [0, 1000, 500][i as usize % 3],
                )
            })
            .collect();
        let chart = BarChart::per_day(&series);
        assert_eq!(chart.bars.len(), 30);
        assert_eq!((chart.max, chart.total), (1000, 15_000));
        let full = HEIGHT - TOP - BOTTOM;
        assert_eq!(chart.bars[1].height, full);
        assert_eq!(chart.bars[2].height, 76);
        assert_eq!(chart.bars[0].height, 0);
        assert!(chart.bars.iter().all(|b| b.y + b.height == chart.baseline));
        assert!(chart.bars.last().unwrap().x + chart.bars[0].width <= WIDTH);
        assert_eq!(chart.x_labels.last().unwrap().text, "Nov 30");
    }

    #[test]
    fn one_badge_among_many_still_shows() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let chart = BarChart::per_day(&[(day, 1), (day.succ_opt().unwrap(), 100_000)]);
        assert!(chart.bars[0].height >= 1);
        let empty = BarChart::per_day(&[(day, 0)]);
        assert_eq!(empty.bars[0].height, 0);
    }
}
