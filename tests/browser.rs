//! The admin and Studio in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`), against the real `accolade` binary on
//! 127.0.0.1. Every step fails on a browser console error or a CSP violation, and each flow
//! saves a screenshot under `target/screenshots/`.

mod common;
#[path = "common/images.rs"]
mod images;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::binary::{Process, free_port};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const NEW_PASSWORD: &str = "quartz-meadow-lantern-72";

/// The `accolade` binary serving a fresh database, and the password it printed for `admin`.
struct Server {
    address: String,
    password: String,
    database: common::TestDatabase,
    _process: Process,
}

async fn start_server() -> Server {
    let database = common::TestDatabase::new();
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_accolade"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database.url)
        .env("ACCOLADE_BIND", format!("127.0.0.1:{port}"))
        .env("ACCOLADE_SITE_URL", &address)
        .env("ACCOLADE_SECRET_KEY", common::SECRET_KEY)
        .env("ACCOLADE_WORKERS", "0")
        .env("ACCOLADE_HTTP_WORKERS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start accolade");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let process = Process(child);
    let password = tokio::task::spawn_blocking(move || {
        let mut lines = stdout.lines();
        let password = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| common::initial_password(&l))
            .expect("the first start prints the superuser's password");
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        password
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client
            .get(format!("{address}/healthz"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "accolade did not answer on {address} within 10 s");
    Server {
        address,
        password,
        database,
        _process: process,
    }
}

/// Headless Chromium under ChromeDriver, with a fresh profile.
struct Browser {
    client: Client,
    driver_url: String,
    screenshots: PathBuf,
    _profile: tempfile::TempDir,
    _driver: Process,
}

async fn start_browser() -> Browser {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "the browser suite needs Debian's chromium and chromium-driver \
         (apt-get install chromium chromium-driver)"
    );
    let port = free_port();
    let driver = Process(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let driver_url = format!("http://127.0.0.1:{port}");
    let profile = tempfile::tempdir().unwrap();
    let capabilities = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                format!("--user-data-dir={}", profile.path().display()),
                "--window-size=1280,1000",
            ],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let mut client = None;
    for _ in 0..100 {
        let mut builder = ClientBuilder::rustls().unwrap();
        builder.capabilities(capabilities.as_object().unwrap().clone());
        match builder.connect(&driver_url).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    Browser {
        client: client.expect("a ChromeDriver session within 10 s"),
        driver_url,
        screenshots,
        _profile: profile,
        _driver: driver,
    }
}

impl Browser {
    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.check_console(url).await;
    }

    /// Fails on any console error or warning, or CSP violation (Chromium reports those as
    /// SEVERE), since the last check.
    async fn check_console(&self, step: &str) {
        let problems = self.console_problems().await;
        assert!(problems.is_empty(), "console at {step}: {problems:#?}");
    }

    /// The console's errors and warnings since the last look (reading the log empties it).
    async fn console_problems(&self) -> Vec<serde_json::Value> {
        let session = self.client.session_id().await.unwrap().unwrap();
        let logs: serde_json::Value = common::json_of(
            reqwest::Client::new()
                .post(format!("{}/session/{session}/se/log", self.driver_url))
                .json(&serde_json::json!({ "type": "browser" })),
        )
        .await;
        let entries = logs["value"].as_array().expect("browser log entries");
        entries
            .iter()
            .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
            .cloned()
            .collect()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.screenshots.join(format!("{name}.png")), png).unwrap();
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn choose_file(&self, css: &str, path: &str) {
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.send_keys(path).await.unwrap();
    }

    async fn select(&self, css: &str, value: &str) {
        let select = self.client.find(Locator::Css(css)).await.unwrap();
        select.select_by_value(value).await.unwrap();
    }

    /// Clicks and waits for the page the click leads to (the marker set on this page is
    /// gone once the next one has loaded).
    async fn click_and_wait(&self, css: &str) {
        self.script("window.accoladeOldPage = true;").await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let mut loaded = false;
        for _ in 0..200 {
            let state = self
                .client
                .execute(
                    "return window.accoladeOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(state, Ok(serde_json::Value::Bool(true))) {
                loaded = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(loaded, "clicking {css} led to no new page");
        let url = self.client.current_url().await.unwrap().to_string();
        self.check_console(&url).await;
    }

    async fn press_tab(&self) {
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
        self.client.perform_actions(tab).await.unwrap();
    }

    async fn script(&self, js: &str) -> serde_json::Value {
        self.client.execute(js, vec![]).await.unwrap()
    }

    /// Every form control on the page has a label: a `<label for>`, an enclosing label, or
    /// an ARIA label.
    async fn assert_every_control_labelled(&self, page: &str) {
        let unlabelled = self
            .script(
                "return Array.from(document.querySelectorAll('input, select, textarea'))
                   .filter(e => !['hidden', 'submit', 'button'].includes(e.type))
                   .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                                && !e.getAttribute('aria-labelledby'))
                   .map(e => e.name || e.id);",
            )
            .await;
        assert_eq!(
            unlabelled,
            serde_json::json!([]),
            "controls without a label on {page}"
        );
    }

    /// Tab reaches every enabled control of the form `form_css`, and each shows a visible
    /// focus indicator when it has focus.
    async fn assert_keyboard_reaches(&self, page: &str, form_css: &str) {
        // Each control is marked with its index, and described for the failure message.
        let wanted: Vec<String> = serde_json::from_value(
            self.script(&format!(
                "return Array.from(document.querySelectorAll('{form_css} input, {form_css} select, \
                 {form_css} textarea, {form_css} button'))
                   .filter(e => e.type !== 'hidden' && !e.disabled)
                   .map((e, i) => {{ e.dataset.kbd = i; return e.name || e.id || e.value; }});"
            ))
            .await,
        )
        .unwrap();
        assert!(!wanted.is_empty(), "no controls in {form_css} on {page}");
        self.script("document.activeElement.blur(); window.scrollTo(0, 0);")
            .await;
        let mut reached = vec![false; wanted.len()];
        for _ in 0..200 {
            self.press_tab().await;
            let focused = self
                .script(
                    "const e = document.activeElement; const s = getComputedStyle(e);
                     return [e.dataset.kbd === undefined ? -1 : Number(e.dataset.kbd),
                             (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                               || s.boxShadow !== 'none'];",
                )
                .await;
            let Some(index) = focused[0].as_u64().map(|i| i as usize) else {
                continue;
            };
            assert_eq!(
                focused[1], true,
                "{} on {page} has no visible focus indicator",
                wanted[index]
            );
            if reached[index] {
                break; // round the page once
            }
            reached[index] = true;
        }
        let missed: Vec<&String> = wanted
            .iter()
            .zip(&reached)
            .filter(|(_, r)| !**r)
            .map(|(w, _)| w)
            .collect();
        assert!(missed.is_empty(), "Tab never reaches {missed:?} on {page}");
    }

    async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

fn image_file(dir: &Path, name: &str, width: u32, height: u32) -> String {
    let path = dir.join(name);
    let bytes = images::png(&images::solid(width, height, [200, 30, 30, 255]));
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn the_admin_and_studio_work_in_a_real_browser() {
    let server = start_server().await;
    let browser = start_browser().await;
    let base = &server.address;
    let files = tempfile::tempdir().unwrap();

    // First login with the printed password; the password must be changed first.
    browser.goto(&format!("{base}/admin/")).await;
    browser.assert_every_control_labelled("login").await;
    browser
        .assert_keyboard_reaches("login", "#login-form")
        .await;
    browser.fill("#id_username", "admin").await;
    browser.fill("#id_password", &server.password).await;
    browser
        .click_and_wait("#login-form input[type=submit]")
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("Please choose a new password before you continue.")
    );
    browser.screenshot("01-forced-password-change").await;
    browser.fill("#id_old_password", &server.password).await;
    browser.fill("#id_new_password1", NEW_PASSWORD).await;
    browser.fill("#id_new_password2", NEW_PASSWORD).await;
    browser.click_and_wait("input[type=submit]").await;
    assert!(browser.text().await.contains("Your password was changed."));
    browser.goto(&format!("{base}/admin/")).await;
    assert!(browser.text().await.contains("Site administration"));
    browser.screenshot("02-index").await;

    // A badge image configuration: a non-square image refused, then padded and previewed.
    let add = format!("{base}/admin/certificates/badgeimageconfiguration/add/");
    browser.goto(&add).await;
    browser
        .assert_every_control_labelled("image configuration")
        .await;
    browser
        .assert_keyboard_reaches("image configuration", "form[enctype]")
        .await;
    let wide = image_file(files.path(), "wide.png", 600, 300);
    browser.fill("#id_mode", "audit").await;
    browser.choose_file("#id_icon", &wide).await;
    browser.click_and_wait("input[name=_save]").await;
    assert!(
        browser
            .text()
            .await
            .contains("The badge image must be square.")
    );
    browser.screenshot("03-non-square-refused").await;
    browser.select("#id_make_square", "pad").await;
    browser.choose_file("#id_icon", &wide).await;
    browser.click_and_wait("input[name=_preview]").await;
    assert!(
        browser
            .text()
            .await
            .contains("Preview: this is what will be issued.")
    );
    let preview_loaded = browser
        .script("const i = document.querySelector('img.preview-full'); return i.complete && i.naturalWidth;")
        .await;
    assert_eq!(preview_loaded, 400, "the preview image is shown");
    browser.screenshot("04-padded-preview").await;
    browser.click_and_wait("input[name=_save]").await;
    assert!(
        browser
            .text()
            .await
            .contains("The badge image configuration “audit” was added successfully.")
    );

    // Make it the default through the bulk action.
    let list = format!("{base}/admin/certificates/badgeimageconfiguration/");
    browser.goto(&list).await;
    select_row(&browser, "audit").await;
    browser.select("select[name=action]", "make_default").await;
    browser.click_and_wait("button[name=index]").await;
    assert!(
        browser
            .text()
            .await
            .contains("“audit” is now the default badge image.")
    );
    browser.screenshot("05-made-default").await;

    // A second default is refused on the form.
    browser.goto(&add).await;
    let square = image_file(files.path(), "square.png", 400, 400);
    browser.fill("#id_mode", "credit").await;
    browser.choose_file("#id_icon", &square).await;
    browser
        .client
        .find(Locator::Css("#id_default"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click_and_wait("input[name=_save]").await;
    assert!(
        browser
            .text()
            .await
            .contains("There can be only one default image.")
    );
    browser.screenshot("06-second-default-refused").await;

    // The frozen images report.
    browser
        .goto(&format!("{base}/admin/badges/frozen-images/"))
        .await;
    browser.assert_every_control_labelled("frozen images").await;
    browser.screenshot("07-frozen-report").await;

    // A bulk action through its confirmation page: deleting a group.
    browser.goto(&format!("{base}/admin/auth/group/add/")).await;
    browser.fill("#id_name", "reviewers").await;
    browser.click_and_wait("input[name=_save]").await;
    browser.goto(&format!("{base}/admin/auth/group/")).await;
    select_row(&browser, "reviewers").await;
    browser
        .select("select[name=action]", "delete_selected")
        .await;
    browser.click_and_wait("button[name=index]").await;
    assert!(browser.text().await.contains("Are you sure?"));
    browser.screenshot("08-delete-confirmation").await;
    browser.click_and_wait("input[type=submit]").await;
    assert!(
        browser
            .text()
            .await
            .contains("Successfully deleted 1 group.")
    );

    // Course staff switch badges off for their course in Studio.
    let teacher = course_team_member(&server);
    logout(&browser).await;
    browser
        .goto(&format!("{base}/admin/login/?next=/studio/"))
        .await;
    browser.fill("#id_username", &teacher).await;
    browser.fill("#id_password", common::PASSWORD).await;
    browser
        .click_and_wait("#login-form input[type=submit]")
        .await;
    assert!(browser.text().await.contains("My courses"));
    browser
        .click_and_wait("a[href*='/settings/advanced']")
        .await;
    browser
        .assert_every_control_labelled("advanced settings")
        .await;
    browser.screenshot("09-studio-advanced-settings").await;
    browser.select("select[name=issue_badges]", "false").await;
    browser
        .click_and_wait("#advanced-settings [type=submit]")
        .await;
    assert_eq!(
        browser
            .client
            .find(Locator::Css("select[name=issue_badges]"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("false")
    );
    browser.screenshot("10-studio-saved").await;

    logout(&browser).await;
    assert!(browser.text().await.contains("Logged out"));
    browser.screenshot("11-logged-out").await;
    browser.close().await;
}

/// Ticks the action checkbox of the changelist row showing `text`.
async fn select_row(browser: &Browser, text: &str) {
    let ticked = browser
        .client
        .execute(
            "const row = Array.from(document.querySelectorAll('#result_list tbody tr'))
               .find(r => r.textContent.includes(arguments[0]));
             if (!row) return false;
             row.querySelector('input.action-select').click();
             return true;",
            vec![serde_json::json!(text)],
        )
        .await
        .unwrap();
    assert_eq!(ticked, true, "a row showing {text}");
}

async fn logout(browser: &Browser) {
    browser.click_and_wait("#logout-form [type=submit]").await;
}

/// A user who is not staff, on the team of a new course; returns the username.
fn course_team_member(server: &Server) -> String {
    use accolade::courses::{self, CourseKey};
    let db = accolade::db::Database::connect(&server.database.url, 1).unwrap();
    let mut conn = db.get().unwrap();
    let course = courses::create(
        &mut conn,
        &CourseKey::parse("course-v1:edX+Browser+2026").unwrap(),
        "Browsing the Web",
    )
    .unwrap();
    let hash = common::shared_hash();
    let user = accolade::auth::users::create(
        &mut conn,
        &accolade::auth::users::NewUser::new("teacher", "teacher@example.com", &hash),
    )
    .unwrap();
    common::give_course_role(&mut conn, user, course.id, "staff");
    "teacher".into()
}

/// The console check itself: an inline script (refused by the CSP) and a console error on
/// a real page are both reported.
#[tokio::test]
async fn the_console_check_sees_csp_violations_and_errors() {
    let server = start_server().await;
    let browser = start_browser().await;
    browser
        .goto(&format!("{}/admin/login/", server.address))
        .await;
    browser
        .script(
            "const s = document.createElement('script'); s.textContent = 'window.ran = 1;';
             document.body.appendChild(s);",
        )
        .await;
    let problems = browser.console_problems().await;
    assert!(
        problems.iter().any(|p| p["message"]
            .as_str()
            .unwrap()
            .contains("Content Security Policy")),
        "{problems:#?}"
    );
    assert_eq!(
        browser.script("return window.ran === undefined;").await,
        true
    );
    browser.script("console.error('broken');").await;
    assert!(!browser.console_problems().await.is_empty());
    browser.close().await;
}
