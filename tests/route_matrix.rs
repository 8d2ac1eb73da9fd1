//! Every route the router registered, asked by every kind of caller: the authorization matrix
//! is one table (`RULES`), and a route without a row (or a row without a route) fails the
//! suite. Each answer also carries the security headers, error pages included; every unsafe
//! route refuses a request without a CSRF token or from a foreign origin.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use Action::{Add, Change, Delete, View};
use Rule::{
    CourseTeam, LoggedIn, ModelPermission, Permission, Public, ReaderOrService, Service, Staff,
};
use accolade::auth::permissions::Action;
use accolade::web::router::{self, Route};
use common::fixture::{COURSE, Fixture, OTHER_COURSE, fixture};
use common::{location, new_client};

/// Who may use a route.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Anyone, logged in or not (public documents, the login page, assets).
    Public,
    /// Any logged-in user (staff, or on a course team).
    LoggedIn,
    /// Any active staff user.
    Staff,
    /// Staff holding this permission on the model the URL names (`{app}/{model}`).
    ModelPermission(Action),
    /// Staff holding this permission on this model.
    Permission(&'static str, &'static str, Action),
    /// A member of the course's team, or staff who may change any course.
    CourseTeam,
    /// Staff who may view badge assertions, or the LMS with a service token; anyone else
    /// (the learner's namesake account included) is told there is no such learner.
    ReaderOrService,
    /// The LMS, with a service token; a session is not enough.
    Service,
}

const CHANGE_USERS: Rule = Permission("auth", "user", Change);
const VIEW_CLASSES: Rule = Permission("badges", "badgeclass", View);
const VIEW_ASSERTIONS: Rule = Permission("badges", "badgeassertion", View);
const CHANGE_ASSERTIONS: Rule = Permission("badges", "badgeassertion", Change);

/// The authorization matrix: every route the application registers, and who may use it.
#[rustfmt::skip]
const RULES: &[(&str, &str, Rule)] = &[
    ("GET", "/", Public),
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/static/{path:.*}", Public),
    ("GET", "/media/badge-images/{name}", Public),
    ("GET", "/media/badge-images/thumbnails/{name}", Public),
    ("GET", "/public/issuers/accolade", Public),
    ("GET", "/public/badges/{id}", Public),
    ("GET", "/public/badges/{id}/image", Public),
    ("GET", "/public/assertions/{id}", Public),
    ("GET", "/public/assertions/{id}/image", Public),
    ("GET", "/api/badges/v1/assertions/user/{username}/", ReaderOrService),
    ("POST", "/api/v1/events/certificate", Service),
    ("POST", "/api/v1/events/enrollment", Service),
    ("GET", "/studio/", LoggedIn),
    ("GET", "/studio/password_change/", LoggedIn),
    ("POST", "/studio/password_change/", LoggedIn),
    ("GET", "/studio/password_change/done/", LoggedIn),
    ("GET", "/studio", Public),
    ("GET", "/studio/course/{course_id:.+}/settings/advanced", CourseTeam),
    ("POST", "/studio/course/{course_id:.+}/settings/advanced", CourseTeam),
    ("GET", "/admin/login/", Public),
    ("POST", "/admin/login/", Public),
    ("POST", "/admin/logout/", Public),
    ("GET", "/admin/password_change/", Staff),
    ("POST", "/admin/password_change/", Staff),
    ("GET", "/admin/password_change/done/", Staff),
    ("GET", "/admin/auth/user/{id}/password/", CHANGE_USERS),
    ("POST", "/admin/auth/user/{id}/password/", CHANGE_USERS),
    ("GET", "/admin/", Staff),
    ("GET", "/admin/badges/frozen-images/", VIEW_CLASSES),
    ("GET", "/admin/badges/reconciliation/", VIEW_ASSERTIONS),
    ("GET", "/admin/badges/badgeassertion/revoke/", CHANGE_ASSERTIONS),
    ("POST", "/admin/badges/badgeassertion/revoke/", CHANGE_ASSERTIONS),
    ("GET", "/admin/{app}/{model}/", ModelPermission(View)),
    ("POST", "/admin/{app}/{model}/", ModelPermission(View)),
    ("GET", "/admin/{app}/{model}/add/", ModelPermission(Add)),
    ("POST", "/admin/{app}/{model}/add/", ModelPermission(Add)),
    ("GET", "/admin/{app}/{model}/{id}/change/", ModelPermission(View)),
    ("POST", "/admin/{app}/{model}/{id}/change/", ModelPermission(Change)),
    ("GET", "/admin/{app}/{model}/{id}/delete/", ModelPermission(Delete)),
    ("POST", "/admin/{app}/{model}/{id}/delete/", ModelPermission(Delete)),
    ("GET", "/admin/{app}/{model}/{id}/history/", ModelPermission(View)),
    ("GET", "/admin/{app}/{model}/{id}/", Staff),
    ("*", "/admin/{anything}", Staff),
];

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Anonymous,
    /// Logged in, not staff, on no course team.
    NonStaff,
    /// Staff with no permission at all.
    BareStaff,
    /// Holds exactly what the route's rule asks for.
    Permitted,
    Superuser,
}

const ROLES: [Role; 5] = [
    Role::Anonymous,
    Role::NonStaff,
    Role::BareStaff,
    Role::Permitted,
    Role::Superuser,
];

/// What a caller gets.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A redirect to the login page.
    Login,
    Forbidden,
    /// 401: no valid service token.
    Unauthorized,
    /// 404, the answer that hides what exists.
    Hidden,
    /// The route's own answer: a page, a redirect elsewhere, a form error, a 404 for an
    /// object that does not exist.
    Served,
}

fn outcome(status: u16, location: &str) -> Outcome {
    match status {
        302 if location.starts_with("/admin/login/") => Outcome::Login,
        401 => Outcome::Unauthorized,
        403 => Outcome::Forbidden,
        _ => Outcome::Served,
    }
}

fn expected(rule: Rule, role: Role, offered: bool) -> Outcome {
    use Outcome::*;
    use Role::*;
    match (rule, role) {
        (Rule::Public, _) => Served,
        (Rule::Service, Permitted) => Served,
        (Rule::Service, _) => Unauthorized,
        (Rule::ReaderOrService, Anonymous | NonStaff | BareStaff) => Hidden,
        (Rule::ReaderOrService, _) => Served,
        (_, Anonymous) => Login,
        (Rule::LoggedIn, _) => Served,
        (Rule::CourseTeam, NonStaff | BareStaff) => Forbidden,
        (Rule::CourseTeam, _) => Served,
        (_, NonStaff) => Login,
        (Rule::Staff, _) => Served,
        (_, BareStaff) => Forbidden,
        // A model that does not offer an action refuses it to everyone (Django's
        // has_add_permission returning False).
        (_, Permitted | Superuser) if offered => Served,
        _ => Forbidden,
    }
}

/// One request to make: a URL of a route, and the permission its rule names.
struct Probe {
    route: Route,
    url: String,
    rule: Rule,
    /// The (app, model, action) the permitted caller is given, for admin rules.
    permission: Option<(String, String, Action)>,
    offered: bool,
}

/// Whether a model offers what the route does: the action at all (Django's
/// `has_add_permission` returning False), and for a change, a form with something editable.
fn offered(
    fx: &Fixture,
    model: &dyn accolade::admin::DynModelAdmin,
    method: &str,
    path: &str,
    key: &str,
) -> bool {
    let Some(Rule::ModelPermission(action)) = rule_of(method, path) else {
        return true;
    };
    if !model.allows(action) {
        return false;
    }
    if method != "POST" || !path.ends_with("/change/") {
        return true;
    }
    let root = accolade::admin::Actor {
        user_id: fx.root,
        is_superuser: true,
    };
    let mut conn = fx.app.conn();
    let mut acting = accolade::admin::Request::new(&mut conn, root);
    let fields = model.fields(&mut acting, Some(&fx.ids[key])).unwrap();
    fields.iter().any(accolade::admin::FieldSpec::is_editable)
}

fn rule_of(method: &str, path: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, rule)| *rule)
}

/// Every registered route, with its parameters filled in (the generic admin routes once per
/// registered model).
fn probes(fx: &Fixture) -> Vec<Probe> {
    let registered: BTreeSet<(String, String)> = router::registered()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let listed: BTreeSet<(String, String)> = RULES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        registered.difference(&listed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routes without a row in RULES"
    );
    assert_eq!(
        listed.difference(&registered).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "rows in RULES for routes that do not exist"
    );

    let site = fx.app.admin_site();
    let mut probes = Vec::new();
    for route in router::registered() {
        let rule = rule_of(&route.method, &route.path).unwrap();
        let method = route.method.as_str();
        if route.path.starts_with("/admin/{app}/{model}/") {
            for (_, models) in site.apps() {
                for model in models {
                    let info = model.info();
                    let key = format!("{}/{}", info.app_label, info.model);
                    // The object root has no permission of its own: it sends any staff
                    // user on to the change page.
                    let permission = match rule {
                        Rule::ModelPermission(action) => {
                            Some((info.app_label.into(), info.model.into(), action))
                        }
                        _ => None,
                    };
                    probes.push(Probe {
                        route: route.clone(),
                        url: fx.model_url(&route.path, method, &key),
                        rule,
                        permission,
                        offered: offered(fx, model.as_ref(), method, &route.path, &key),
                    });
                }
            }
            continue;
        }
        let url = fx.url(&route.path, method);
        assert!(!url.contains('{'), "no value for a parameter of {url}");
        let permission = match rule {
            Rule::Permission(app, model, action) => Some((app.into(), model.into(), action)),
            _ => None,
        };
        probes.push(Probe {
            route: route.clone(),
            url,
            rule,
            permission,
            offered: true,
        });
    }
    // Logging out ends the caller's session: last.
    probes.sort_by_key(|p| p.url == "/admin/logout/");
    probes
}

/// The logged-in clients, one per role and permission, made as they are first needed.
struct Callers<'a> {
    fx: &'a Fixture,
    clients: BTreeMap<String, reqwest::Client>,
    made: usize,
}

impl Callers<'_> {
    async fn client(&mut self, role: Role, probe: &Probe) -> reqwest::Client {
        let key = match role {
            Role::Permitted => format!("{:?} {:?}", probe.rule, probe.permission),
            _ => format!("{role:?}"),
        };
        if let Some(client) = self.clients.get(&key) {
            return client.clone();
        }
        let app = &self.fx.app;
        let client = new_client();
        let username = match role {
            Role::Anonymous => None,
            Role::NonStaff => Some(self.course_team_member(OTHER_COURSE)),
            Role::BareStaff => Some(self.user(true, false).0),
            Role::Superuser => Some(self.user(true, true).0),
            Role::Permitted => Some(self.permitted(probe)),
        };
        if let Some(username) = username {
            let response = app.login_with(&client, &username, common::PASSWORD).await;
            let status = response.status().as_u16();
            assert!(matches!(status, 200 | 302), "login {username}: {status}");
        }
        self.clients.insert(key, client.clone());
        client
    }

    /// A new user: (username, id).
    fn user(&mut self, staff: bool, superuser: bool) -> (String, i64) {
        self.made += 1;
        let name = format!("caller{}", self.made);
        let id = self.fx.app.create_user(&name, staff, superuser);
        (name, id)
    }

    /// A user who is not staff, on the team of `course` (the only way such a user can log
    /// in).
    fn course_team_member(&mut self, course: &str) -> String {
        let (name, id) = self.user(false, false);
        let app = &self.fx.app;
        app.give_course_role(id, app.course_id(course), "staff");
        name
    }

    /// A user holding just what the probe's rule asks for.
    fn permitted(&mut self, probe: &Probe) -> String {
        let app = &self.fx.app;
        match (probe.rule, &probe.permission) {
            (Rule::CourseTeam, _) => self.course_team_member(COURSE),
            (_, Some((app_label, model, action))) => {
                let (name, id) = self.user(true, false);
                app.grant(id, app_label, &action.codename(model));
                name
            }
            _ => self.user(true, false).0,
        }
    }
}

async fn send(
    fx: &Fixture,
    client: &reqwest::Client,
    probe: &Probe,
    bearer: Option<&str>,
) -> reqwest::Response {
    let url = fx.app.url(&probe.url);
    let mut request = match probe.route.method.as_str() {
        "GET" => client.get(url),
        _ => {
            let token = fx.app.csrf_token_for(client).await;
            client.post(url).form(&[("csrf_token", token.as_str())])
        }
    };
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_matrix_says() {
    let fx = fixture().await;
    let probes = probes(&fx);
    let mut callers = Callers {
        fx: &fx,
        clients: BTreeMap::new(),
        made: 0,
    };
    let mut failures = Vec::new();
    for probe in &probes {
        for role in ROLES {
            let client = callers.client(role, probe).await;
            let bearer = (role == Role::Permitted
                && matches!(probe.rule, Rule::Service | Rule::ReaderOrService))
            .then_some(fx.token.as_str());
            let response = send(&fx, &client, probe, bearer).await;
            let what = format!("{role:?} {} {}", probe.route.method, probe.url);
            common::assert_security_headers(&response, &what);
            if probe.url.starts_with("/admin/") {
                assert_eq!(
                    response
                        .headers()
                        .get("cache-control")
                        .map(|v| v.to_str().unwrap()),
                    Some("no-store"),
                    "cache-control on {what}"
                );
            }
            let status = response.status().as_u16();
            let got = match outcome(status, &location(&response)) {
                Outcome::Served if status == 404 && matches!(probe.rule, Rule::ReaderOrService) => {
                    Outcome::Hidden
                }
                other => other,
            };
            let want = expected(probe.rule, role, probe.offered);
            if got != want {
                failures.push(format!("{what}: {status}, {got:?} where {want:?} was due"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(probes.len() > 100, "{} probes", probes.len());
}

#[tokio::test]
async fn every_unsafe_route_needs_a_csrf_token_and_our_origin() {
    let fx = fixture().await;
    let unsafe_probes: Vec<Probe> = probes(&fx)
        .into_iter()
        .filter(|p| p.route.method != "GET")
        .collect();
    assert!(unsafe_probes.len() >= 10);
    let app = &fx.app;
    let client = &app.client; // the superuser
    for probe in &unsafe_probes {
        let url = app.url(&probe.url);
        let what = format!("POST {}", probe.url);
        if matches!(probe.rule, Rule::Service) {
            // No cookie-borne authority at all: a logged-in superuser's session is refused.
            let response = client
                .post(&url)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{what} with a session only");
            continue;
        }
        let without = client
            .post(&url)
            .form(&[("name", "x")])
            .send()
            .await
            .unwrap();
        common::assert_security_headers(&without, &what);
        assert_eq!(without.status(), 403, "{what} without a token");
        assert!(
            without
                .text()
                .await
                .unwrap()
                .contains("CSRF token missing."),
            "{what}"
        );

        let token = app.csrf_token().await;
        for (header, value) in [
            ("origin", "https://evil.example"),
            ("referer", "https://evil.example/admin/"),
        ] {
            let foreign = client
                .post(&url)
                .header(header, value)
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(foreign.status(), 403, "{what} with {header} {value}");
            assert!(
                foreign.text().await.unwrap().contains("checking failed"),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn unrouted_methods_and_paths_get_error_pages_with_the_headers() {
    let fx = fixture().await;
    let app = &fx.app;
    for (method, path, status) in [
        ("PUT", "/admin/login/", 403), // unsafe: the CSRF check comes first
        ("DELETE", "/healthz", 403),
        ("GET", "/api/v1/events/certificate", 405),
        ("GET", "/no/such/page", 404),
        ("GET", "/admin/nope/", 404),
        ("GET", "/static/nope.css", 404),
        ("GET", "/public/assertions/nope", 404),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        common::assert_security_headers(&response, &format!("{method} {path}"));
    }
}
