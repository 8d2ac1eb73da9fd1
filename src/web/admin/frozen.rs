//! The frozen images report (`backoffice::frozen_images`), a read-only list over the frozen
//! badge classes: shown through the changelist, for whoever may view badge classes, and
//! also as CSV.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::changelist::{self, Frame};
use crate::admin::{ListQuery, ListSource};
use crate::auth::permissions::Action;
use crate::backoffice::frozen_images::{self as report, FrozenImages};
use crate::badges::frozen::FrozenRow;
use crate::display::format_time;
use crate::error::{AppError, redirect};
use crate::urls::FROZEN_IMAGES as PATH;
use crate::web::AppState;
use crate::web::page::Crumb;
use crate::web::query::{QueryString, pairs};
use crate::web::staff::Staff;

/// The query parameter that asks for the CSV export.
const FORMAT: &str = "format";

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let classes = state
        .admin
        .get("badges", "badgeclass")
        .ok_or(AppError::NotFound)?;
    staff.require(classes.as_ref(), Action::View)?;
    let mut params = pairs(req.query_string());
    let csv = params.iter().any(|(k, v)| k == FORMAT && v == "csv");
    params.retain(|(k, _)| k != FORMAT);
    if csv {
        return export(&state, params).await;
    }
    let csv_url = QueryString::new(params.clone())
        .without("p")
        .with(FORMAT, "csv")
        .href();
    let frame = Frame {
        source: Arc::new(FrozenImages),
        base: PATH.to_string(),
        title: report::TITLE.to_string(),
        crumbs: vec![
            Crumb::link("Badges", crate::urls::ADMIN),
            Crumb::here(report::TITLE),
        ],
        description: Some(report::DESCRIPTION),
        tools: vec![("Export CSV", format!("{PATH}{csv_url}"))],
        empty: report::EMPTY,
        noun: (report::NOUN, report::NOUN),
        count_of_total: true,
        own_list: false,
    };
    changelist::respond(&state, &staff, classes, frame, params).await
}

/// Every row the query selects, as CSV.
async fn export(state: &AppState, params: Vec<(String, String)>) -> Result<HttpResponse, AppError> {
    let rows = state
        .db
        .run(move |conn| {
            let filters = FrozenImages.filters(conn)?;
            match ListQuery::parse(&params, FrozenImages.columns(), &filters) {
                Ok(query) => Ok::<_, AppError>(Some(FrozenImages::rows(conn, &query)?.0)),
                Err(_) => Ok(None),
            }
        })
        .await?;
    Ok(match rows {
        Some(rows) => csv_response(&rows),
        // As the list answers a filter it does not declare.
        None => redirect(PATH),
    })
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
