//! Badge image configurations through the admin, the media route and the domain rules.

mod common;
#[path = "common/images.rs"]
mod samples;

use accolade::badges::images::{self as config, BadgeImageError};
use accolade::db::schema::badge_image_configurations as configs;
use common::{TestApp, location, spawn_app};
use diesel::prelude::*;
use samples::*;

const LIST: &str = "/admin/certificates/badgeimageconfiguration/";
const ADD: &str = "/admin/certificates/badgeimageconfiguration/add/";
const RED: [u8; 4] = [220, 30, 30, 255];

fn count(app: &TestApp) -> i64 {
    configs::table.count().get_result(&mut *app.conn()).unwrap()
}

fn defaults(app: &TestApp) -> Vec<String> {
    configs::table
        .filter(configs::is_default.eq(true))
        .select(configs::mode)
        .load(&mut *app.conn())
        .unwrap()
}

/// The id and image hash of the configuration for `mode`.
fn stored(app: &TestApp, mode: &str) -> (i64, String) {
    configs::table
        .filter(configs::mode.eq(mode))
        .select((configs::id, configs::image_hash))
        .first(&mut *app.conn())
        .unwrap()
}

fn id_of(app: &TestApp, mode: &str) -> i64 {
    stored(app, mode).0
}

fn hash_of(app: &TestApp, mode: &str) -> String {
    stored(app, mode).1
}

async fn add(
    app: &TestApp,
    mode: &str,
    square: &str,
    default: bool,
    file: (&str, Vec<u8>),
) -> reqwest::Response {
    let mut fields = vec![("mode", mode), ("make_square", square)];
    if default {
        fields.push(("default", "on"));
    }
    app.post_multipart(ADD, &fields, &[("icon", file.0, file.1)])
        .await
}

/// [`add`] with a small square image, left as it is.
async fn add_small(app: &TestApp, mode: &str, default: bool, name: &str) -> reqwest::Response {
    add(app, mode, "", default, (name, png(&solid(100, 100, RED)))).await
}

#[tokio::test]
async fn a_new_site_has_the_shipped_images_and_says_to_replace_them() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let mut modes: Vec<String> = configs::table
        .select(configs::mode)
        .load(&mut *app.conn())
        .unwrap();
    modes.sort();
    assert_eq!(modes, ["honor", "professional", "verified"]);
    for page in ["/admin/", "/admin/auth/user/", LIST] {
        let html = app.get_html(page).await;
        assert!(
            html.contains("Replace the default badge images with your organization&#39;s own before any badges are issued.")
                || html.contains("Replace the default badge images with your organization's own before any badges are issued."),
            "{page}"
        );
        assert!(html.contains("honor, professional, verified"), "{page}");
    }
    // Seeding happens once: deleted shipped images do not come back.
    diesel::delete(configs::table.filter(configs::mode.eq("honor")))
        .execute(&mut *app.conn())
        .unwrap();
    let again =
        config::seed_shipped(&mut app.conn(), &accolade::images::Limits::default()).unwrap();
    assert_eq!(again, 0);

    // Replacing them (adding the mode anew replaces the shipped image) ends the warning.
    for mode in ["verified", "professional"] {
        let r = add(
            &app,
            mode,
            "",
            false,
            ("mine.png", png(&solid(100, 100, RED))),
        )
        .await;
        assert_eq!(r.status(), 302, "{mode}");
    }
    let html = app.get_html("/admin/").await;
    assert!(!html.contains("Replace the default badge images"));
}

#[tokio::test]
async fn an_upload_is_processed_listed_and_served() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let response = add(
        &app,
        "audit",
        "",
        false,
        ("photo.png", png(&solid(1000, 1000, RED))),
    )
    .await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), LIST);
    let list = app.get_html(LIST).await;
    assert!(list.contains("The badge image configuration “audit” was added successfully."));
    let hash = hash_of(&app, "audit");
    assert!(list.contains(&format!("/media/badge-images/thumbnails/{hash}.png")));
    assert!(list.contains("400×400 px"));

    let image = app.get(&format!("/media/badge-images/{hash}.png")).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.headers()["x-content-type-options"], "nosniff");
    assert!(
        image.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let bytes = image.bytes().await.unwrap();
    assert_eq!(
        accolade::digest::sha256_hex(&bytes),
        hash,
        "named by its content"
    );
    assert_eq!(decode(&bytes).dimensions(), (400, 400));

    let thumb = app
        .get(&format!("/media/badge-images/thumbnails/{hash}.png"))
        .await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(decode(&thumb.bytes().await.unwrap()).dimensions(), (64, 64));

    let unknown = "0".repeat(64);
    assert_eq!(
        app.get(&format!("/media/badge-images/{unknown}.png"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get("/media/badge-images/..%2F..%2Fetc%2Fpasswd")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/media/badge-images/{hash}.svg"))
            .await
            .status(),
        404
    );

    let id = id_of(&app, "audit");
    let form = app.get_html(&format!("{LIST}{id}/change/")).await;
    assert!(
        form.contains(&format!("/media/badge-images/{hash}.png")),
        "the current image is shown"
    );
    assert!(
        form.contains(r#"width="32" height="32""#),
        "and at favicon size"
    );
    assert!(form.contains("from “photo.png”"));
}

#[tokio::test]
async fn bad_uploads_get_a_message_beside_the_field_and_save_nothing() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let before = count(&app);
    let valid = png(&solid(100, 100, RED));
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "not square",
            "",
            png(&solid(300, 100, RED)),
            "The badge image must be square.",
        ),
        (
            "text",
            "",
            b"hello, I am text".to_vec(),
            "Upload a valid image.",
        ),
        (
            "svg",
            "",
            br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#.to_vec(),
            "Upload a valid image.",
        ),
        (
            "truncated",
            "",
            valid[..valid.len() / 2].to_vec(),
            "Upload a valid image.",
        ),
        (
            "noise",
            "",
            png(&noise(400, 400)),
            "The badge image file size must be less than 250KB.",
        ),
        (
            "too small",
            "",
            png(&solid(40, 40, RED)),
            "at least 64×64 pixels",
        ),
        (
            "claims 20000²",
            "",
            png_claiming(20_000, 20_000),
            "at most 4096×4096 pixels",
        ),
        (
            "bad square option",
            "stretch",
            valid.clone(),
            "Select a valid choice.",
        ),
    ];
    for (name, square, bytes, message) in cases {
        let response = add(&app, "audit", square, false, ("upload.png", bytes)).await;
        assert_eq!(response.status(), 200, "{name}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{name}: expected {message:?}");
        assert!(html.contains("Please correct the error"), "{name}");
        assert!(
            html.contains(r#"value="audit""#),
            "{name}: the mode is kept"
        );
    }
    assert_eq!(count(&app), before);

    // A JPEG named .png is judged by its content, and accepted.
    let response = add(
        &app,
        "audit",
        "",
        false,
        ("actually-a-jpeg.png", jpeg(&solid(100, 100, RED))),
    )
    .await;
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn oversized_uploads_are_refused_without_being_kept() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let over_limit = vec![0u8; 2 * 1024 * 1024 + 10];
    let response = add(&app, "audit", "", false, ("huge.png", over_limit)).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("The file is too large: uploads may be at most 2048 KiB."));
    assert!(html.contains(r#"value="audit""#));

    let far_over = vec![0u8; 6 * 1024 * 1024];
    let response = add(&app, "audit", "", false, ("huge.png", far_over)).await;
    assert_eq!(response.status(), 413);
    assert_eq!(count(&app), 3);
}

#[tokio::test]
async fn non_square_images_can_be_padded_or_cropped_and_previewed() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let wide = jpeg(&solid(600, 300, RED));
    let preview = app
        .post_multipart(
            ADD,
            &[
                ("mode", "audit"),
                ("make_square", "pad"),
                ("_preview", "Preview"),
            ],
            &[("icon", "wide.jpg", wide.clone())],
        )
        .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    assert!(
        html.contains(
            "Preview: this is what will be issued. Nothing is saved until you press Save."
        )
    );
    assert_eq!(count(&app), 3, "a preview saves nothing");
    let stored = html
        .split("name=\"icon_stored\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(accolade::images::is_hash(&stored));
    // Not saved yet: the staff member sees it, nobody else does, and nothing caches it.
    let preview_url = format!("/media/badge-images/{stored}.png");
    let anonymous = common::new_client()
        .get(app.url(&preview_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 404, "an unsaved upload is not public");
    let staff_view = app.get(&preview_url).await;
    assert_eq!(staff_view.headers()["cache-control"], "private, no-store");
    let shown = staff_view.bytes().await.unwrap();
    let padded = decode(&shown);
    assert_eq!(padded.dimensions(), (400, 400));
    assert_eq!(
        padded.get_pixel(200, 5).0[3],
        0,
        "transparent padding above"
    );
    assert_eq!(padded.get_pixel(200, 200).0[3], 255);

    // Saving after the preview keeps the processed image without a new upload.
    let save = app
        .post_multipart(
            ADD,
            &[
                ("mode", "audit"),
                ("make_square", "pad"),
                ("icon_stored", &stored),
                ("icon_stored_filename", "wide.jpg"),
            ],
            &[("icon", "", Vec::new())],
        )
        .await;
    assert_eq!(save.status(), 302);
    assert_eq!(hash_of(&app, "audit"), stored);
    let published = common::new_client()
        .get(app.url(&preview_url))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200, "saved, the image is public");

    let cropped = add(&app, "honor-crop", "crop", false, ("wide.jpg", wide)).await;
    assert_eq!(cropped.status(), 302);
    let bytes = app
        .get(&format!(
            "/media/badge-images/{}.png",
            hash_of(&app, "honor-crop")
        ))
        .await
        .bytes()
        .await
        .unwrap();
    let image = decode(&bytes);
    assert_eq!(image.dimensions(), (300, 300));
    assert_eq!(image.get_pixel(150, 2).0[3], 255, "cropped, not padded");
}

#[tokio::test]
async fn an_empty_file_input_on_change_keeps_the_image() {
    let app = spawn_app().await;
    app.login_superuser().await;
    add_small(&app, "audit", false, "a.png").await;
    let (id, hash) = (id_of(&app, "audit"), hash_of(&app, "audit"));
    let response = app
        .post_multipart(
            &format!("{LIST}{id}/change/"),
            &[
                ("mode", "audit-renamed"),
                ("make_square", ""),
                ("icon_stored", &hash),
            ],
            &[("icon", "", Vec::new())],
        )
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(hash_of(&app, "audit-renamed"), hash);
    let history = app.get_html(&format!("{LIST}{id}/history/")).await;
    assert!(history.contains("Changed Mode."));
}

#[tokio::test]
async fn a_second_default_is_refused_on_the_form() {
    let app = spawn_app().await;
    app.login_superuser().await;
    assert_eq!(add_small(&app, "audit", true, "a.png").await.status(), 302);
    let second = add_small(&app, "honor-plus", true, "b.png").await;
    assert_eq!(second.status(), 200);
    let html = second.text().await.unwrap();
    assert!(html.contains("There can be only one default image."));
    assert!(
        html.contains("name=\"icon_stored\" value=\""),
        "the processed upload is kept for the next try"
    );
    assert_eq!(defaults(&app), ["audit"]);

    let duplicate = add_small(&app, "audit", false, "c.png").await;
    assert!(
        duplicate
            .text()
            .await
            .unwrap()
            .contains("Badge image configuration with this Mode already exists.")
    );
    let bad_mode = add_small(&app, "Verified Mode", false, "c.png").await;
    assert!(
        bad_mode
            .text()
            .await
            .unwrap()
            .contains("is not a valid mode")
    );
}

#[tokio::test]
async fn make_default_moves_the_flag_and_needs_one_selection() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let (honor, verified) = (
        id_of(&app, "honor").to_string(),
        id_of(&app, "verified").to_string(),
    );
    let r = app
        .post_form(
            LIST,
            &[("action", "make_default"), ("_selected_action", &honor)],
        )
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(defaults(&app), ["honor"]);
    app.post_form(
        LIST,
        &[("action", "make_default"), ("_selected_action", &verified)],
    )
    .await;
    assert_eq!(defaults(&app), ["verified"]);
    let list = app.get_html(LIST).await;
    assert!(list.contains("“verified” is now the default badge image."));

    app.post_form(
        LIST,
        &[
            ("action", "make_default"),
            ("_selected_action", &honor),
            ("_selected_action", &verified),
        ],
    )
    .await;
    assert!(
        app.get_html(LIST)
            .await
            .contains("Select exactly one configuration")
    );
    assert_eq!(defaults(&app), ["verified"]);
    let history = app.get_html(&format!("{LIST}{verified}/history/")).await;
    assert!(history.contains("Make default (bulk action)."));

    // The same row selected twice is one selection.
    app.post_form(
        LIST,
        &[
            ("action", "make_default"),
            ("_selected_action", &honor),
            ("_selected_action", &honor),
        ],
    )
    .await;
    assert_eq!(defaults(&app), ["honor"]);

    // A configuration deleted since the list was shown leaves the default where it is.
    app.post_form(
        LIST,
        &[("action", "make_default"), ("_selected_action", "999999")],
    )
    .await;
    assert_eq!(defaults(&app), ["honor"], "the default survives");
    assert!(app.get_html(LIST).await.contains("no longer exists"));
}

#[tokio::test]
async fn concurrent_default_changes_leave_exactly_one_default() {
    let app = spawn_app().await;
    app.create_user("root", true, true);
    let ids: Vec<String> = ["honor", "verified", "professional"]
        .iter()
        .map(|m| id_of(&app, m).to_string())
        .collect();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let client = common::new_client();
        assert_eq!(
            app.login_with(&client, "root", common::PASSWORD)
                .await
                .status(),
            302
        );
        let token = app.csrf_token_for(&client).await;
        clients.push((client, token));
    }
    for round in 0..5 {
        let requests = clients.iter().zip(&ids).map(|((client, token), id)| {
            client
                .post(app.url(LIST))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("action", "make_default"),
                    ("_selected_action", id.as_str()),
                ])
                .send()
        });
        for response in futures_util::future::join_all(requests).await {
            assert_eq!(
                response.unwrap().status(),
                302,
                "round {round}: never a 500"
            );
        }
        assert_eq!(defaults(&app).len(), 1, "round {round}");
    }

    // Concurrent saves of new defaults: one wins, the others get the form error.
    diesel::update(configs::table)
        .set(configs::is_default.eq(false))
        .execute(&mut *app.conn())
        .unwrap();
    let image = png(&solid(100, 100, RED));
    let requests = clients.iter().enumerate().map(|(i, (client, token))| {
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token.clone())
            .text("mode", format!("race-{i}"))
            .text("make_square", "")
            .text("default", "on")
            .part(
                "icon",
                reqwest::multipart::Part::bytes(image.clone()).file_name("r.png"),
            );
        client.post(app.url(ADD)).multipart(form).send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 302).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(defaults(&app).len(), 1);
}

#[tokio::test]
async fn image_for_mode_falls_back_to_the_default() {
    let app = spawn_app().await;
    let mut conn = app.conn();
    assert_eq!(
        config::image_for_mode(&mut conn, "verified").unwrap().mode,
        "verified"
    );
    match config::image_for_mode(&mut conn, "audit") {
        Err(BadgeImageError::NotConfigured(mode)) => assert_eq!(mode, "audit"),
        other => panic!("expected NotConfigured, got {other:?}"),
    }
    let honor = configs::table
        .filter(configs::mode.eq("honor"))
        .select(configs::id)
        .first::<i64>(&mut *conn)
        .unwrap();
    config::make_default(&mut conn, honor).unwrap();
    let fallback = config::image_for_mode(&mut conn, "audit").unwrap();
    assert_eq!(fallback.mode, "honor");
    assert!(fallback.is_default && fallback.is_shipped);
    assert_eq!(
        BadgeImageError::NotConfigured("audit".into()).to_string(),
        "no badge image configured for mode \"audit\" and no default image"
    );
}

#[tokio::test]
async fn the_new_pages_check_csrf_and_permissions() {
    let app = spawn_app().await;
    let staff = app.create_user("staff", true, false);
    app.grant(staff, "certificates", "view_badgeimageconfiguration");
    app.login("staff").await;
    assert_eq!(app.get(LIST).await.status(), 200);
    assert_eq!(app.get(ADD).await.status(), 403);
    let r = add_small(&app, "audit", false, "a.png").await;
    assert_eq!(r.status(), 403);
    let honor = id_of(&app, "honor");
    let form = app.get_html(&format!("{LIST}{honor}/change/")).await;
    assert!(form.contains("View badge image configuration") && !form.contains("name=\"_save\""));
    let act = app
        .post_form(
            LIST,
            &[
                ("action", "make_default"),
                ("_selected_action", &honor.to_string()),
            ],
        )
        .await;
    assert_eq!(act.status(), 403);

    let no_token = reqwest::multipart::Form::new().text("mode", "audit").part(
        "icon",
        reqwest::multipart::Part::bytes(png(&solid(100, 100, RED))).file_name("a.png"),
    );
    let r = app
        .client
        .post(app.url(ADD))
        .multipart(no_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(count(&app), 3);
}

#[tokio::test]
async fn an_icc_profile_bomb_and_the_largest_image_go_through_the_cpu_pool() {
    // Built first: seconds of work on the test's one thread would let the server close
    // the client's idle connection under it.
    let largest = png16(4096, 4096, [50_000, 9_000, 9_000, 65_535]);
    let app = spawn_app().await;
    app.login_superuser().await;
    // About 1 MB inflating to 1 GiB: its profile is skipped unread, the image is fine.
    let bomb = png_with_compressed_chunk(&solid(100, 100, RED), b"iCCP", 1 << 30);
    let response = add(&app, "audit", "", false, ("bomb.png", bomb)).await;
    assert_eq!(response.status(), 302);
    let hash = hash_of(&app, "audit");
    let stored = app
        .get(&format!("/media/badge-images/{hash}.png"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!chunk_types(&stored).contains(&"iCCP".to_string()));

    // The largest accepted upload, previewed (processed, stored, not saved).
    let response = app
        .post_multipart(
            ADD,
            &[("mode", "verified"), ("make_square", ""), ("_preview", "1")],
            &[("icon", "largest.png", largest)],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Preview: this is what will be issued."),
        "{html}"
    );
    assert_eq!(
        count(&app),
        4,
        "three shipped and the bomb's: nothing saved"
    );
}

#[tokio::test]
async fn unique_refusals_are_named_by_their_index_on_both_backends() {
    let app = spawn_app().await;
    let hash = hash_of(&app, "verified");
    let mut conn = app.conn();
    let insert = |conn: &mut accolade::db::DbConnection, mode: &str, default: bool| {
        diesel::insert_into(configs::table)
            .values((
                configs::mode.eq(mode),
                configs::image_hash.eq(&hash),
                configs::is_default.eq(default),
                configs::uploaded_at.eq(accolade::db::now()),
                configs::updated_at.eq(accolade::db::now()),
            ))
            .execute(conn)
    };
    let name = |conn: &mut accolade::db::DbConnection, error| {
        accolade::db::violated_constraint(conn, &error).unwrap()
    };
    let twice = insert(&mut conn, "verified", false).unwrap_err();
    assert_eq!(
        name(&mut conn, twice).as_deref(),
        Some("badge_image_configurations_mode_key")
    );
    insert(&mut conn, "audit", true).unwrap();
    let second = insert(&mut conn, "masters", true).unwrap_err();
    assert_eq!(
        name(&mut conn, second).as_deref(),
        Some("badge_image_configurations_one_default")
    );
    assert_eq!(name(&mut conn, diesel::result::Error::NotFound), None);
}
