//! The changelist: columns, sorting, search, filters, pagination and bulk actions. Every
//! list goes through it: a model's own, and read-only reports over a model's rows.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::views::CellView;
use super::{capfirst, changelist_url, delete, object_url, permitted_model, preserved};
use crate::admin::list::{ORDER_PARAM, PAGE_PARAM, SEARCH_PARAM, last_page};

use crate::admin::history::{self, ChangeMessage};
use crate::admin::{Column, DynModelAdmin, FilterSpec, ListPage, ListQuery, ListSource, Request};
use crate::auth::permissions::Action;
use crate::db::DbConnection;
use crate::error::{AppError, redirect};
use crate::web::AppState;
use crate::web::page::{Crumb, Page};
use crate::web::query::{QueryString, pairs};
use crate::web::session::{Level, Message};
use crate::web::staff::Staff;

pub const DELETE_SELECTED: &str = "delete_selected";

pub struct SortState {
    pub priority: usize,
    pub descending: bool,
    pub toggle_url: String,
    pub remove_url: String,
}

pub struct HeaderView {
    pub label: &'static str,
    pub key: &'static str,
    pub url: Option<String>,
    pub sorted: Option<SortState>,
}

pub struct RowView {
    pub id: String,
    pub url: String,
    pub cells: Vec<CellView>,
    /// Whether a cell calls for attention (the row is marked).
    pub warning: bool,
}

pub struct ChoiceView {
    pub label: String,
    pub url: String,
    pub selected: bool,
}

pub struct FilterView {
    pub title: &'static str,
    pub choices: Vec<ChoiceView>,
}

pub struct PageLink {
    /// `None` for the "…" between distant pages.
    pub number: Option<i64>,
    pub url: String,
    pub current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/change_list.html")]
pub struct ChangeListPage {
    page: Page,
    heading: String,
    description: Option<&'static str>,
    add_url: Option<String>,
    add_label: String,
    /// Links beside "Add" (e.g. an export), as (label, URL).
    tools: Vec<(&'static str, String)>,
    empty: &'static str,
    search_help: Option<&'static str>,
    search: String,
    /// Hidden inputs that keep filters when a search is submitted.
    search_hidden: Vec<(String, String)>,
    clear_search_url: String,
    headers: Vec<HeaderView>,
    rows: Vec<RowView>,
    result_summary: String,
    /// The unfiltered list, offered instead of a total the model did not count.
    show_all_url: Option<String>,
    filters: Vec<FilterView>,
    actions: Vec<(&'static str, String)>,
    action_url: String,
    pages: Vec<PageLink>,
}

/// What frames a changelist's rows: a model's own list, or a read-only report over a
/// model's rows (whose rows link to the model's change pages, see [`respond`]).
pub struct Frame {
    /// What it lists.
    pub source: Arc<dyn ListSource>,
    /// The list's URL.
    pub base: String,
    pub title: String,
    pub crumbs: Vec<Crumb>,
    /// Shown under the title.
    pub description: Option<&'static str>,
    pub tools: Vec<(&'static str, String)>,
    /// Shown for an empty list that is neither searched nor filtered.
    pub empty: &'static str,
    /// The rows' noun, singular and plural.
    pub noun: (&'static str, &'static str),
    /// Counted as "2 of 3 …" (a report), rather than Django's "2 … (3 total)".
    pub count_of_total: bool,
    /// Whether this is the model's own list: it offers the model's Add button and bulk
    /// actions, and its rows' links carry its filters back (a report's would not apply).
    pub own_list: bool,
}

impl Frame {
    /// The frame of a model's own changelist.
    pub fn of_model(model: &Arc<dyn DynModelAdmin>) -> Frame {
        let info = model.info();
        Frame {
            source: Arc::new(ModelList(model.clone())),
            base: changelist_url(model.as_ref()),
            title: format!("Select {} to change", info.verbose_name),
            crumbs: vec![
                Crumb::link(info.app_name, crate::urls::ADMIN),
                Crumb::here(capfirst(info.verbose_name_plural)),
            ],
            description: None,
            tools: Vec::new(),
            empty: "No results.",
            noun: (info.verbose_name, info.verbose_name_plural),
            count_of_total: false,
            own_list: true,
        }
    }
}

/// A model admin as the list it shows.
struct ModelList(Arc<dyn DynModelAdmin>);

impl ListSource for ModelList {
    fn columns(&self) -> &'static [Column] {
        self.0.columns()
    }

    fn search_help(&self) -> Option<&'static str> {
        self.0.search_help()
    }

    fn filters(&self, conn: &mut DbConnection) -> diesel::QueryResult<Vec<FilterSpec>> {
        self.0.filters(conn)
    }

    fn list(&self, conn: &mut DbConnection, query: &ListQuery) -> diesel::QueryResult<ListPage> {
        self.0.list(conn, query)
    }
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let model = permitted_model(&state, &staff, &path.0, &path.1, Action::View)?;
    let frame = Frame::of_model(&model);
    respond(&state, &staff, model, frame, pairs(req.query_string())).await
}

/// Reads a changelist request (`params`), lists the page it asks for from the frame's
/// source, and renders it in `frame`, each row linking to `model`'s change page: the one
/// code path of every list. A request naming a filter the list does not declare goes back
/// to the list.
pub async fn respond(
    state: &AppState,
    staff: &Staff,
    model: Arc<dyn DynModelAdmin>,
    frame: Frame,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let listed = {
        let source = frame.source.clone();
        let params = params.clone();
        state
            .db
            .run(move |conn| {
                let filters = source.filters(conn)?;
                match ListQuery::parse(&params, source.columns(), &filters) {
                    Ok(query) => {
                        let listed = list_page(source.as_ref(), conn, query)?;
                        Ok::<_, AppError>(Ok((filters, listed)))
                    }
                    Err(unknown) => Ok(Err(unknown)),
                }
            })
            .await?
    };
    let Ok((filters, (query, list, past_end))) = listed else {
        // A fixed sentence: the parameter's name is the requester's text (a link may put
        // any sentence there), and the message travels in the session cookie.
        staff
            .session
            .add_message(Level::Error, "Unknown filters were ignored.");
        return Ok(redirect(&frame.base));
    };
    let current = applied(QueryString::new(params), &query);
    let mut page = render(
        staff,
        model.as_ref(),
        frame,
        current,
        &filters,
        &query,
        list,
    );
    if query.search_shortened {
        super::search_shortened(&mut page.page);
    }
    if let Some(asked) = past_end {
        let last = query.page;
        let text = format!("There is no page {asked}: this is the last page, {last}.");
        page.page.messages.push(Message {
            level: Level::Warning,
            text,
        });
    }
    Ok(page.render().map(|body| {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body)
    })?)
}

/// The query string as the list applied it, for its links: a search as shortened, an
/// order without the columns it ignored, the page shown (so that no link repeats a
/// parameter's hostile or oversized value).
fn applied(current: QueryString, query: &ListQuery) -> QueryString {
    let order = ListQuery::order_param(&query.order);
    let page = query.page.to_string();
    [
        (SEARCH_PARAM, query.search.as_str()),
        (ORDER_PARAM, order.as_str()),
        (PAGE_PARAM, page.as_str()),
    ]
    .into_iter()
    .filter(|&(key, value)| current.get(key).is_some_and(|sent| sent != value))
    .fold(current.clone(), |q, (key, value)| q.with(key, value))
}

/// The requested page of the list; past the end, the last page (as Django's
/// `Paginator.get_page`), with the page that was asked for.
fn list_page(
    source: &dyn ListSource,
    conn: &mut DbConnection,
    mut query: ListQuery,
) -> Result<(ListQuery, ListPage, Option<i64>), AppError> {
    let list = source.list(conn, &query)?;
    let last = last_page(list.count);
    if query.page <= last {
        return Ok((query, list, None));
    }
    let asked = std::mem::replace(&mut query.page, last);
    let list = source.list(conn, &query)?;
    Ok((query, list, Some(asked)))
}

fn render(
    staff: &Staff,
    model: &dyn DynModelAdmin,
    frame: Frame,
    current: QueryString,
    filters: &[FilterSpec],
    query: &ListQuery,
    list: ListPage,
) -> ChangeListPage {
    let info = model.info();
    let base = frame.base.as_str();
    let preserved = current.encoded();
    let rows = list
        .rows
        .into_iter()
        .map(|row| {
            let mut url = object_url(model, &row.id, "change");
            if frame.own_list {
                url = preserved::carry(url, &preserved);
            }
            let cells: Vec<CellView> = row.cells.into_iter().map(CellView::from).collect();
            RowView {
                id: row.id,
                url,
                warning: cells.iter().any(|c| c.warning),
                cells,
            }
        })
        .collect();
    let can_delete = frame.own_list && staff.can(model, Action::Delete);
    let mut actions = Vec::new();
    if can_delete {
        actions.push((
            DELETE_SELECTED,
            format!("Delete selected {}", info.verbose_name_plural),
        ));
    }
    if frame.own_list && staff.can(model, Action::Change) {
        actions.extend(
            model
                .actions()
                .iter()
                .map(|a| (a.name, a.description.to_string())),
        );
    }
    let (one, many) = frame.noun;
    let noun = if list.count == 1 { one } else { many };
    let filtered = !query.terms.is_empty() || !query.filters.is_empty();
    ChangeListPage {
        page: staff.page(frame.title.clone(), frame.crumbs),
        heading: frame.title,
        description: frame.description,
        add_url: (frame.own_list && staff.can(model, Action::Add))
            .then(|| preserved::carry(format!("{base}add/"), &preserved)),
        add_label: format!("Add {}", info.verbose_name),
        tools: frame.tools,
        empty: if filtered { "No results." } else { frame.empty },
        search_help: frame.source.search_help(),
        search: query.search.clone(),
        search_hidden: current
            .without(SEARCH_PARAM)
            .without(PAGE_PARAM)
            .pairs()
            .to_vec(),
        clear_search_url: format!(
            "{base}{}",
            current.without(SEARCH_PARAM).without(PAGE_PARAM).href()
        ),
        headers: headers(frame.source.columns(), base, &current, query),
        rows,
        result_summary: match list.total {
            Some(total) if frame.count_of_total => format!("{} of {total} {many}", list.count),
            Some(total) if filtered => format!("{} {noun} ({total} total)", list.count),
            _ => format!("{} {noun}", list.count),
        },
        show_all_url: (filtered && list.total.is_none()).then(|| base.to_string()),
        filters: filter_views(base, &current, filters, query),
        actions,
        action_url: format!("{base}{}", current.href()),
        pages: page_links(base, &current, query.page, list.count),
    }
}

/// Column headers with Django's sorting links: clicking a column makes it the primary sort
/// (or toggles it when it already is); sorted columns also offer toggle and remove.
fn headers(
    columns: &'static [Column],
    base: &str,
    current: &QueryString,
    query: &ListQuery,
) -> Vec<HeaderView> {
    let link = |order: &[(usize, bool)]| {
        format!(
            "{base}{}",
            current
                .without(PAGE_PARAM)
                .with(ORDER_PARAM, &ListQuery::order_param(order))
                .href()
        )
    };
    columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let position = query.order.iter().position(|&(i, _)| i == index);
            let others: Vec<(usize, bool)> = query
                .order
                .iter()
                .copied()
                .filter(|&(i, _)| i != index)
                .collect();
            let toggled = |desc: bool| {
                let mut order = query.order.clone();
                if let Some(p) = position {
                    order[p].1 = !desc;
                }
                order
            };
            let primary = match position {
                Some(0) => toggled(query.order[0].1),
                Some(p) => std::iter::once((index, query.order[p].1))
                    .chain(others.clone())
                    .collect(),
                None => std::iter::once((index, false))
                    .chain(others.clone())
                    .collect(),
            };
            HeaderView {
                label: column.label,
                key: column.key,
                url: column.sortable.then(|| link(&primary)),
                sorted: position.map(|p| SortState {
                    priority: p + 1,
                    descending: query.order[p].1,
                    toggle_url: link(&toggled(query.order[p].1)),
                    remove_url: link(&others),
                }),
            }
        })
        .collect()
}

fn filter_views(
    base: &str,
    current: &QueryString,
    filters: &[FilterSpec],
    query: &ListQuery,
) -> Vec<FilterView> {
    filters
        .iter()
        .filter(|filter| !filter.choices.is_empty())
        .map(|filter| {
            let chosen = query.filter(filter.param);
            let href = current.without(PAGE_PARAM).href_with(filter.param);
            let url = |value: &str| format!("{base}{}", href(value));
            let all = ChoiceView {
                label: "All".into(),
                url: url(""),
                selected: chosen.is_none(),
            };
            let choices = filter.choices.iter().map(|(value, label)| ChoiceView {
                label: label.clone(),
                url: url(value),
                selected: chosen == Some(value.as_str()),
            });
            FilterView {
                title: filter.title,
                choices: std::iter::once(all).chain(choices).collect(),
            }
        })
        .collect()
}

/// Page links as Django shows them: the ends, and three either side of the current page.
fn page_links(base: &str, current: &QueryString, page: i64, count: i64) -> Vec<PageLink> {
    let pages = last_page(count);
    if pages == 1 {
        return Vec::new();
    }
    let mut links = Vec::new();
    let mut last_shown = 0;
    for number in 1..=pages {
        let near = (number - page).abs() <= 3;
        if number <= 2 || number > pages - 2 || near {
            if number - last_shown > 1 {
                links.push(PageLink {
                    number: None,
                    url: String::new(),
                    current: false,
                });
            }
            links.push(PageLink {
                number: Some(number),
                url: format!(
                    "{base}{}",
                    current.with(PAGE_PARAM, &number.to_string()).href()
                ),
                current: number == page,
            });
            last_shown = number;
        }
    }
    links
}

/// A bulk action submitted from the changelist.
pub async fn act(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let model = permitted_model(&state, &staff, &path.0, &path.1, Action::View)?;
    let form = super::upload::urlencoded_form(&body)?;
    let back = format!(
        "{}{}",
        changelist_url(model.as_ref()),
        QueryString::new(pairs(req.query_string())).href()
    );
    let selected: Vec<String> = form
        .all("_selected_action")
        .into_iter()
        .map(str::to_string)
        .collect();
    let action = form.text("action");
    if action.is_empty() {
        staff
            .session
            .add_message(Level::Warning, "No action selected.");
        return Ok(redirect(&back));
    }
    if selected.is_empty() {
        staff.session.add_message(
            Level::Warning,
            "Items must be selected in order to perform actions on them. No items have been changed.",
        );
        return Ok(redirect(&back));
    }
    if action == DELETE_SELECTED {
        staff.require(model.as_ref(), Action::Delete)?;
        return delete::bulk(&state, &staff, model, selected, form.has("post"), back).await;
    }
    if !model.actions().iter().any(|a| a.name == action) {
        return Err(AppError::BadRequest("Unknown action.".into()));
    }
    staff.require(model.as_ref(), Action::Change)?;
    if let Some(page) = model.action_page(&action) {
        let ids: Vec<(&str, &str)> = selected.iter().map(|id| ("ids", id.as_str())).collect();
        let query = serde_urlencoded::to_string(ids).unwrap_or_default();
        return Ok(redirect(&format!(
            "{}{page}/?{query}",
            changelist_url(model.as_ref())
        )));
    }
    // A button on an object's page leads back to that page.
    let back = match selected.as_slice() {
        [one] if form.has("_from_object") => object_url(model.as_ref(), one, "change"),
        _ => back,
    };
    run_action(&state, &staff, model, action, selected).await?;
    Ok(redirect(&back))
}

async fn run_action(
    state: &AppState,
    staff: &Staff,
    model: Arc<dyn DynModelAdmin>,
    action: String,
    selected: Vec<String>,
) -> Result<(), AppError> {
    let author = staff.author();
    let actor = staff.actor();
    let (message, refused) = state
        .db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let mut refused = 0;
                let mut allowed = Vec::with_capacity(selected.len());
                for id in selected {
                    match model.refusal(&mut Request::new(conn, actor), &id)? {
                        Some(_) => refused += 1,
                        None => allowed.push(id),
                    }
                }
                let outcome =
                    model.run_action(&mut Request::new(conn, actor), &action, &allowed)?;
                let description = model
                    .actions()
                    .iter()
                    .find(|a| a.name == action)
                    .map_or(action.as_str(), |a| a.description);
                let note = ChangeMessage::Note(format!("{description} (bulk action)."));
                for (id, repr) in &outcome.changed {
                    history::log(conn, &author, model.info(), id, repr, &note)?;
                }
                Ok::<_, diesel::result::Error>((outcome.message, refused))
            })
        })
        .await?;
    if !message.is_empty() {
        staff.session.add_message(Level::Success, message);
    }
    if refused > 0 {
        staff.session.add_message(
            Level::Warning,
            format!("{refused} of the selected objects were left alone: you may not change them."),
        );
    }
    Ok(())
}
