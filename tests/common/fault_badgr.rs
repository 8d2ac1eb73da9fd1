//! A Badgr of the tests' own that misbehaves on purpose: a real HTTP server on 127.0.0.1
//! implementing what an issuer uses of Badgr API v2 (tokens, the issuer, badge classes with
//! their tags, assertions, revocation), its state in memory for the test to read, and
//! faults drawn per request from a seeded generator: errors before and after the change is
//! made, hangs, answers lost after the change, changes made after the client gave up, 429.
//!
//! The faults are the ones that make a client unsure whether its request took effect, so
//! the test can count what a client that never awards twice must leave on Badgr.
#![allow(dead_code)]

#[path = "raw_http.rs"]
mod raw_http;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use raw_http::{Request, Response};
use serde_json::{Value, json};
use sha2::Digest;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};

/// The issuer's `entityId` (`BADGR_ISSUER_SLUG`).
pub const ISSUER: &str = "FaultIssuer0000000000A";
/// The account that owns the issuer (`BADGR_USERNAME`, `BADGR_PASSWORD`).
pub const USERNAME: &str = "badgr@example.org";
pub const PASSWORD: &str = "fault-badgr-password";

/// What can go wrong with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// 500 with Badgr's JSON envelope; nothing is made.
    ErrorBefore,
    /// The change is made, then 500 with an HTML page (a proxy's or Django's error page).
    ErrorAfter,
    /// No answer until past the client's timeout, then the connection closes; nothing made.
    HangBefore,
    /// The change is made, then the connection closes without an answer.
    DropAfter,
    /// The change is made, then no answer until past the client's timeout.
    SilentAfter,
    /// Held past the client's timeout; the change is made seconds after the client gave up.
    LateCommit,
    /// 429 with `Retry-After: 1`; nothing is made.
    TooManyRequests,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::ErrorBefore,
        Fault::ErrorAfter,
        Fault::HangBefore,
        Fault::DropAfter,
        Fault::SilentAfter,
        Fault::LateCommit,
        Fault::TooManyRequests,
    ];
}

/// What a request asks for (the routes of API v2 an issuer uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    Token,
    Issuer,
    CreateClass,
    ListClasses,
    GetClass,
    DeleteClass,
    CreateAssertion,
    ListAssertions,
    IssuerAssertions,
    GetAssertion,
    RevokeAssertion,
    NotFound,
}

impl Route {
    /// The route and its one variable path segment (issuer, class or assertion id).
    fn of(method: &str, path: &str) -> (Route, String) {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (route, id) = match (method, segments.as_slice()) {
            ("POST", ["o", "token"] | ["o", "token", ""]) => (Route::Token, ""),
            ("GET", ["v2", "issuers", id]) => (Route::Issuer, *id),
            ("POST", ["v2", "issuers", id, "badgeclasses"]) => (Route::CreateClass, *id),
            ("GET", ["v2", "issuers", id, "badgeclasses"]) => (Route::ListClasses, *id),
            ("GET", ["v2", "issuers", id, "assertions"]) => (Route::IssuerAssertions, *id),
            ("GET", ["v2", "badgeclasses", id]) => (Route::GetClass, *id),
            ("DELETE", ["v2", "badgeclasses", id]) => (Route::DeleteClass, *id),
            ("POST", ["v2", "badgeclasses", id, "assertions"]) => (Route::CreateAssertion, *id),
            ("GET", ["v2", "badgeclasses", id, "assertions"]) => (Route::ListAssertions, *id),
            ("GET", ["v2", "assertions", id]) => (Route::GetAssertion, *id),
            ("DELETE", ["v2", "assertions", id]) => (Route::RevokeAssertion, *id),
            _ => (Route::NotFound, ""),
        };
        (route, id.to_string())
    }
}

/// A fault drawn for a request, with how long it holds the request.
#[derive(Clone, Copy, Debug)]
struct Injection {
    fault: Fault,
    delay: Duration,
}

/// Which faults strike which routes, and how often: changed by the test at any time.
pub struct Faults {
    rng: StdRng,
    odds: BTreeMap<Route, Vec<(Fault, f64)>>,
    /// The client's timeout (`BADGR_TIMEOUT`): hangs outlast it.
    client_timeout: Duration,
}

impl Faults {
    /// Sets how often `fault` strikes requests to `route` (0 to 1; the odds of one route's
    /// faults add up, to at most 1).
    pub fn set(&mut self, route: Route, fault: Fault, probability: f64) {
        let odds = self.odds.entry(route).or_default();
        odds.retain(|(f, _)| *f != fault);
        odds.push((fault, probability));
        assert!(odds.iter().map(|(_, p)| p).sum::<f64>() <= 1.0);
    }

    /// No more faults: every request from now on is answered at once and correctly.
    pub fn clear(&mut self) {
        self.odds.clear();
    }

    fn draw(&mut self, route: Route) -> Option<Injection> {
        let odds = self.odds.get(&route)?;
        let mut roll: f64 = self.rng.random();
        let fault = odds.iter().find_map(|&(fault, p)| {
            roll -= p;
            (roll < 0.0).then_some(fault)
        })?;
        let past_timeout = self.client_timeout + Duration::from_secs(1);
        let delay = match fault {
            Fault::HangBefore | Fault::SilentAfter => past_timeout,
            // "Several seconds later": after the client's first retry may already have run.
            Fault::LateCommit => {
                self.client_timeout + Duration::from_millis(self.rng.random_range(1000..4000))
            }
            _ => Duration::ZERO,
        };
        Some(Injection { fault, delay })
    }
}

/// A badge class as Badgr keeps it.
#[derive(Clone, Debug)]
pub struct BadgeClass {
    pub entity_id: String,
    pub issuer: String,
    pub name: String,
    pub description: String,
    pub criteria_url: Option<String>,
    pub criteria_narrative: Option<String>,
    pub tags: Vec<String>,
    pub image_bytes: usize,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An assertion as Badgr keeps it.
#[derive(Clone, Debug)]
pub struct Assertion {
    pub entity_id: String,
    pub badge_class: String,
    /// The recipient's plaintext e-mail, lower-cased as Badgr stores it.
    pub email: String,
    pub salt: String,
    pub evidence: Value,
    pub revoked: bool,
    pub revocation_reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Everything the server holds and has seen.
pub struct State {
    base_url: String,
    pub classes: Vec<BadgeClass>,
    pub assertions: Vec<Assertion>,
    /// Requests received, by route.
    pub requests: BTreeMap<Route, usize>,
    /// Faults injected, by route and kind.
    pub injected: BTreeMap<(Route, Fault), usize>,
    access_tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    /// `expires_in` of the tokens given out, in seconds.
    pub token_lifetime: u64,
    /// Times every access token was forgotten (`expire_access_tokens`).
    pub tokens_expired: usize,
}

/// The server; stops accepting when dropped.
pub struct FaultBadgr {
    /// `BADGR_BASE_URL`.
    pub url: String,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    state: Mutex<State>,
    faults: Mutex<Faults>,
    /// Requests being answered (a late commit holds one for seconds).
    in_flight: AtomicUsize,
}

impl Drop for FaultBadgr {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultBadgr {
    /// Starts on a free port with no faults; `seed` makes the faults drawn reproducible
    /// for the same sequence of requests.
    pub async fn start(seed: u64, client_timeout: Duration) -> FaultBadgr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&url)),
            faults: Mutex::new(Faults {
                rng: StdRng::seed_from_u64(seed),
                odds: BTreeMap::new(),
                client_timeout,
            }),
            in_flight: AtomicUsize::new(0),
        });
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(accepting.clone(), stream));
            }
        });
        FaultBadgr {
            url,
            shared,
            accept,
        }
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.shared.faults.lock().unwrap()
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }

    /// Waits until no request is being answered (held requests, late commits included);
    /// false if some still were after `limit`.
    pub async fn settle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }
}

/// Counts a request while it is being answered.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(shared: Arc<Shared>, stream: TcpStream) {
    let mut stream = BufReader::new(stream);
    let Ok(Some(request)) = raw_http::read_request(&mut stream).await else {
        return;
    };
    let _counted = InFlight::new(&shared.in_flight);
    if let Some(response) = answer(&shared, &request).await {
        // After a late commit the client is gone, and the write fails: as it would on Badgr.
        let _ = raw_http::write_response(stream.get_mut(), &response).await;
    }
    // Dropping the stream closes the connection, answered or not.
}

/// The answer to a request, with its fault if one is drawn; `None` closes the connection
/// without an answer.
async fn answer(shared: &Shared, request: &Request) -> Option<Response> {
    let (route, id) = Route::of(&request.method, &request.path);
    let injection = shared.begin(route);
    let Some(Injection { fault, delay }) = injection else {
        return Some(shared.apply(route, &id, request));
    };
    match fault {
        Fault::ErrorBefore => return Some(failure(500, "server error", json!({}))),
        Fault::TooManyRequests => {
            return Some(
                failure(429, "too many requests", json!({})).with_header("Retry-After", "1"),
            );
        }
        Fault::HangBefore => {
            tokio::time::sleep(delay).await;
            return None;
        }
        Fault::LateCommit => tokio::time::sleep(delay).await,
        _ => {}
    }
    let response = shared.apply(route, &id, request);
    match fault {
        Fault::ErrorAfter => Some(Response::html(500, SERVER_ERROR_PAGE)),
        Fault::DropAfter => None,
        Fault::SilentAfter => {
            tokio::time::sleep(delay).await;
            None
        }
        _ => Some(response),
    }
}

const SERVER_ERROR_PAGE: &str = "<!DOCTYPE html><html><head><title>Server Error (500)</title></head><body><h1>Server Error (500)</h1></body></html>";

impl Shared {
    /// Counts the request and draws its fault.
    fn begin(&self, route: Route) -> Option<Injection> {
        let injection = self.faults.lock().unwrap().draw(route);
        let mut state = self.state.lock().unwrap();
        *state.requests.entry(route).or_default() += 1;
        if let Some(injection) = injection {
            *state.injected.entry((route, injection.fault)).or_default() += 1;
        }
        injection
    }

    /// Carries the request out (the "commit") and answers as Badgr would.
    fn apply(&self, route: Route, id: &str, request: &Request) -> Response {
        let mut state = self.state.lock().unwrap();
        match route {
            Route::Token => return state.token(request),
            Route::NotFound => return Response::html(404, "<h1>Not Found</h1>"),
            _ if !state.authorized(request) => {
                return failure(401, "no valid auth token found", json!({}));
            }
            _ => {}
        }
        match route {
            Route::Issuer => state.issuer(id),
            Route::CreateClass => state.create_class(id, request),
            Route::ListClasses => state.list_classes(id),
            Route::GetClass => state.get_class(id),
            Route::DeleteClass => state.delete_class(id),
            Route::CreateAssertion => state.create_assertion(id, request),
            Route::ListAssertions => {
                let exists = state.classes.iter().any(|c| c.entity_id == id);
                state.list_assertions(exists, |a| a.badge_class == id, request)
            }
            Route::IssuerAssertions => state.list_assertions(id == ISSUER, |_| true, request),
            Route::GetAssertion => state.get_assertion(id),
            Route::RevokeAssertion => state.revoke(id, request),
            Route::Token | Route::NotFound => unreachable!("answered above"),
        }
    }
}

/// Badgr's v2 envelope around a success.
fn ok(status: u16, result: Vec<Value>) -> Response {
    Response::json(
        status,
        &json!({"status": {"success": true, "description": "ok"}, "result": result}),
    )
}

/// Badgr's v2 envelope around a failure.
fn failure(status: u16, description: &str, field_errors: Value) -> Response {
    Response::json(
        status,
        &json!({"status": {"success": false, "description": description}, "result": [],
                "fieldErrors": field_errors, "validationErrors": []}),
    )
}

fn not_found() -> Response {
    failure(
        404,
        "entity not found or insufficient privileges",
        json!({}),
    )
}

/// An `entityId` as Badgr makes them: 22 characters of URL-safe base64 of a random UUID.
fn entity_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

fn random_text(length: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

fn timestamp(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a badge class creation sent, read from a multipart form or a JSON body.
struct ClassFields {
    name: String,
    description: String,
    criteria_url: Option<String>,
    criteria_narrative: Option<String>,
    tags: Vec<String>,
    image: Vec<u8>,
}

impl ClassFields {
    fn from_request(request: &Request) -> Option<ClassFields> {
        let content_type = request.header("content-type").unwrap_or_default();
        match raw_http::multipart(content_type, &request.body) {
            Some(parts) => Some(ClassFields::from_parts(&parts)),
            None => ClassFields::from_json(&serde_json::from_slice(&request.body).ok()?),
        }
    }

    /// Tags as repeated `tags` parts (also `tags[]` and `tags[N]`, as DRF reads lists).
    fn from_parts(parts: &[raw_http::Part]) -> ClassFields {
        let text = |name: &str| parts.iter().find(|p| p.name == name).map(|p| p.text());
        ClassFields {
            name: text("name").unwrap_or_default(),
            description: text("description").unwrap_or_default(),
            criteria_url: text("criteriaUrl"),
            criteria_narrative: text("criteriaNarrative"),
            tags: parts
                .iter()
                .filter(|p| p.name == "tags" || p.name.starts_with("tags["))
                .map(|p| p.text())
                .collect(),
            image: parts
                .iter()
                .find(|p| p.name == "image" && p.filename.is_some())
                .map(|p| p.data.clone())
                .unwrap_or_default(),
        }
    }

    /// JSON with the image as a `data:image/png;base64,…` URI.
    fn from_json(body: &Value) -> Option<ClassFields> {
        let text = |name: &str| body[name].as_str().map(str::to_string);
        let image = text("image")
            .and_then(|uri| {
                uri.strip_prefix("data:image/png;base64,")
                    .map(str::to_string)
            })
            .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok());
        Some(ClassFields {
            name: text("name").unwrap_or_default(),
            description: text("description").unwrap_or_default(),
            criteria_url: text("criteriaUrl"),
            criteria_narrative: text("criteriaNarrative"),
            tags: body["tags"]
                .as_array()
                .map(|tags| {
                    tags.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            image: image.unwrap_or_default(),
        })
    }

    /// Badgr's field errors, if any.
    fn errors(&self) -> Option<Value> {
        let mut errors = serde_json::Map::new();
        if self.name.trim().is_empty() {
            errors.insert("name".into(), json!(["This field is required."]));
        }
        if self.description.trim().is_empty() {
            errors.insert("description".into(), json!(["This field is required."]));
        }
        if !self.image.starts_with(b"\x89PNG\r\n\x1a\n") {
            errors.insert(
                "image".into(),
                json!("Valid image file or data URI required."),
            );
        }
        (!errors.is_empty()).then_some(Value::Object(errors))
    }
}

impl State {
    fn new(base_url: &str) -> State {
        State {
            base_url: base_url.to_string(),
            classes: Vec::new(),
            assertions: Vec::new(),
            requests: BTreeMap::new(),
            injected: BTreeMap::new(),
            access_tokens: HashSet::new(),
            refresh_tokens: HashSet::new(),
            token_lifetime: 86_400,
            tokens_expired: 0,
        }
    }

    /// Forgets every access token (as when they expire early): the next call with one gets
    /// 401 and must refresh. Refresh tokens stay valid.
    pub fn expire_access_tokens(&mut self) {
        self.access_tokens.clear();
        self.tokens_expired += 1;
    }

    fn authorized(&self, request: &Request) -> bool {
        request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| self.access_tokens.contains(token))
    }

    /// `POST /o/token`: the password grant, or a refresh (refresh tokens rotate).
    fn token(&mut self, request: &Request) -> Response {
        let form: BTreeMap<String, String> =
            serde_urlencoded::from_bytes(&request.body).unwrap_or_default();
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("client_id").is_none() {
            return Response::json(401, &json!({"error": "invalid_client"}));
        }
        if !field("scope").is_some_and(|s| s.split(' ').any(|s| s == "rw:issuer")) {
            return Response::json(400, &json!({"error": "invalid scope requested"}));
        }
        let granted = match field("grant_type") {
            Some("password") => {
                field("username") == Some(USERNAME) && field("password") == Some(PASSWORD)
            }
            Some("refresh_token") => {
                field("refresh_token").is_some_and(|t| self.refresh_tokens.remove(t))
            }
            _ => false,
        };
        if !granted {
            return Response::json(
                400,
                &json!({"error": "invalid_grant", "error_description": "Invalid credentials given."}),
            );
        }
        let (access, refresh) = (random_text(30), random_text(30));
        self.access_tokens.insert(access.clone());
        self.refresh_tokens.insert(refresh.clone());
        Response::json(
            200,
            &json!({"access_token": access, "token_type": "Bearer", "expires_in": self.token_lifetime,
                    "scope": "rw:issuer", "refresh_token": refresh}),
        )
    }

    fn issuer(&self, id: &str) -> Response {
        if id != ISSUER {
            return not_found();
        }
        ok(
            200,
            vec![json!({"entityType": "Issuer", "entityId": ISSUER,
                        "openBadgeId": format!("{}/public/issuers/{ISSUER}", self.base_url),
                        "name": "Fault Badgr issuer", "email": USERNAME})],
        )
    }

    fn class_json(&self, class: &BadgeClass) -> Value {
        let base = &self.base_url;
        json!({
            "entityType": "BadgeClass", "entityId": class.entity_id,
            "openBadgeId": format!("{base}/public/badges/{}", class.entity_id),
            "createdAt": timestamp(&class.created_at), "createdBy": "FaultUser000000000000A",
            "issuer": class.issuer,
            "issuerOpenBadgeId": format!("{base}/public/issuers/{}", class.issuer),
            "name": class.name, "description": class.description,
            "image": format!("{base}/media/uploads/badges/{}.png", class.entity_id),
            "criteriaUrl": class.criteria_url, "criteriaNarrative": class.criteria_narrative,
            "alignments": [], "tags": class.tags,
            "expires": {"amount": null, "duration": null}, "extensions": {}
        })
    }

    fn create_class(&mut self, issuer: &str, request: &Request) -> Response {
        if issuer != ISSUER {
            return not_found();
        }
        let Some(fields) = ClassFields::from_request(request) else {
            return failure(
                400,
                "bad request",
                json!({"image": "Valid image file or data URI required."}),
            );
        };
        if let Some(errors) = fields.errors() {
            return failure(400, "bad request", errors);
        }
        let class = BadgeClass {
            entity_id: entity_id(),
            issuer: issuer.to_string(),
            name: fields.name,
            description: fields.description,
            criteria_url: fields.criteria_url,
            criteria_narrative: fields.criteria_narrative,
            tags: fields.tags,
            image_bytes: fields.image.len(),
            created_at: chrono::Utc::now(),
        };
        let rendered = self.class_json(&class);
        self.classes.push(class);
        ok(201, vec![rendered])
    }

    fn list_classes(&self, issuer: &str) -> Response {
        if issuer != ISSUER {
            return not_found();
        }
        let all = self.classes.iter().filter(|c| c.issuer == issuer);
        ok(200, all.map(|c| self.class_json(c)).collect())
    }

    fn get_class(&self, id: &str) -> Response {
        match self.classes.iter().find(|c| c.entity_id == id) {
            Some(class) => ok(200, vec![self.class_json(class)]),
            None => not_found(),
        }
    }

    /// Refused while the class has live assertions, as Badgr does.
    fn delete_class(&mut self, id: &str) -> Response {
        if !self.classes.iter().any(|c| c.entity_id == id) {
            return not_found();
        }
        if self
            .assertions
            .iter()
            .any(|a| a.badge_class == id && !a.revoked)
        {
            return failure(
                400,
                "BadgeClass may only be deleted if all BadgeInstances have been revoked.",
                json!({}),
            );
        }
        self.classes.retain(|c| c.entity_id != id);
        Response::empty(204)
    }

    fn assertion_json(&self, assertion: &Assertion) -> Value {
        let (base, id) = (&self.base_url, &assertion.entity_id);
        let digest = sha2::Sha256::digest(format!("{}{}", assertion.email, assertion.salt));
        let hashed: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        json!({
            "entityType": "Assertion", "entityId": id,
            "openBadgeId": format!("{base}/public/assertions/{id}"),
            "createdAt": timestamp(&assertion.created_at), "createdBy": "FaultUser000000000000A",
            "badgeclass": assertion.badge_class,
            "badgeclassOpenBadgeId": format!("{base}/public/badges/{}", assertion.badge_class),
            "issuer": ISSUER, "issuerOpenBadgeId": format!("{base}/public/issuers/{ISSUER}"),
            "image": format!("{base}/media/uploads/badges/assertion-{id}.png"),
            "recipient": {"identity": format!("sha256${hashed}"), "hashed": true, "type": "email",
                          "plaintextIdentity": assertion.email, "salt": assertion.salt},
            "issuedOn": timestamp(&assertion.created_at), "narrative": null,
            "evidence": assertion.evidence, "revoked": assertion.revoked,
            "revocationReason": assertion.revocation_reason, "acceptance": "Unaccepted",
            "expires": null, "extensions": {}
        })
    }

    fn create_assertion(&mut self, class: &str, request: &Request) -> Response {
        if !self.classes.iter().any(|c| c.entity_id == class) {
            return not_found();
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let Some(identity) = body["recipient"]["identity"]
            .as_str()
            .filter(|i| i.contains('@'))
        else {
            return failure(
                400,
                "bad request",
                json!({"recipient": ["This field is required"]}),
            );
        };
        let assertion = Assertion {
            entity_id: entity_id(),
            badge_class: class.to_string(),
            // Without allow_uppercase, Badgr lower-cases the identifier before storing it.
            email: identity.to_lowercase(),
            salt: random_text(32).to_lowercase(),
            evidence: body.get("evidence").cloned().unwrap_or(json!([])),
            revoked: false,
            revocation_reason: None,
            created_at: chrono::Utc::now(),
        };
        let rendered = self.assertion_json(&assertion);
        self.assertions.push(assertion);
        ok(201, vec![rendered])
    }

    /// `recipient=` (repeatable) filters by plaintext e-mail; revoked ones only with
    /// `include_revoked=true`.
    fn list_assertions(
        &self,
        exists: bool,
        of: impl Fn(&Assertion) -> bool,
        request: &Request,
    ) -> Response {
        if !exists {
            return not_found();
        }
        let recipients: Vec<String> = request
            .query_all("recipient")
            .iter()
            .map(|r| r.to_lowercase())
            .collect();
        let include_revoked = request.query_all("include_revoked").contains(&"true");
        let found = self
            .assertions
            .iter()
            .filter(|a| of(a))
            .filter(|a| recipients.is_empty() || recipients.contains(&a.email))
            .filter(|a| include_revoked || !a.revoked);
        ok(200, found.map(|a| self.assertion_json(a)).collect())
    }

    fn get_assertion(&self, id: &str) -> Response {
        match self.assertions.iter().find(|a| a.entity_id == id) {
            Some(assertion) => ok(200, vec![self.assertion_json(assertion)]),
            None => not_found(),
        }
    }

    /// `DELETE /v2/assertions/{id}` with `{"revocation_reason": …}`.
    fn revoke(&mut self, id: &str, request: &Request) -> Response {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let reason = body["revocation_reason"].as_str().filter(|r| !r.is_empty());
        let Some(at) = self.assertions.iter().position(|a| a.entity_id == id) else {
            return not_found();
        };
        let Some(reason) = reason else {
            return failure(
                400,
                "bad request",
                json!({"revocation_reason": "This field is required"}),
            );
        };
        if self.assertions[at].revoked {
            return failure(400, "Assertion is already revoked", json!({}));
        }
        self.assertions[at].revoked = true;
        self.assertions[at].revocation_reason = Some(reason.to_string());
        ok(200, vec![self.assertion_json(&self.assertions[at])])
    }

    /// Live (not revoked) assertions of `class` for `email`.
    pub fn live(&self, email: &str, class: &str) -> usize {
        let email = email.to_lowercase();
        self.assertions
            .iter()
            .filter(|a| !a.revoked && a.email == email && a.badge_class == class)
            .count()
    }

    /// Live assertions by (e-mail, class).
    pub fn live_by_recipient(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for a in self.assertions.iter().filter(|a| !a.revoked) {
            *counts
                .entry((a.email.clone(), a.badge_class.clone()))
                .or_default() += 1;
        }
        counts
    }

    /// Badge classes of an issuer.
    pub fn classes_of(&self, issuer: &str) -> usize {
        self.classes.iter().filter(|c| c.issuer == issuer).count()
    }

    /// Classes no Accolade badge class points to (`known`: every `backend_id`).
    pub fn orphan_classes(&self, known: &HashSet<String>) -> Vec<&BadgeClass> {
        self.classes
            .iter()
            .filter(|c| !known.contains(&c.entity_id))
            .collect()
    }

    /// Faults injected, by kind (all routes).
    pub fn injected_by_kind(&self) -> BTreeMap<Fault, usize> {
        let mut counts = BTreeMap::new();
        for ((_, fault), n) in &self.injected {
            *counts.entry(*fault).or_default() += n;
        }
        counts
    }
}
