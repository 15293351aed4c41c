//! Horizontal bar charts as inline SVG, laid out here and drawn by
//! `templates/dash_macros.html`: one row per category (a country, a
//! provider…), its label on the left, bars on a labelled axis, the figure at
//! the end of the row. Colours come from CSS classes (the page's CSP allows
//! no inline style); every bar carries a `<title>` and, where it summarizes
//! messages, a link to them. The page prints the same figures in a table
//! beside each chart.

use crate::domain::dashboard::buckets::short_duration;

/// The drawing's width in SVG units; the page scales it to its column.
const WIDTH: i32 = 640;
const LABEL_WIDTH: i32 = 150;
const FIGURE_WIDTH: i32 = 90;
const PLOT_X: i32 = LABEL_WIDTH + 8;
const PLOT_WIDTH: i32 = WIDTH - PLOT_X - FIGURE_WIDTH;
const ROW_HEIGHT: i32 = 26;
const BAR_HEIGHT: i32 = 16;
const TOP: i32 = 8;
const AXIS_HEIGHT: i32 = 34;

pub struct Chart {
    /// Unique on the page: names the `<title>` and `<desc>` for `aria-labelledby`.
    pub id: String,
    pub title: String,
    pub description: String,
    pub width: i32,
    pub height: i32,
    pub plot_x: i32,
    pub plot_right: i32,
    pub rows: Vec<ChartRow>,
    pub ticks: Vec<Tick>,
    pub axis_y: i32,
    pub axis_label: String,
    pub axis_label_x: i32,
    pub legend: Vec<Legend>,
}

pub struct ChartRow {
    pub label: String,
    pub label_x: i32,
    pub text_y: i32,
    pub bars: Vec<Bar>,
    pub figure: String,
    pub figure_x: i32,
}

pub struct Bar {
    pub x: String,
    pub y: i32,
    pub width: String,
    pub height: i32,
    pub class: String,
    pub title: String,
    pub href: Option<String>,
}

pub struct Tick {
    pub x: String,
    pub label: String,
}

pub struct Legend {
    pub class: String,
    pub label: String,
}

/// One piece of a row: a count (stacked charts), a duration or a value.
pub struct Piece {
    pub class: String,
    pub value: f64,
    pub title: String,
    pub href: Option<String>,
}

pub struct Row {
    pub label: String,
    pub pieces: Vec<Piece>,
    /// Printed at the end of the row.
    pub figure: String,
}

fn frame(id: &str, title: &str, description: String, rows: usize) -> Chart {
    let plot_height = rows.max(1) as i32 * ROW_HEIGHT;
    let axis_y = TOP + plot_height;
    Chart {
        id: id.to_owned(),
        title: title.to_owned(),
        description,
        width: WIDTH,
        height: axis_y + AXIS_HEIGHT,
        plot_x: PLOT_X,
        plot_right: PLOT_X + PLOT_WIDTH,
        rows: Vec::new(),
        ticks: Vec::new(),
        axis_y,
        axis_label: String::new(),
        axis_label_x: PLOT_X + PLOT_WIDTH / 2,
        legend: Vec::new(),
    }
}

fn units(x: f64) -> String {
    format!("{x:.1}")
}

fn row_frame(index: usize, row: &Row) -> ChartRow {
    let top = TOP + index as i32 * ROW_HEIGHT;
    ChartRow {
        label: clip(&row.label, 22),
        label_x: LABEL_WIDTH,
        text_y: top + ROW_HEIGHT / 2 + 4,
        bars: Vec::new(),
        figure: row.figure.clone(),
        figure_x: PLOT_X + PLOT_WIDTH + 6,
    }
}

/// Labels longer than the margin are cut with an ellipsis (the table
/// beside the chart has them whole).
fn clip(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// Each row's pieces stacked to 100 % of the row's total.
pub fn stacked_shares(
    id: &str,
    title: &str,
    description: String,
    rows: Vec<Row>,
    legend: Vec<Legend>,
) -> Chart {
    let mut chart = frame(id, title, description, rows.len());
    chart.axis_label = "share of messages".to_owned();
    chart.ticks = (0..=4)
        .map(|i| Tick {
            x: units(f64::from(PLOT_X) + f64::from(PLOT_WIDTH) * f64::from(i) / 4.0),
            label: format!("{} %", i * 25),
        })
        .collect();
    for (index, row) in rows.iter().enumerate() {
        let mut drawn = row_frame(index, row);
        let total: f64 = row.pieces.iter().map(|p| p.value.max(0.0)).sum();
        let mut x = f64::from(PLOT_X);
        for piece in &row.pieces {
            if total <= 0.0 || piece.value <= 0.0 {
                continue;
            }
            let width = f64::from(PLOT_WIDTH) * piece.value / total;
            drawn.bars.push(Bar {
                x: units(x),
                y: TOP + index as i32 * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                width: units(width),
                height: BAR_HEIGHT,
                class: piece.class.clone(),
                title: piece.title.clone(),
                href: piece.href.clone(),
            });
            x += width;
        }
        chart.rows.push(drawn);
    }
    chart.legend = legend;
    chart
}

/// One bar per row on a linear axis from 0 to the largest value (or
/// `max`, for shares); `format` writes the tick labels.
pub fn bars(
    id: &str,
    title: &str,
    description: String,
    rows: Vec<Row>,
    max: Option<f64>,
    format: impl Fn(f64) -> String,
) -> Chart {
    let mut chart = frame(id, title, description, rows.len());
    let top = max.unwrap_or_else(|| {
        rows.iter()
            .flat_map(|r| r.pieces.iter().map(|p| p.value))
            .fold(0.0, f64::max)
    });
    let top = nice_ceiling(top);
    chart.ticks = (0..=4)
        .map(|i| {
            let value = top * f64::from(i) / 4.0;
            Tick {
                x: units(f64::from(PLOT_X) + f64::from(PLOT_WIDTH) * f64::from(i) / 4.0),
                label: format(value),
            }
        })
        .collect();
    for (index, row) in rows.iter().enumerate() {
        let mut drawn = row_frame(index, row);
        for piece in &row.pieces {
            let width = f64::from(PLOT_WIDTH) * (piece.value / top).clamp(0.0, 1.0);
            drawn.bars.push(Bar {
                x: units(f64::from(PLOT_X)),
                y: TOP + index as i32 * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                width: units(width),
                height: BAR_HEIGHT,
                class: piece.class.clone(),
                title: piece.title.clone(),
                href: piece.href.clone(),
            });
        }
        chart.rows.push(drawn);
    }
    chart
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value` (1 for nothing), so
/// ticks at quarters of it read as round numbers often enough.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 4.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * magnitude)
}

/// Durations as thin bars side by side in each row (p50, p95, p99), on a
/// logarithmic axis from 100 ms to 7 days with labelled decades.
pub fn durations(
    id: &str,
    title: &str,
    description: String,
    rows: Vec<Row>,
    legend: Vec<Legend>,
) -> Chart {
    const LOW_US: f64 = 100_000.0;
    const HIGH_US: f64 = 7.0 * 86_400_000_000.0;
    let position = |us: f64| {
        let share = (us.max(LOW_US).ln() - LOW_US.ln()) / (HIGH_US.ln() - LOW_US.ln());
        f64::from(PLOT_WIDTH) * share.clamp(0.0, 1.0)
    };
    let mut chart = frame(id, title, description, rows.len());
    chart.axis_label = "time (logarithmic scale)".to_owned();
    chart.ticks = [
        100_000i64,
        1_000_000,
        10_000_000,
        60_000_000,
        600_000_000,
        3_600_000_000,
        86_400_000_000,
        604_800_000_000,
    ]
    .into_iter()
    .map(|us| Tick {
        x: units(f64::from(PLOT_X) + position(us as f64)),
        label: short_duration(us),
    })
    .collect();
    for (index, row) in rows.iter().enumerate() {
        let mut drawn = row_frame(index, row);
        let count = row.pieces.len().max(1) as i32;
        let thin = (BAR_HEIGHT + 4) / count;
        for (i, piece) in row.pieces.iter().enumerate() {
            drawn.bars.push(Bar {
                x: units(f64::from(PLOT_X)),
                y: TOP + index as i32 * ROW_HEIGHT + 1 + i as i32 * thin,
                width: units(position(piece.value).max(1.0)),
                height: (thin - 1).max(2),
                class: piece.class.clone(),
                title: piece.title.clone(),
                href: piece.href.clone(),
            });
        }
        chart.rows.push(drawn);
    }
    chart.legend = legend;
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(class: &str, value: f64) -> Piece {
        Piece {
            class: class.to_owned(),
            value,
            title: format!("{class} {value}"),
            href: None,
        }
    }

    #[test]
    fn stacked_pieces_fill_the_plot_in_proportion() {
        let chart = stacked_shares(
            "c",
            "t",
            String::new(),
            vec![Row {
                label: "US".into(),
                pieces: vec![piece("a", 3.0), piece("b", 0.0), piece("c", 1.0)],
                figure: "4".into(),
            }],
            Vec::new(),
        );
        let bars = &chart.rows[0].bars;
        assert_eq!(bars.len(), 2, "an empty piece draws nothing");
        let width = |b: &Bar| b.width.parse::<f64>().unwrap();
        assert!((width(&bars[0]) - f64::from(PLOT_WIDTH) * 0.75).abs() < 0.1);
        assert_eq!(
            bars[1].x,
            units(f64::from(PLOT_X) + f64::from(PLOT_WIDTH) * 0.75)
        );
        assert_eq!(chart.ticks.len(), 5);
        assert_eq!(chart.ticks[4].label, "100 %");
        assert_eq!(chart.height, TOP + ROW_HEIGHT + AXIS_HEIGHT);
    }

    #[test]
    fn linear_axes_end_on_a_round_number() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(130.0), 200.0);
        assert_eq!(nice_ceiling(0.3), 0.4);
        let chart = bars(
            "b",
            "t",
            String::new(),
            vec![Row {
                label: "x".into(),
                pieces: vec![piece("a", 50.0)],
                figure: String::new(),
            }],
            None,
            |v| format!("{v:.0}"),
        );
        assert_eq!(chart.ticks[4].label, "50");
        assert_eq!(chart.rows[0].bars[0].width, units(f64::from(PLOT_WIDTH)));
    }

    #[test]
    fn durations_sit_on_a_log_axis() {
        let chart = durations(
            "d",
            "t",
            String::new(),
            vec![Row {
                label: "twilio".into(),
                pieces: vec![piece("p50", 1_000_000.0), piece("p99", 604_800_000_000.0)],
                figure: String::new(),
            }],
            Vec::new(),
        );
        let bars = &chart.rows[0].bars;
        let end = |b: &Bar| b.width.parse::<f64>().unwrap();
        assert!(
            (end(&bars[1]) - f64::from(PLOT_WIDTH)).abs() < 0.1,
            "7 d ends the axis"
        );
        assert!(end(&bars[0]) > 0.0 && end(&bars[0]) < f64::from(PLOT_WIDTH) / 3.0);
        assert_eq!(
            chart.ticks.first().map(|t| t.label.as_str()),
            Some("100 ms")
        );
        assert_eq!(chart.ticks.last().map(|t| t.label.as_str()), Some("7 d"));
        assert_eq!(clip("a very long template name indeed", 10), "a very lo…");
    }
}
