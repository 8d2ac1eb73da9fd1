//! Badges › Frozen badge images: a read-only list over the frozen badge classes of
//! courses, each frozen image beside the one the configuration gives its mode today. It is
//! a list source of the changelist (search, filters, order and pages as every list), shown
//! to whoever may view badge classes, each row linking to its class.

use diesel::QueryResult;

use crate::admin::image_field::thumbnail;
use crate::admin::list::sort_in_memory;
use crate::admin::{Cell, Column, Filter, FilterSpec, ListPage, ListQuery, ListSource, Row};
use crate::badges::frozen::{self, FrozenRow, ReportFilter};
use crate::db::DbConnection;

pub const TITLE: &str = "Frozen badge images";
pub const NOUN: &str = "frozen course badge images";
pub const DESCRIPTION: &str = "When a course's first badge of a mode is issued, its badge image is frozen on the badge backend: later changes to the badge image configuration do not reach that course. This report compares each frozen image with the image the configuration gives the mode today.";
pub const EMPTY: &str = "No course has a frozen badge image.";
const DIFFERS: &str = "Differs from current configuration";

static COLUMNS: &[Column] = &[
    Column::sorted("course", "Course"),
    Column::sorted("course_name", "Course name"),
    Column::sorted("mode", "Mode"),
    Column::new("frozen_image", "Frozen image"),
    Column::new("current_image", "Image today"),
    Column::sorted("differs", "Differs"),
    Column::sorted("frozen_at", "Frozen at"),
    Column::sorted("backend_id", "Backend identifier"),
];

pub struct FrozenImages;

impl FrozenImages {
    /// The rows the query selects (searched, filtered and sorted), and how many there are
    /// in all.
    pub fn rows(conn: &mut DbConnection, q: &ListQuery) -> QueryResult<(Vec<FrozenRow>, i64)> {
        let everything = frozen::report(conn, &ReportFilter::default())?;
        let filter = ReportFilter {
            terms: q.terms.clone(),
            mode: q.filter("mode").map(str::to_string),
            org: q.filter("org").map(str::to_string),
            differs: q.bool_filter("differs"),
        };
        let total = i64::try_from(everything.len()).unwrap_or(i64::MAX);
        let mut kept: Vec<FrozenRow> = everything.into_iter().filter(|r| filter.keeps(r)).collect();
        sort_in_memory(&mut kept, q, COLUMNS, sort_key);
        Ok((kept, total))
    }
}

fn sort_key(row: &FrozenRow, column: &str) -> String {
    match column {
        "course" => row.course_id.clone(),
        "course_name" => row.course_name.clone(),
        "mode" => row.mode.clone(),
        "differs" => row.differs().to_string(),
        "frozen_at" => row.frozen_at.to_string(),
        "backend_id" => row.backend_id.clone(),
        _ => String::new(),
    }
}

fn row_of(r: FrozenRow) -> Row {
    let frozen = thumbnail(&r.frozen_hash, format!("Frozen image for {}", r.mode));
    let today = match &r.current_hash {
        Some(hash) => thumbnail(hash, format!("Today's image for {}", r.mode)),
        None => Cell::Text("none configured".into()),
    };
    let differs = if r.differs() {
        Cell::Warning(DIFFERS.into())
    } else {
        Cell::Text("Same".into())
    };
    Row {
        id: r.class_id.to_string(),
        cells: vec![
            Cell::Text(r.course_id),
            Cell::Text(r.course_name),
            Cell::Text(r.mode),
            frozen,
            today,
            differs,
            Cell::Time(Some(r.frozen_at)),
            Cell::Text(r.backend_id),
        ],
    }
}

impl ListSource for FrozenImages {
    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches course key, course name and mode.")
    }

    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        let everything = frozen::report(conn, &ReportFilter::default())?;
        let distinct = |value: fn(&FrozenRow) -> &str| {
            let mut values: Vec<(String, String)> = everything
                .iter()
                .map(|row| (value(row).to_string(), value(row).to_string()))
                .collect();
            values.sort_unstable();
            values.dedup();
            values
        };
        Ok(vec![
            Filter::from_data("mode", "mode").spec(distinct(|r| &r.mode)),
            Filter::from_data("org", "org").spec(distinct(|r| &r.org)),
            Filter::boolean("differs", "differs from the current configuration").spec(Vec::new()),
        ])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let (rows, total) = FrozenImages::rows(conn, q)?;
        Ok(ListPage::in_memory(rows, total, q, row_of))
    }
}
