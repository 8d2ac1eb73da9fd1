//! Test harness: the real application on an ephemeral port, with a fresh database per
//! test (a temporary SQLite file, or a fresh schema on the PostgreSQL server named by
//! `ACCOLADE_TEST_DATABASE_URL`).
#![allow(dead_code)]

pub mod binary;
pub mod fixture;
pub mod link;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use accolade::auth::{password, users};
use accolade::badging::award::AwardSettings;
use accolade::badging::backend::BadgeBackend;
use accolade::badging::openbadges;
use accolade::badging::worker::WorkerSettings;
use accolade::config::Config;
use accolade::courses::CourseId;
use accolade::db::{Database, DbConnection};
use diesel::prelude::*;

pub const SECRET_KEY: &str = "test-secret-key-that-is-long-enough-0123456789";
/// A password that passes every validator.
pub const PASSWORD: &str = "plum-orbit-canvas-41";

pub struct TestApp {
    pub address: String,
    pub db: Database,
    pub database_url: String,
    pub client: reqwest::Client,
    // Last, so the server's pool is dropped before the database.
    _database: TestDatabase,
}

/// A fresh test database: a temporary SQLite file, or a new schema on the PostgreSQL
/// server named by `ACCOLADE_TEST_DATABASE_URL` (dropped when the test ends).
pub struct TestDatabase {
    pub url: String,
    schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub fn new() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        match std::env::var("ACCOLADE_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                let mut conn =
                    PgConnection::establish(&base).expect("connect to the PostgreSQL test server");
                diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .expect("create a test schema");
                let separator = if base.contains('?') { '&' } else { '?' };
                TestDatabase {
                    url: format!("{base}{separator}options=-csearch_path%3D{schema}"),
                    schema: Some((base, schema)),
                    _dir: dir,
                }
            }
            _ => TestDatabase {
                url: format!("sqlite://{}", dir.path().join("test.db").display()),
                schema: None,
                _dir: dir,
            },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema
            && let Ok(mut conn) = PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn);
        }
    }
}

pub fn test_config(database_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut values: BTreeMap<String, String> = [
        ("DATABASE_URL", database_url),
        ("ACCOLADE_BIND", "127.0.0.1:0"),
        ("ACCOLADE_SECRET_KEY", SECRET_KEY),
        ("ACCOLADE_HTTP_WORKERS", "1"),
        ("ACCOLADE_WORKERS", "0"),
        ("ACCOLADE_DB_POOL_SIZE", "4"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        values.insert(k.to_string(), v.to_string());
    }
    Config::from_values(&values).expect("valid test configuration")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let database = TestDatabase::new();
    let url = database.url.clone();
    spawn_app_on(database, &url, extra).await
}

/// The application on `database`, which it reaches at `database_url` (the database's own
/// URL, or one through a [`link::FlakyLink`]).
pub async fn spawn_app_on(
    database: TestDatabase,
    database_url: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    let config = test_config(database_url, extra);
    let prepared = tokio::task::spawn_blocking(move || accolade::prepare(config))
        .await
        .unwrap()
        .expect("prepare the application");
    let db = prepared.db.clone();
    let app = accolade::Application::build(prepared).expect("bind");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        database_url: database_url.to_string(),
        client: new_client(),
        _database: database,
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `csrf_token` hidden field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(html[start..].split('"').next()?.to_string())
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The session's CSRF token, read from a page of the server at `base` that carries a form
/// (following the login page's redirects when the session is logged in).
pub async fn try_csrf_token(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let mut path = "/admin/login/".to_string();
    for _ in 0..3 {
        let response = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if response.status().is_redirection() {
            path = location(&response);
            continue;
        }
        let html = response
            .text()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        return csrf_in(&html).ok_or_else(|| format!("no CSRF token on {path}"));
    }
    Err("no page with a CSRF token".into())
}

/// Posts a form to the server at `base` with the session's CSRF token added. An error is a
/// request that got no answer (the server at `base` may have been stopped).
pub async fn try_post_form(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response, String> {
    let token = try_csrf_token(client, base).await?;
    let mut body: Vec<(&str, &str)> = vec![("csrf_token", &token)];
    body.extend_from_slice(fields);
    client
        .post(format!("{base}{path}"))
        .form(&body)
        .send()
        .await
        .map_err(|e| format!("POST {path}: {e}"))
}

/// A password hash computed once per test binary (hashing is deliberately slow).
pub fn shared_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| password::hash(PASSWORD)).clone()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn conn(&self) -> impl std::ops::DerefMut<Target = DbConnection> {
        self.db.get().expect("database connection")
    }

    /// Creates a user with [`PASSWORD`] and returns its id.
    pub fn create_user(&self, username: &str, staff: bool, superuser: bool) -> i64 {
        let hash = shared_hash();
        let new = users::NewUser {
            is_staff: staff,
            is_superuser: superuser,
            ..users::NewUser::new(username, "", &hash)
        };
        users::create(&mut self.conn(), &new).expect("create user")
    }

    /// Grants `app.codename` (e.g. `auth.view_user`) directly to a user.
    pub fn grant(&self, user_id: i64, app_label: &str, codename: &str) {
        use accolade::db::schema::{permissions, user_permissions};
        let mut conn = self.conn();
        let permission_id: i64 = permissions::table
            .filter(permissions::app_label.eq(app_label))
            .filter(permissions::codename.eq(codename))
            .select(permissions::id)
            .first(&mut *conn)
            .expect("permission exists");
        diesel::insert_into(user_permissions::table)
            .values((
                user_permissions::user_id.eq(user_id),
                user_permissions::permission_id.eq(permission_id),
            ))
            .execute(&mut *conn)
            .unwrap();
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client.get(self.url(path)).send().await.expect("request")
    }

    /// The body of `client`'s GET of `path`, whatever its status.
    pub async fn text_with(&self, client: &reqwest::Client, path: &str) -> String {
        text_of(self.get_with(client, path).await).await
    }

    pub async fn get_html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// The session's CSRF token, read from a page that carries a form.
    pub async fn csrf_token_for(&self, client: &reqwest::Client) -> String {
        try_csrf_token(client, &self.address)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn csrf_token(&self) -> String {
        self.csrf_token_for(&self.client).await
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_form_with(&self.client, path, fields).await
    }

    pub async fn post_form_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        try_post_form(client, &self.address, path, fields)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Posts a multipart form: the CSRF token first, then the fields, then the files
    /// (name, file name, bytes).
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, Vec<u8>)],
    ) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut form = reqwest::multipart::Form::new().text("csrf_token", token);
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        for (name, filename, bytes) in files {
            let part =
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(filename.to_string());
            form = form.part(name.to_string(), part);
        }
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn login_with(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.post_form_with(
            client,
            "/admin/login/",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// The status of `client`'s login as `username` with [`PASSWORD`].
    pub async fn login_status(
        &self,
        client: &reqwest::Client,
        username: &str,
    ) -> reqwest::StatusCode {
        self.login_with(client, username, PASSWORD).await.status()
    }

    /// Logs the default client in; panics unless the login succeeds.
    pub async fn login(&self, username: &str) {
        let response = self.login_with(&self.client, username, PASSWORD).await;
        assert_eq!(response.status(), 302, "login as {username} should succeed");
    }

    /// Creates a service token through the admin (the default client must be logged in
    /// with the right) and returns its secret, read from the one page that shows it. The
    /// service user is first granted what the LMS needs (README, "Open edX integration").
    pub async fn create_token(&self, service_user: i64) -> String {
        accolade::badging::grant_lms_permissions(&mut self.conn(), service_user).unwrap();
        self.create_token_as_is(service_user).await
    }

    /// [`TestApp::create_token`] for a user left with the rights they hold.
    pub async fn create_token_as_is(&self, service_user: i64) -> String {
        let r = self
            .post_form(
                "/admin/auth/token/add/",
                &[("name", "LMS"), ("user", &service_user.to_string())],
            )
            .await;
        assert_eq!(r.status(), 302);
        let page = self.get_html(&location(&r)).await;
        let marker = "The secret of this token is ";
        let start = page.find(marker).expect("shown once") + marker.len();
        page[start..].split(' ').next().unwrap().to_string()
    }

    /// Puts a user on a course's team.
    pub fn give_course_role(&self, user: i64, course: CourseId, role: &str) {
        give_course_role(&mut self.conn(), user, course, role);
    }

    /// The id of a course that exists.
    pub fn course_id(&self, key: &str) -> CourseId {
        accolade::courses::find_by_key(&mut self.conn(), key)
            .unwrap()
            .expect("the course exists")
            .id
    }

    /// The admin site as the application builds it, to walk its models.
    pub fn admin_site(&self) -> accolade::admin::AdminSite {
        accolade::backoffice::site(&test_config(&self.database_url, &[]))
    }

    /// Posts a passing certificate of `alice` in `course_id` as the LMS would.
    pub async fn send_certificate(
        &self,
        token: &str,
        event_id: &str,
        course_id: &str,
        course_name: &str,
    ) -> reqwest::Response {
        let event = serde_json::json!({
            "event_id": event_id, "username": "alice", "email": "alice@example.com",
            "course_id": course_id, "mode": "verified", "status": "downloadable",
            "verify_uuid": "0123456789abcdef0123456789abcdef", "course_name": course_name
        });
        self.client
            .post(self.url("/api/v1/events/certificate"))
            .bearer_auth(token)
            .json(&event)
            .send()
            .await
            .unwrap()
    }

    /// Carries out every waiting award job with Accolade's own issuer.
    pub fn issue_waiting_awards(&self) {
        let backend = local_issuer(self);
        accolade::badging::worker::drain(
            &self.db,
            backend.as_ref(),
            &worker_settings(true),
            "test",
        )
        .unwrap();
    }

    /// A superuser, logged in on the default client.
    pub async fn login_superuser(&self) -> i64 {
        let id = self.create_user("root", true, true);
        self.login("root").await;
        id
    }
}

/// The fields of the changelist action `action` on the objects `ids`.
pub fn action_form<'a>(action: &'a str, ids: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("action", action)];
    fields.extend(ids.iter().map(|id| ("_selected_action", *id)));
    fields
}

/// Worker settings for tests: badges on, short lease and poll.
pub fn worker_settings(allow_shipped_images: bool) -> WorkerSettings {
    WorkerSettings {
        award: AwardSettings {
            badges_enabled: true,
            allow_shipped_images,
            lms_url: "https://lms.example".into(),
        },
        lease: Duration::from_secs(60),
        max_attempts: 3,
        poll: Duration::from_millis(10),
        reconcile_every: Duration::ZERO,
    }
}

/// Accolade's own issuer, hosting under the test server's address.
pub fn local_issuer(app: &TestApp) -> Arc<dyn BadgeBackend> {
    Arc::new(accolade::badging::local::LocalIssuer {
        urls: openbadges::Urls {
            site: app.address.clone(),
        },
        profile: openbadges::IssuerProfile {
            name: "Accolade".into(),
            url: app.address.clone(),
            email: "badges@example.org".into(),
        },
        db: app.db.clone(),
    })
}

/// Puts a user on a course's team (for a database the test reaches without a `TestApp`).
pub fn give_course_role(conn: &mut DbConnection, user: i64, course: CourseId, role: &str) {
    use accolade::db::schema::course_roles;
    diesel::insert_into(course_roles::table)
        .values((
            course_roles::user_id.eq(user),
            course_roles::course_id.eq(course),
            course_roles::role.eq(role),
        ))
        .execute(conn)
        .unwrap();
}

/// The headers every response carries, error pages included.
pub fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        assert_eq!(
            headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name} on {what}"
        );
    }
    // The site's policy, or a stricter one of the handler's own (images: nothing runs).
    let csp = headers
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default();
    assert!(
        csp == accolade::web::middleware::CONTENT_SECURITY_POLICY
            || csp.starts_with("default-src 'none'"),
        "content-security-policy on {what}: {csp:?}"
    );
    assert!(
        headers.contains_key("x-request-id"),
        "x-request-id on {what}"
    );
}

/// Whether this run uses PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("ACCOLADE_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

/// The first superuser's password from a line the real binary prints on its first start:
/// the password itself on a terminal, or else the path of the owner-only file holding it.
pub fn initial_password(line: &str) -> Option<String> {
    let line = line.trim();
    if let Some(password) = line.strip_prefix("password: ") {
        return Some(password.to_string());
    }
    let path = line.strip_prefix("password file: ")?;
    let secret = std::fs::read_to_string(path).expect("the initial password file");
    Some(secret.trim().to_string())
}

/// A certificate's verification id as the LMS makes it (32 hex digits), derived from `seed`.
pub fn verify_uuid(seed: &str) -> String {
    accolade::digest::sha256_hex(seed.as_bytes())[..32].to_string()
}

/// What browsers keep of a cookie (name, value and attributes): a larger one is dropped
/// silently, and the session with it.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The `Set-Cookie` headers of a response that a browser would drop.
pub fn oversized_cookies(response: &reqwest::Response) -> Vec<usize> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.len())
        .filter(|&len| len > MAX_COOKIE_BYTES)
        .collect()
}

/// The names of the query parameters a page's links carry (a changelist's filters, order
/// and pages), each once.
pub fn linked_params(html: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (at, _) in html.match_indices("href=\"") {
        let href = html[at + 6..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        let Some((_, query)) = href.split_once('?') else {
            continue;
        };
        for pair in query.split('&') {
            let name = pair.split('=').next().unwrap().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Sends a request and reads its answer's JSON body.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The body of a response, as text.
pub async fn text_of(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}
