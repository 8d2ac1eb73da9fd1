//! Seeds a database for the load harness (`bench/load.sh`): 100 courses, 5 badge image
//! configurations, 200 frozen badge classes, 100,000 learners and 200,000 assertions
//! spread over the last 30 days, a superuser and a service token. Prints the token's
//! secret as `TOKEN=…`. Reads `DATABASE_URL`; `LOAD_PASSWORD` is the superuser's password.
//!
//! Rows are written with multi-row INSERTs in one transaction per table (plain SQL that
//! both backends take), so seeding takes seconds, not minutes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use accolade::auth::{password, service_tokens, users};
use accolade::courses::{self, CourseKey};
use accolade::db::DbConnection;
use accolade::images::{Limits, SquareMode, process};
use diesel::prelude::*;
use image::{ImageEncoder, Rgb, RgbImage};

const COURSES: usize = 100;
const LEARNERS: usize = 100_000;
const MODES: [&str; 2] = ["honor", "verified"];
const CHUNK: usize = 500;

fn png(color: [u8; 3]) -> Vec<u8> {
    let image = RgbImage::from_pixel(256, 256, Rgb(color));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(image.as_raw(), 256, 256, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// Runs `INSERT INTO {head} VALUES …` for the rows, `CHUNK` at a time, in one transaction.
fn insert_rows(conn: &mut DbConnection, head: &str, rows: impl Iterator<Item = String>) {
    let rows: Vec<String> = rows.collect();
    accolade::db::write_transaction(conn, |conn| {
        for chunk in rows.chunks(CHUNK) {
            diesel::sql_query(format!("INSERT INTO {head} VALUES {}", chunk.join(",")))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .expect("seed rows");
}

fn course_key(n: usize) -> String {
    format!("course-v1:Load+C{n:03}+2026")
}

fn main() {
    let mut values: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k == "DATABASE_URL" || k.starts_with("ACCOLADE_"))
        .collect();
    values
        .entry("ACCOLADE_SECRET_KEY".into())
        .or_insert_with(|| "load-harness-secret-key-0123456789-abcdefgh".into());
    let config = accolade::config::Config::from_values(&values).expect("configuration");
    let prepared = accolade::prepare(config).expect("prepare the database");
    let mut conn = prepared.db.get().expect("connection");
    let started = std::time::Instant::now();

    let secret = std::env::var("LOAD_PASSWORD").expect("LOAD_PASSWORD");
    let hash = password::hash(&secret);
    let admin = users::create(
        &mut conn,
        &users::NewUser::superuser("loadadmin", "", &hash),
    )
    .expect("superuser");
    let lms = users::create(&mut conn, &users::NewUser::new("lms", "", &hash)).expect("lms");
    accolade::badging::grant_lms_permissions(&mut conn, lms).expect("the LMS's permissions");
    let (_, token) = service_tokens::create(&mut conn, "load", lms).expect("token");
    let _ = admin;

    for n in 0..COURSES {
        courses::create(
            &mut conn,
            &CourseKey::parse(&course_key(n)).unwrap(),
            &format!("Load course {n}"),
        )
        .expect("course");
    }
    // Two more modes besides the three shipped ones: five configurations, one default.
    let limits = Limits::default();
    for (mode, color, default) in [
        ("audit", [30, 120, 200], false),
        ("masters", [200, 120, 30], true),
    ] {
        let image = process(&png(color), SquareMode::Refuse, &limits).expect("image");
        accolade::images::store::save(&mut conn, &image).expect("store");
        diesel::sql_query(format!(
            "INSERT INTO badge_image_configurations (mode, image_hash, is_default, is_shipped, original_filename, uploaded_by, uploaded_at, updated_at) \
             VALUES ('{mode}', '{}', {default}, FALSE, '{mode}.png', 'loadadmin', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
            image.hash
        ))
        .execute(&mut conn)
        .expect("configuration");
    }
    let class_image = process(&png([90, 90, 90]), SquareMode::Refuse, &limits).unwrap();
    accolade::images::store::save(&mut conn, &class_image).unwrap();
    insert_rows(
        &mut conn,
        "badge_classes (slug, issuing_component, display_name, course_id, description, criteria, mode, image_hash, backend_id, frozen_at, created_at)",
        (0..COURSES).flat_map(|n| {
            let hash = class_image.hash.clone();
            MODES.iter().map(move |mode| {
                format!(
                    "('load_{n}_{mode}', '', 'Load course {n}', '{}', 'Completed the course', 'https://lms.example/about', '{mode}', '{hash}', 'class{n}{mode}', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
                    course_key(n)
                )
            })
        }),
    );
    insert_rows(
        &mut conn,
        "learners (username, email, created_at, updated_at)",
        (0..LEARNERS).map(|i| {
            format!("('learner{i}', 'learner{i}@example.com', '2026-11-01 00:00:00', '2026-11-01 00:00:00')")
        }),
    );
    let first_learner: i64 =
        diesel::sql_query("SELECT MIN(id) AS id FROM learners WHERE username LIKE 'learner%'")
            .get_result::<MinId>(&mut conn)
            .expect("learner ids")
            .id;
    let first_class: i64 =
        diesel::sql_query("SELECT MIN(id) AS id FROM badge_classes WHERE slug LIKE 'load_%'")
            .get_result::<MinId>(&mut conn)
            .expect("class ids")
            .id;
    let today = accolade::db::now().date();
    insert_rows(
        &mut conn,
        "badge_assertions (public_id, learner_id, badge_class_id, backend, data, image_url, assertion_url, evidence_url, recipient_salt, recipient_identity, revoked, revocation_reason, created, modified)",
        (0..LEARNERS).flat_map(|i| {
            (0..2).map(move |k| {
                // Two different courses per learner; created over the last 30 days.
                let class = first_class + (((i + k * 37) % COURSES) * 2 + k) as i64;
                let day = today - chrono::Duration::days(((i * 2 + k) % 30) as i64);
                let mut row = String::new();
                write!(
                    row,
                    "('load{i:07}{k}', {}, {class}, 'local', '{{}}', 'https://badges.example/i/{i}{k}.png', 'https://badges.example/a/{i}{k}', '', '', '', FALSE, '', '{day} 12:00:00', '{day} 12:00:00')",
                    first_learner + i as i64
                )
                .unwrap();
                row
            })
        }),
    );
    accolade::badging::stats::recount_issued(&mut conn).expect("daily counts");
    println!("TOKEN={token}");
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
}

#[derive(QueryableByName)]
struct MinId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}
