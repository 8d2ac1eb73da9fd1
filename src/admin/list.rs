//! Changelist queries: search terms, filters, sorting and pagination, parsed once from the
//! query string, plus the helpers model admins use to turn them into diesel queries.

use std::collections::BTreeMap;

use diesel::QueryResult;

use super::form::{Choices, choices_of};
use crate::db::DbConnection;

pub const PER_PAGE: i64 = 100;

/// Bounds of what a changelist reads from its query string. Django caps nothing, but every
/// search word is one more LIKE in one SQL statement: thousands of them exceed SQLite's
/// expression depth and PostgreSQL's parameter count, and one word of tens of thousands of
/// characters SQLite's LIKE pattern length. A longer search is shortened (and the page says
/// so); a longer filter value is ignored like an unknown filter.
pub const MAX_SEARCH_TERMS: usize = 20;
pub const MAX_TERM_CHARS: usize = 200;
pub const MAX_FILTER_CHARS: usize = 500;

/// The number of the last page of `count` rows (1 when there are none).
pub fn last_page(count: i64) -> i64 {
    (count / PER_PAGE + i64::from(count % PER_PAGE > 0)).max(1)
}

/// A changelist column. `key` is what the model matches on to sort.
#[derive(Debug)]
pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub sortable: bool,
}

impl Column {
    /// A column shown, not sorted on.
    pub const fn new(key: &'static str, label: &'static str) -> Column {
        Column {
            key,
            label,
            sortable: false,
        }
    }

    /// A column the changelist sorts on when its header is clicked.
    pub const fn sorted(key: &'static str, label: &'static str) -> Column {
        Column {
            key,
            label,
            sortable: true,
        }
    }
}

/// One cell of a row, typed so that the template renders each kind alike everywhere.
#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    Bool(Option<bool>),
    Time(Option<chrono::NaiveDateTime>),
    /// An image (e.g. a thumbnail), with its alternative text.
    Image {
        url: String,
        alt: String,
    },
    /// Text that calls for attention (e.g. an image that differs from the configuration's);
    /// its row is marked too.
    Warning(String),
}

#[derive(Debug)]
pub struct Row {
    pub id: String,
    pub cells: Vec<Cell>,
}

impl Row {
    /// The row of the object with this id (in the model's own id type).
    pub fn new(id: impl ToString, cells: Vec<Cell>) -> Row {
        Row {
            id: id.to_string(),
            cells,
        }
    }
}

/// A sidebar filter as a model declares it (Django's `list_filter`): the query parameter
/// it sets, its title, and where its choices come from.
#[derive(Debug)]
pub struct Filter {
    pub param: &'static str,
    pub title: &'static str,
    pub choices: FilterChoices,
}

#[derive(Debug)]
pub enum FilterChoices {
    /// (value, label) pairs known in the code.
    Fixed(&'static [(&'static str, &'static str)]),
    /// One choice per value, each shown as it is stored.
    Values(&'static [&'static str]),
    /// Choices that depend on the data, given by the model admin when the list is shown.
    FromData,
}

const YES_NO: [(&str, &str); 2] = [("1", "Yes"), ("0", "No")];

/// The choices of a date filter, as Django's: how far back each reaches.
const DATE_CHOICES: [(&str, &str); 4] = [
    ("today", "Today"),
    ("week", "Past 7 days"),
    ("month", "This month"),
    ("year", "This year"),
];

impl Filter {
    const fn new(param: &'static str, title: &'static str, choices: FilterChoices) -> Filter {
        Filter {
            param,
            title,
            choices,
        }
    }

    /// Yes / No, as `param=1` / `param=0`; read back with [`ListQuery::bool_filter`].
    pub const fn boolean(param: &'static str, title: &'static str) -> Filter {
        Filter::new(param, title, FilterChoices::Fixed(&YES_NO))
    }

    pub const fn values(
        param: &'static str,
        title: &'static str,
        values: &'static [&'static str],
    ) -> Filter {
        Filter::new(param, title, FilterChoices::Values(values))
    }

    pub const fn choices(
        param: &'static str,
        title: &'static str,
        choices: &'static [(&'static str, &'static str)],
    ) -> Filter {
        Filter::new(param, title, FilterChoices::Fixed(choices))
    }

    /// On a time column, as Django's: today, the past 7 days, this month, this year; read
    /// back with [`ListQuery::since`].
    pub const fn dates(param: &'static str, title: &'static str) -> Filter {
        Filter::new(param, title, FilterChoices::Fixed(&DATE_CHOICES))
    }

    /// Choices from the data (e.g. the groups there are).
    pub const fn from_data(param: &'static str, title: &'static str) -> Filter {
        Filter::new(param, title, FilterChoices::FromData)
    }

    /// The filter as shown, with `from_data` choices for a [`FilterChoices::FromData`] one.
    pub fn spec(&self, from_data: Choices) -> FilterSpec {
        let choices = match self.choices {
            FilterChoices::Fixed(pairs) => choices_of(pairs),
            FilterChoices::Values(values) => values
                .iter()
                .map(|v| (v.to_string(), v.to_string()))
                .collect(),
            FilterChoices::FromData => from_data,
        };
        FilterSpec::new(self.param, self.title, choices)
    }
}

/// A sidebar filter as shown: the query parameter it sets and the values it offers.
#[derive(Debug)]
pub struct FilterSpec {
    pub param: &'static str,
    pub title: &'static str,
    pub choices: Choices,
}

impl FilterSpec {
    /// A filter offering the given (value, label) choices.
    pub fn new(param: &'static str, title: &'static str, choices: Choices) -> FilterSpec {
        FilterSpec {
            param,
            title,
            choices,
        }
    }
}

#[derive(Debug, Default)]
pub struct ListPage {
    pub rows: Vec<Row>,
    /// Rows matching the search and filters.
    pub count: i64,
    /// Rows in the table, when counted. A model with a large table leaves it out of
    /// searched and filtered pages (as Django's `show_full_result_count = False`): counting
    /// every row costs more than the search.
    pub total: Option<i64>,
}

impl ListPage {
    pub fn new(rows: Vec<Row>, count: i64, total: Option<i64>) -> ListPage {
        ListPage { rows, count, total }
    }

    /// The requested page of items listed in memory (a report computed whole, already
    /// searched, filtered and sorted, see [`sort_in_memory`]).
    pub fn in_memory<T>(
        items: Vec<T>,
        total: i64,
        query: &ListQuery,
        row: impl Fn(T) -> Row,
    ) -> ListPage {
        let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let skip = usize::try_from(query.offset()).unwrap_or(usize::MAX);
        let rows = items.into_iter().skip(skip).take(PER_PAGE as usize);
        ListPage::new(rows.map(row).collect(), count, Some(total))
    }
}

/// Sorts items listed in memory as the query asks, through `key` (an item's sort key for a
/// column's key); ties keep the items' order.
pub fn sort_in_memory<T, K: Ord>(
    items: &mut [T],
    query: &ListQuery,
    columns: &[Column],
    key: impl Fn(&T, &str) -> K,
) {
    // Stable sorts from the last priority to the first give the whole order.
    for &(index, descending) in query.order.iter().rev() {
        let column = columns[index].key;
        items.sort_by(|a, b| {
            let order = key(a, column).cmp(&key(b, column));
            if descending { order.reverse() } else { order }
        });
    }
}

/// What a changelist lists: its columns, search, filters and one page of rows. Every model
/// admin is one; so is a read-only report over a model's rows (the frozen badge images),
/// which thereby shares the changelist's search, filters, order, pages and template.
pub trait ListSource: Send + Sync {
    fn columns(&self) -> &'static [Column];
    fn search_help(&self) -> Option<&'static str>;
    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>>;
    fn list(&self, conn: &mut DbConnection, query: &ListQuery) -> QueryResult<ListPage>;
}

/// A parsed changelist request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The search as it is applied (shortened when it passed the bounds).
    pub search: String,
    /// Words (or quoted phrases) that must each match some searched field.
    pub terms: Vec<String>,
    /// Whether the search was cut to [`MAX_SEARCH_TERMS`] words of [`MAX_TERM_CHARS`].
    pub search_shortened: bool,
    /// Filter parameter → value, only for declared filters.
    pub filters: BTreeMap<String, String>,
    /// Column index (0-based) and whether descending, in priority order.
    pub order: Vec<(usize, bool)>,
    /// 1-based.
    pub page: i64,
}

/// The parameters a changelist URL may carry besides declared filters.
pub const SEARCH_PARAM: &str = "q";
pub const ORDER_PARAM: &str = "o";
pub const PAGE_PARAM: &str = "p";

/// A parameter that no filter declares, or a filter value too long to be one of its
/// choices. What it was is not kept: it is the requester's text, never shown back.
#[derive(Debug, PartialEq)]
pub struct UnknownFilter;

impl ListQuery {
    /// Parses the query string.
    pub fn parse(
        pairs: &[(String, String)],
        columns: &[super::Column],
        filters: &[FilterSpec],
    ) -> Result<ListQuery, UnknownFilter> {
        let mut query = ListQuery {
            page: 1,
            ..ListQuery::default()
        };
        for (key, value) in pairs {
            match key.as_str() {
                SEARCH_PARAM => {
                    let search = Search::parse(value);
                    query.search = search.text;
                    query.terms = search.terms;
                    query.search_shortened = search.shortened;
                }
                ORDER_PARAM => query.order = parse_order(value, columns),
                PAGE_PARAM => query.page = value.parse().unwrap_or(1).max(1),
                param
                    if filters.iter().any(|f| f.param == param)
                        && value.chars().count() <= MAX_FILTER_CHARS =>
                {
                    query.filters.insert(key.clone(), value.clone());
                }
                _ => return Err(UnknownFilter),
            }
        }
        Ok(query)
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(PER_PAGE)
    }

    pub fn filter(&self, param: &str) -> Option<&str> {
        self.filters.get(param).map(String::as_str)
    }

    /// `true`/`false` for a boolean filter's `1`/`0`.
    pub fn bool_filter(&self, param: &str) -> Option<bool> {
        match self.filter(param) {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        }
    }

    /// The `o` parameter for an order (1-based, `-` for descending), as Django writes it.
    pub fn order_param(order: &[(usize, bool)]) -> String {
        order
            .iter()
            .map(|&(i, desc)| format!("{}{}", if desc { "-" } else { "" }, i + 1))
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn parse_order(value: &str, columns: &[super::Column]) -> Vec<(usize, bool)> {
    let mut order: Vec<(usize, bool)> = Vec::new();
    for part in value.split('.') {
        let (desc, number) = match part.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        let Ok(index) = number.parse::<usize>() else {
            continue;
        };
        let valid = index >= 1 && columns.get(index - 1).is_some_and(|c| c.sortable);
        if valid && order.iter().all(|&(i, _)| i != index - 1) {
            order.push((index - 1, desc));
        }
    }
    order
}

/// A search within the bounds: at most [`MAX_SEARCH_TERMS`] terms of at most
/// [`MAX_TERM_CHARS`] characters each.
#[derive(Debug, PartialEq)]
pub struct Search {
    /// The search as typed, or when shortened, the terms it kept (phrases quoted).
    pub text: String,
    pub terms: Vec<String>,
    pub shortened: bool,
}

impl Search {
    pub fn parse(search: &str) -> Search {
        let mut terms = split_terms(search);
        let mut shortened = terms.len() > MAX_SEARCH_TERMS;
        terms.truncate(MAX_SEARCH_TERMS);
        for term in &mut terms {
            if let Some((cut, _)) = term.char_indices().nth(MAX_TERM_CHARS) {
                term.truncate(cut);
                shortened = true;
            }
        }
        let text = if shortened {
            let quoted = |t: &String| {
                if t.contains(char::is_whitespace) {
                    format!("\"{t}\"")
                } else {
                    t.clone()
                }
            };
            terms.iter().map(quoted).collect::<Vec<_>>().join(" ")
        } else {
            search.trim().to_string()
        };
        Search {
            text,
            terms,
            shortened,
        }
    }
}

/// Splits a search into words, keeping "quoted phrases" whole (Django's `smart_split`).
pub fn split_terms(search: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in search.chars() {
        match c {
            '"' => {
                if quoted && !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        terms.push(current.trim().to_string());
    }
    terms
}

/// A case-insensitive "contains" pattern for `lower(column) LIKE pattern ESCAPE '\'`.
pub fn contains_pattern(term: &str) -> String {
    let mut pattern = String::from("%");
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl ListQuery {
    /// Where the period a [`Filter::dates`] filter picked begins, at `now` (UTC):
    /// `None` when the filter is not set.
    pub fn since(&self, param: &str, now: chrono::NaiveDateTime) -> Option<chrono::NaiveDateTime> {
        use chrono::Datelike;
        let today = now.date();
        let day = match self.filter(param)? {
            "today" => today,
            "week" => today - chrono::Duration::days(6),
            "month" => today.with_day(1)?,
            "year" => today.with_ordinal(1)?,
            _ => return None,
        };
        day.and_hms_opt(0, 0, 0)
    }
}

pub use crate::db::lower;

/// Adds one filter per search term: every term must match at least one of the columns.
///
/// `search_terms!(query, &list_query.terms, users::username, users::email)`
macro_rules! search_terms {
    ($query:expr, $terms:expr, $first:expr $(, $rest:expr)* $(,)?) => {{
        use diesel::prelude::*;
        let mut query = $query;
        for term in $terms {
            let pattern = $crate::admin::list::contains_pattern(term);
            query = query.filter(
                $crate::admin::list::lower($first).like(pattern.clone()).escape('\\')
                $(.or($crate::admin::list::lower($rest).like(pattern.clone()).escape('\\')))*
            );
        }
        query
    }};
}

/// The requested page of a boxed query: ordered by the requested columns, then by the
/// primary key so that pages are stable, then offset and limited.
/// `page_of!(query, &list_query, COLUMNS, users::id, { "username" => users::username, … })`
macro_rules! page_of {
    // With the model's own order when the request picks no column (Django's `ordering`).
    ($query:expr, $list_query:expr, $columns:expr, $pk:expr, default: $default:expr, { $($key:literal => $col:expr),* $(,)? }) => {{
        use diesel::prelude::*;
        let query = $query;
        let query = if $list_query.order.is_empty() {
            query.then_order_by($default)
        } else {
            query
        };
        $crate::admin::list::page_of!(query, $list_query, $columns, $pk, { $($key => $col),* })
    }};
    ($query:expr, $list_query:expr, $columns:expr, $pk:expr, { $($key:literal => $col:expr),* $(,)? }) => {{
        use diesel::prelude::*;
        let list_query: &$crate::admin::ListQuery = $list_query;
        // Every column the declaration lets users sort by has its expression here; checked
        // wherever tests list a model, so such a column fails them instead of not sorting.
        let sortable: &[&str] = &[$($key),*];
        debug_assert!(
            $columns.iter().all(|c: &$crate::admin::Column| !c.sortable || sortable.contains(&c.key)),
            "a sortable column has no sort expression"
        );
        let mut query = $query;
        for &(index, descending) in &list_query.order {
            query = match ($columns[index].key, descending) {
                $(
                    ($key, false) => query.then_order_by($col.asc()),
                    ($key, true) => query.then_order_by($col.desc()),
                )*
                _ => query,
            };
        }
        query
            .then_order_by($pk.asc())
            .offset(list_query.offset())
            .limit($crate::admin::list::PER_PAGE)
    }};
}

/// A whole changelist page in one call: the counts, the requested page of the filtered
/// query (ordered as [`page_of!`] does), and its rows.
///
/// ```text
/// list_page!(conn, q, &META,
///     total: users::table,              // or `total_unfiltered:` (see below)
///     filtered: || users::table.into_boxed(),   // search and filters applied
///     pk: users::id,
///     default: users::username.asc(),   // optional, as in `page_of!`
///     order: { "username" => users::username },
///     select: User::as_select(),
///     row: |u: User| Row::new(u.id, vec![..]),  // or `rows: |conn, page| Ok(vec![..])`
/// )
/// ```
///
/// `total:` counts the table and the filtered rows on every page; `total_unfiltered:`
/// counts the table only when nothing is searched or filtered (then that is the count),
/// and otherwise only the matching rows, for a table too large to count on every search.
/// `rows:` maps the whole page at once, for rows that need more reads (one query per
/// page, not per row). The expression is a `QueryResult<ListPage>`.
macro_rules! list_page {
    (@count total, $conn:ident, $q:ident, $table:expr, $filtered:ident) => {{
        let total: i64 = $table.count().get_result($conn)?;
        let count: i64 = $filtered().count().get_result($conn)?;
        (count, Some(total))
    }};
    (@count total_unfiltered, $conn:ident, $q:ident, $table:expr, $filtered:ident) => {{
        if $q.terms.is_empty() && $q.filters.is_empty() {
            let total: i64 = $table.count().get_result($conn)?;
            (total, Some(total))
        } else {
            let count: i64 = $filtered().count().get_result($conn)?;
            (count, None)
        }
    }};
    (@rows row, $conn:ident, $page:ident, $row:expr) => {
        $page.into_iter().map($row).collect::<Vec<$crate::admin::Row>>()
    };
    (@rows rows, $conn:ident, $page:ident, $rows:expr) => {{
        let rows: diesel::QueryResult<Vec<$crate::admin::Row>> = ($rows)(&mut *$conn, $page);
        rows?
    }};
    ($conn:expr, $q:expr, $meta:expr,
     $total:ident: $table:expr,
     filtered: $filtered:expr,
     pk: $pk:expr,
     $(default: $default:expr,)?
     order: { $($key:literal => $col:expr),* $(,)? },
     select: $select:expr,
     $map:ident: $mapper:expr $(,)?) => {
        (|| -> diesel::QueryResult<$crate::admin::ListPage> {
            use diesel::prelude::*;
            let conn: &mut $crate::db::DbConnection = $conn;
            let list_query: &$crate::admin::ListQuery = $q;
            let meta: &$crate::admin::AdminMeta = $meta;
            let filtered = $filtered;
            let (count, total) =
                $crate::admin::list::list_page!(@count $total, conn, list_query, $table, filtered);
            let page: Vec<_> = $crate::admin::list::page_of!(
                filtered(), list_query, meta.columns, $pk, $(default: $default,)? { $($key => $col),* }
            )
            .select($select)
            .load(conn)?;
            let rows = $crate::admin::list::list_page!(@rows $map, conn, page, $mapper);
            Ok($crate::admin::ListPage::new(rows, count, total))
        })()
    };
}

pub(crate) use {list_page, page_of, search_terms};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::Column;

    const COLUMNS: &[Column] = &[
        Column {
            key: "a",
            label: "A",
            sortable: true,
        },
        Column {
            key: "b",
            label: "B",
            sortable: false,
        },
        Column {
            key: "c",
            label: "C",
            sortable: true,
        },
    ];

    #[test]
    fn quoted_phrases_stay_whole() {
        assert_eq!(
            split_terms(r#"alice "bob smith"  carol "#),
            vec!["alice", "bob smith", "carol"]
        );
        assert_eq!(split_terms("   "), Vec::<String>::new());
        assert_eq!(split_terms(r#""unclosed phrase"#), vec!["unclosed phrase"]);
    }

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(contains_pattern("A_b%"), r"%a\_b\%%");
    }

    #[test]
    fn order_skips_unsortable_unknown_and_repeated_columns() {
        assert_eq!(
            parse_order("-3.1.2.9.x.3", COLUMNS),
            vec![(2, true), (0, false)]
        );
        assert_eq!(ListQuery::order_param(&[(2, true), (0, false)]), "-3.1");
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let filters = [Filter::boolean("is_staff", "staff").spec(Vec::new())];
        let pairs = |k: &str| vec![(k.to_string(), "1".to_string())];
        assert!(ListQuery::parse(&pairs("is_staff"), COLUMNS, &filters).is_ok());
        assert_eq!(
            ListQuery::parse(&pairs("password__startswith"), COLUMNS, &filters).unwrap_err(),
            UnknownFilter
        );
        let long = vec![("is_staff".to_string(), "1".repeat(MAX_FILTER_CHARS + 1))];
        assert!(ListQuery::parse(&long, COLUMNS, &filters).is_err());
    }

    #[test]
    fn searches_are_cut_to_the_bounds() {
        let within = Search::parse(r#" alice "bob smith" "#);
        assert!(!within.shortened);
        assert_eq!(within.text, r#"alice "bob smith""#);

        let many = (0..1000).map(|i| format!("w{i}")).collect::<Vec<_>>();
        let search = Search::parse(&format!("\"a b\" {}", many.join(" ")));
        assert!(search.shortened);
        assert_eq!(search.terms.len(), MAX_SEARCH_TERMS);
        assert!(search.text.starts_with(r#""a b" w0 w1 "#));
        assert_eq!(Search::parse(&search.text).terms, search.terms);

        let long = Search::parse(&"ü".repeat(60_000));
        assert!(long.shortened);
        assert_eq!(long.terms, vec!["ü".repeat(MAX_TERM_CHARS)]);
    }

    #[test]
    fn lists_in_memory_sort_by_the_requested_columns_then_page() {
        let items: Vec<(i64, &str)> = (0..250).map(|i| (i % 3, "x")).collect();
        let query = ListQuery {
            order: vec![(0, true)],
            page: 2,
            ..ListQuery::default()
        };
        let row = |(n, _): (i64, &str)| Row {
            id: n.to_string(),
            cells: Vec::new(),
        };
        let mut items = items;
        sort_in_memory(&mut items, &query, COLUMNS, |i, _| i.0);
        let page = ListPage::in_memory(items, 300, &query, row);
        assert_eq!((page.count, page.total), (250, Some(300)));
        assert_eq!(page.rows.len(), 100);
        // 83 twos, 83 ones, then 84 zeros: the second page starts among the ones.
        assert_eq!(page.rows[0].id, "1");
        assert_eq!(page.rows[99].id, "0");
    }

    #[test]
    fn the_last_page_is_never_zero_and_never_overflows() {
        assert_eq!(last_page(0), 1);
        assert_eq!(last_page(PER_PAGE), 1);
        assert_eq!(last_page(PER_PAGE + 1), 2);
        assert_eq!(last_page(i64::MAX), i64::MAX / PER_PAGE + 1);
    }

    #[test]
    fn date_filters_reach_back_to_the_start_of_their_period() {
        let filters = [Filter::dates("created", "date").spec(Vec::new())];
        let at = |value: &str| {
            let pairs = vec![("created".to_string(), value.to_string())];
            let query = ListQuery::parse(&pairs, COLUMNS, &filters).unwrap();
            let now = chrono::NaiveDate::from_ymd_opt(2026, 3, 10)
                .and_then(|d| d.and_hms_opt(15, 4, 5))
                .unwrap();
            query.since("created", now).map(|t| t.to_string())
        };
        assert_eq!(at("today").as_deref(), Some("2026-03-10 00:00:00"));
        assert_eq!(at("week").as_deref(), Some("2026-03-04 00:00:00"));
        assert_eq!(at("month").as_deref(), Some("2026-03-01 00:00:00"));
        assert_eq!(at("year").as_deref(), Some("2026-01-01 00:00:00"));
        assert_eq!(at("decade"), None);
        assert_eq!(
            ListQuery::default().since("created", chrono::NaiveDateTime::MIN),
            None
        );
    }
}
