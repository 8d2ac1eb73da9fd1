//! The frozen images report: for every course and mode with a frozen badge class, the
//! frozen image beside the one the configuration gives today. Also as CSV.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::admin::list::{PER_PAGE, Search};
use crate::auth::permissions::Action;
use crate::badges::frozen::{FrozenRow, ReportFilter, report};
use crate::badges::image_admin::THUMBNAIL_PREFIX;
use crate::display::format_time;
use crate::error::AppError;
use crate::web::AppState;
use crate::web::page::{Crumb, Page};
use crate::web::query::{QueryString, pairs};
use crate::web::staff::Staff;

pub const PATH: &str = "/admin/badges/frozen-images/";

pub struct ReportRow {
    pub course_id: String,
    pub course_name: String,
    pub mode: String,
    pub frozen_url: String,
    pub current_url: Option<String>,
    pub differs: bool,
    pub frozen_at: String,
    pub backend_id: String,
}

pub struct Choice {
    pub label: String,
    pub url: String,
    pub selected: bool,
}

pub struct Filter {
    pub title: &'static str,
    pub choices: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/frozen_images.html")]
pub struct ReportPage {
    page: Page,
    rows: Vec<ReportRow>,
    search: String,
    summary: String,
    filters: Vec<Filter>,
    csv_url: String,
    previous_url: Option<String>,
    next_url: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let model = state
        .admin
        .get("badges", "badgeclass")
        .ok_or(AppError::NotFound)?;
    staff.require(model.as_ref(), Action::View)?;
    let mut current = QueryString::new(pairs(req.query_string()));
    let search = Search::parse(current.get("q").unwrap_or_default());
    if search.shortened {
        current = current.with("q", &search.text);
    }
    let filter = ReportFilter {
        terms: search.terms.clone(),
        mode: current.get("mode").map(str::to_string),
        org: current.get("org").map(str::to_string),
        differs: match current.get("differs") {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        },
    };
    let everything = state
        .db
        .run(|conn| report(conn, &ReportFilter::default()))
        .await?;
    let rows: Vec<FrozenRow> = everything
        .iter()
        .filter(|r| filter.keeps(r))
        .cloned()
        .collect();
    if current.get("format") == Some("csv") {
        return Ok(csv_response(&rows));
    }
    let per_page = PER_PAGE as usize;
    let pages = rows.len().div_ceil(per_page).max(1);
    // Past the end, the last page.
    let page_number: usize = current
        .get("p")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let link = |p: usize| format!("{PATH}{}", current.with("p", &p.to_string()).href());
    let summary = format!(
        "{} of {} frozen course badge images",
        rows.len(),
        everything.len()
    );
    let shown = rows
        .into_iter()
        .skip((page_number - 1) * per_page)
        .take(per_page)
        .map(|r| ReportRow {
            differs: r.differs(),
            frozen_url: format!("{THUMBNAIL_PREFIX}{}.png", r.frozen_hash),
            current_url: r
                .current_hash
                .as_ref()
                .map(|h| format!("{THUMBNAIL_PREFIX}{h}.png")),
            frozen_at: format_time(&r.frozen_at),
            backend_id: if r.backend_id.is_empty() {
                "-".into()
            } else {
                r.backend_id
            },
            course_id: r.course_id,
            course_name: r.course_name,
            mode: r.mode,
        })
        .collect();
    let mut page = ReportPage {
        page: staff.page(
            "Frozen badge images",
            vec![
                Crumb::link("Badges", crate::urls::ADMIN),
                Crumb::here("Frozen badge images"),
            ],
        ),
        rows: shown,
        search: search.text,
        summary,
        filters: filters(&everything, &current),
        csv_url: format!(
            "{PATH}{}",
            current.without("p").with("format", "csv").href()
        ),
        previous_url: (page_number > 1).then(|| link(page_number - 1)),
        next_url: (page_number < pages).then(|| link(page_number + 1)),
    };
    if search.shortened {
        super::search_shortened(&mut page.page);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

fn filters(rows: &[FrozenRow], current: &QueryString) -> Vec<Filter> {
    let distinct = |f: fn(&FrozenRow) -> &str| {
        let mut values: Vec<String> = rows.iter().map(|r| f(r).to_string()).collect();
        values.sort();
        values.dedup();
        values
            .into_iter()
            .map(|v| (v.clone(), v))
            .collect::<Vec<_>>()
    };
    let build = |title, param: &str, choices: Vec<(String, String)>| {
        let chosen = current.get(param);
        let url = |v: &str| format!("{PATH}{}", current.without("p").with(param, v).href());
        let all = Choice {
            label: "All".into(),
            url: url(""),
            selected: chosen.is_none(),
        };
        Filter {
            title,
            choices: std::iter::once(all)
                .chain(choices.into_iter().map(|(v, l)| Choice {
                    selected: chosen == Some(v.as_str()),
                    url: url(&v),
                    label: l,
                }))
                .collect(),
        }
    };
    vec![
        build("mode", "mode", distinct(|r| &r.mode)),
        build("org", "org", distinct(|r| &r.org)),
        build(
            "differs from the current configuration",
            "differs",
            vec![("1".into(), "Yes".into()), ("0".into(), "No".into())],
        ),
    ]
}

/// A CSV cell: quoted when needed, and never read as a formula by a spreadsheet.
pub fn csv_cell(value: &str) -> String {
    let safe = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if safe.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

fn csv_response(rows: &[FrozenRow]) -> HttpResponse {
    let mut body = String::from(
        "course_id,course_name,org,mode,frozen_image_sha256,current_image_sha256,differs,frozen_at,backend_id\r\n",
    );
    for r in rows {
        let cells = [
            r.course_id.as_str(),
            r.course_name.as_str(),
            r.org.as_str(),
            r.mode.as_str(),
            r.frozen_hash.as_str(),
            r.current_hash.as_deref().unwrap_or(""),
            if r.differs() { "yes" } else { "no" },
            &format_time(&r.frozen_at),
            r.backend_id.as_str(),
        ];
        body.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        body.push_str("\r\n");
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"frozen-badge-images.csv\"",
        ))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_never_become_formulas() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://evil\")"),
            "\"'=HYPERLINK(\"\"http://evil\"\")\""
        );
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
