//! Courses, course teams, the Studio advanced settings page, badge classes and the frozen
//! images report.

mod common;
#[path = "common/images.rs"]
mod samples;

use accolade::badges::classes::{self, BadgeClassError, BadgeClassSpec, ImageSource};
use accolade::courses::{self, CourseKey};
use accolade::db::schema::{
    admin_log, badge_classes, badge_image_configurations as configs, courses as courses_table,
};
use common::{TestApp, action_form, location, new_client, spawn_app, spawn_app_with};
use diesel::prelude::*;
use samples::*;

const DEMO: &str = "course-v1:edX+DemoX+Demo_Course";
const OTHER: &str = "course-v1:edX+Other+2026";

fn create_course(app: &TestApp, key: &str, name: &str) -> courses::CourseId {
    courses::create(&mut app.conn(), &CourseKey::parse(key).unwrap(), name)
        .unwrap()
        .id
}

fn issue_badges(app: &TestApp, key: &str) -> bool {
    courses_table::table
        .filter(courses_table::course_id.eq(key))
        .select(courses_table::issue_badges)
        .first(&mut *app.conn())
        .unwrap()
}

fn settings_url(key: &str) -> String {
    format!("/studio/course/{key}/settings/advanced")
}

fn completion_spec(key: &str, mode: &str) -> BadgeClassSpec {
    BadgeClassSpec {
        slug: classes::course_slug(key, mode),
        issuing_component: String::new(),
        display_name: "Demo course".into(),
        description: classes::badge_description("Demo course", mode, None, None),
        criteria: format!("https://lms.example/courses/{key}/about"),
        mode: mode.into(),
        course_id: Some(key.into()),
        image: ImageSource::ForMode(mode.into()),
    }
}

/// Creates and freezes the course's badge class for `mode`, as the backend will.
fn freeze(app: &TestApp, key: &str, mode: &str) -> classes::BadgeClass {
    let mut conn = app.conn();
    let class = classes::get_badge_class(&mut conn, &completion_spec(key, mode), true)
        .unwrap()
        .unwrap();
    classes::mark_frozen(&mut conn, class.id, &format!("badgr-{mode}")).unwrap();
    class
}

#[tokio::test]
async fn courses_are_added_with_validated_keys() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let form = app.get_html("/admin/courses/course/add/").await;
    assert!(
        form.contains(r#"name="issue_badges" id="id_issue_badges" checked"#),
        "badges default to on"
    );
    for (key, message) in [
        ("", "This field is required."),
        ("not a key", "Enter a valid course key"),
        ("course-v1:edX+Demo+<script>", "Enter a valid course key"),
    ] {
        let r = app
            .post_form(
                "/admin/courses/course/add/",
                &[("course_id", key), ("display_name", "Demo")],
            )
            .await;
        assert_eq!(r.status(), 200, "{key}");
        let html = r.text().await.unwrap();
        assert!(html.contains(message), "{key}: {message}");
        assert!(!html.contains("<script>"), "escaped");
    }
    let r = app
        .post_form(
            "/admin/courses/course/add/",
            &[
                ("course_id", DEMO),
                ("display_name", "Demo"),
                ("issue_badges", "on"),
                ("modes", "audit, verified"),
                ("start_date", "2026-01-05"),
                ("end_date", "2026-03-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), 302);
    let course = courses::find_by_key(&mut app.conn(), DEMO)
        .unwrap()
        .unwrap();
    assert_eq!(course.org, "edX");
    assert_eq!(course.mode_list(), ["audit", "verified"]);
    assert!(course.issue_badges);
    assert_eq!(
        course.about_url("http://lms.example"),
        format!("http://lms.example/courses/{DEMO}/about")
    );

    let duplicate = app
        .post_form("/admin/courses/course/add/", &[("course_id", DEMO)])
        .await;
    assert!(
        common::text_of(duplicate)
            .await
            .contains("Course with this Course key already exists.")
    );
    let case = app
        .post_form(
            "/admin/courses/course/add/",
            &[("course_id", "course-v1:EDX+DemoX+Demo_Course")],
        )
        .await;
    assert_eq!(case.status(), 302, "keys are case-sensitive");
    let dates = app
        .post_form(
            "/admin/courses/course/add/",
            &[
                ("course_id", "edX/old/run"),
                ("start_date", "2026-05-01"),
                ("end_date", "2026-04-01"),
            ],
        )
        .await;
    assert!(
        common::text_of(dates)
            .await
            .contains("The end date must not be before the start date.")
    );
}

#[tokio::test]
async fn bulk_enable_and_disable_write_history() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let a = create_course(&app, DEMO, "Demo").to_string();
    let b = create_course(&app, OTHER, "Other").to_string();
    let disable = action_form("disable_badges", &[&a, &b]);
    let r = app.post_form("/admin/courses/course/", &disable).await;
    assert_eq!(r.status(), 302);
    assert!(!issue_badges(&app, DEMO) && !issue_badges(&app, OTHER));
    assert!(
        app.get_html("/admin/courses/course/")
            .await
            .contains("Badges disabled for 2 courses.")
    );
    app.post_form(
        "/admin/courses/course/",
        &[("action", "enable_badges"), ("_selected_action", &a)],
    )
    .await;
    assert!(issue_badges(&app, DEMO) && !issue_badges(&app, OTHER));
    let history = app
        .get_html(&format!("/admin/courses/course/{a}/history/"))
        .await;
    assert!(
        history.contains("Disable badges (bulk action).")
            && history.contains("Enable badges (bulk action).")
    );
    let filtered = app
        .get_html("/admin/courses/course/?issue_badges__exact=0")
        .await;
    assert!(filtered.contains(OTHER) && !filtered.contains(DEMO));
}

#[tokio::test]
async fn the_advanced_settings_page_obeys_the_role_matrix() {
    let app = spawn_app().await;
    let demo = create_course(&app, DEMO, "Demo");
    let other = create_course(&app, OTHER, "Other");
    let teacher = app.create_user("teacher", false, false);
    app.give_course_role(teacher, demo, "instructor");
    let assistant = app.create_user("assistant", false, false);
    app.give_course_role(assistant, demo, "staff");
    let stranger = app.create_user("stranger", false, false);
    app.give_course_role(stranger, other, "staff");
    let admin_with = app.create_user("admin_with", true, false);
    app.grant(admin_with, "courses", "change_course");
    app.create_user("admin_without", true, false);

    let url = settings_url(DEMO);
    let anonymous = app.get_with(&new_client(), &url).await;
    assert_eq!(anonymous.status(), 302);
    assert!(location(&anonymous).starts_with("/admin/login/?next="));

    for (user, allowed) in [
        ("teacher", true),
        ("assistant", true),
        ("stranger", false),
        ("admin_with", true),
        ("admin_without", false),
    ] {
        let client = new_client();
        assert_eq!(app.login_status(&client, user).await, 302, "{user} logs in");
        let page = app.get_with(&client, &url).await;
        assert_eq!(page.status(), if allowed { 200 } else { 403 }, "{user} GET");
        let token = app.csrf_token_for(&client).await;
        let save = client
            .post(app.url(&url))
            .form(&[("csrf_token", token.as_str()), ("issue_badges", "false")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            save.status(),
            if allowed { 302 } else { 403 },
            "{user} POST"
        );
        assert_eq!(
            app.get_with(&client, &settings_url("course-v1:no+such+course"))
                .await
                .status(),
            404,
            "{user}"
        );
        if allowed {
            assert!(!issue_badges(&app, DEMO));
            courses::set_issue_badges(&mut app.conn(), demo, true).unwrap();
        } else {
            assert!(issue_badges(&app, DEMO), "{user} changed nothing");
        }
    }
}

#[tokio::test]
async fn course_staff_see_only_their_courses_and_no_admin() {
    let app = spawn_app().await;
    let demo = create_course(&app, DEMO, "Demo");
    create_course(&app, OTHER, "Other");
    let teacher = app.create_user("teacher", false, false);
    app.give_course_role(teacher, demo, "staff");
    let login = app
        .login_with(&app.client, "teacher", common::PASSWORD)
        .await;
    assert_eq!(login.status(), 302);
    assert_eq!(location(&login), "/studio/", "course staff land in Studio");
    let studio = app.get_html("/studio/").await;
    assert!(studio.contains(DEMO) && !studio.contains(OTHER));
    assert!(studio.contains(&settings_url(DEMO)));
    let admin = app.get("/admin/").await;
    assert_eq!(admin.status(), 302, "no admin for course staff");
    let login_page = app.get_html(&location(&admin)).await;
    assert!(
        login_page.contains(
            "You are authenticated as teacher, but are not authorized to access this page."
        )
    );
    assert_eq!(app.get(&settings_url(OTHER)).await.status(), 403);
}

#[tokio::test]
async fn saving_the_setting_records_history_and_explains_what_stays() {
    let app = spawn_app().await;
    let demo = create_course(&app, DEMO, "Demo");
    let teacher = app.create_user("teacher", false, false);
    app.give_course_role(teacher, demo, "instructor");
    freeze(&app, DEMO, "verified");
    app.login_with(&app.client, "teacher", common::PASSWORD)
        .await;
    let page = app.get_html(&settings_url(DEMO)).await;
    assert!(page.contains("Issue Open Badges") && page.contains("Issue Open Badges badges for this course. Badges are generated when certificates are created."));

    let r = app
        .post_form(&settings_url(DEMO), &[("issue_badges", "false")])
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), settings_url(DEMO));
    let after = app.get_html(&settings_url(DEMO)).await;
    assert!(after.contains("Your changes have been saved."));
    assert!(after.contains("Badges already issued stay valid"));
    let message: String = admin_log::table
        .filter(admin_log::model.eq("course"))
        .select(admin_log::change_message)
        .first(&mut *app.conn())
        .unwrap();
    assert!(message.contains("Issue Open Badges"));

    for refused in [&[("issue_badges", "maybe")][..], &[]] {
        let bad = app.post_form(&settings_url(DEMO), refused).await;
        assert_eq!(bad.status(), 400, "{refused:?}");
        let page = bad.text().await.unwrap();
        assert!(
            page.contains("must be true or false"),
            "{refused:?}: {page}"
        );
    }
    // CSRF: a post without the token is refused.
    let forged = app
        .client
        .post(app.url(&settings_url(DEMO)))
        .form(&[("issue_badges", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(!issue_badges(&app, DEMO));
}

#[tokio::test]
async fn with_badging_off_the_setting_is_hidden_and_the_admin_says_so() {
    let app = spawn_app_with(&[("ENABLE_OPENBADGES", "false")]).await;
    let demo = create_course(&app, DEMO, "Demo");
    app.login_superuser().await;
    let index = app.get_html("/admin/").await;
    assert!(index.contains("Badging is off for this site"));
    let form = app
        .get_html(&format!("/admin/courses/course/{demo}/change/"))
        .await;
    assert!(!form.contains("name=\"issue_badges\""));
    let studio = app.get_html(&settings_url(DEMO)).await;
    assert!(!studio.contains("name=\"issue_badges\""));
    app.post_form(&settings_url(DEMO), &[("issue_badges", "false")])
        .await;
    assert!(issue_badges(&app, DEMO), "hidden means unchanged");
}

#[tokio::test]
async fn get_badge_class_behaves_as_upstream() {
    let app = spawn_app().await;
    create_course(&app, DEMO, "Demo");
    let mut conn = app.conn();
    let spec = completion_spec(DEMO, "verified");

    // No create: nothing, twice, and nothing written.
    assert!(
        classes::get_badge_class(&mut conn, &spec, false)
            .unwrap()
            .is_none()
    );
    assert!(
        classes::get_badge_class(&mut conn, &spec, false)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        badge_classes::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap(),
        0
    );

    // Create: with the mode's image, and the slug lowercased.
    let mut upper = spec.clone();
    upper.slug = spec.slug.to_uppercase();
    let created = classes::get_badge_class(&mut conn, &upper, true)
        .unwrap()
        .unwrap();
    assert_eq!(created.slug, spec.slug);
    let verified_image: String = configs::table
        .filter(configs::mode.eq("verified"))
        .select(configs::image_hash)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(created.image_hash, verified_image);
    assert!(!created.is_frozen());

    // Pre-existing: returned unchanged, whatever else is asked.
    let mut changed = spec.clone();
    changed.display_name = "Something else".into();
    changed.image = ImageSource::ForMode("no-such-mode".into());
    assert_eq!(
        classes::get_badge_class(&mut conn, &changed, true)
            .unwrap()
            .unwrap(),
        created
    );

    // Unique per course: the same slug without a course is another class.
    let mut unscoped = spec.clone();
    unscoped.course_id = None;
    let other = classes::get_badge_class(&mut conn, &unscoped, true)
        .unwrap()
        .unwrap();
    assert_ne!(other.id, created.id);
    assert_eq!(
        classes::get_badge_class(&mut conn, &spec, false)
            .unwrap()
            .unwrap()
            .id,
        created.id
    );

    // A course with badges off is refused, even without create.
    let course = courses::find_by_key(&mut conn, DEMO).unwrap().unwrap();
    courses::set_issue_badges(&mut conn, course.id, false).unwrap();
    for create in [true, false] {
        let err = classes::get_badge_class(&mut conn, &spec, create).unwrap_err();
        assert!(matches!(err, BadgeClassError::CourseBadgesDisabled));
        assert_eq!(err.to_string(), "This course does not have badges enabled.");
    }
}

#[tokio::test]
async fn invalid_badge_classes_are_never_written() {
    let app = spawn_app().await;
    create_course(&app, DEMO, "Demo");
    let mut conn = app.conn();
    // A non-square image in the store (the pipeline never makes one; older data might).
    let wide = png(&solid(200, 100, [1, 2, 3, 255]));
    let hash = accolade::digest::sha256_hex(&wide);
    diesel::insert_into(accolade::db::schema::stored_images::table)
        .values((
            accolade::db::schema::stored_images::hash.eq(&hash),
            accolade::db::schema::stored_images::png.eq(&wide),
            accolade::db::schema::stored_images::thumbnail.eq(&wide),
            accolade::db::schema::stored_images::width.eq(200),
            accolade::db::schema::stored_images::height.eq(100),
            accolade::db::schema::stored_images::bytes.eq(wide.len() as i32),
            accolade::db::schema::stored_images::created_at.eq(accolade::db::now()),
        ))
        .execute(&mut *conn)
        .unwrap();
    let mut spec = completion_spec(DEMO, "verified");
    spec.image = ImageSource::Stored(hash);
    match classes::get_badge_class(&mut conn, &spec, true) {
        Err(BadgeClassError::Invalid(errors)) => {
            assert_eq!(errors.get("image"), ["The badge image must be square."])
        }
        other => panic!("expected an invalid image, got {other:?}"),
    }
    let mut missing = completion_spec(DEMO, "verified");
    missing.description = String::new();
    missing.criteria = " ".into();
    match classes::get_badge_class(&mut conn, &missing, true) {
        Err(BadgeClassError::Invalid(errors)) => {
            assert_eq!(errors.get("description"), ["This field is required."]);
            assert_eq!(errors.get("criteria"), ["This field is required."]);
        }
        other => panic!("expected invalid fields, got {other:?}"),
    }
    let mut no_image = completion_spec(DEMO, "audit");
    no_image.slug = "audit-badge".into();
    assert!(matches!(
        classes::get_badge_class(&mut conn, &no_image, true),
        Err(BadgeClassError::Image(_))
    ));
    assert_eq!(
        badge_classes::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap(),
        0,
        "nothing half-written"
    );
}

#[tokio::test]
async fn a_frozen_class_keeps_its_image_and_text() {
    let app = spawn_app().await;
    app.login_superuser().await;
    create_course(&app, DEMO, "Demo");
    let class = freeze(&app, DEMO, "verified");
    let url = format!("/admin/badges/badgeclass/{}/change/", class.id);
    let form = app.get_html(&url).await;
    assert!(form.contains("the badge backend holds this class"));
    assert!(form.contains(
        r#"name="display_name" id="id_display_name" value="Demo course" maxlength="255" disabled"#
    ));
    let r = app
        .post_multipart(
            &url,
            &[
                ("display_name", "Changed"),
                ("description", "Changed"),
                ("mode", "verified-plus"),
                ("make_square", ""),
            ],
            &[("image", "x.png", png(&solid(100, 100, [9, 9, 9, 255])))],
        )
        .await;
    assert_eq!(r.status(), 302);
    let after: (String, String, String) = badge_classes::table
        .find(class.id)
        .select((
            badge_classes::display_name,
            badge_classes::image_hash,
            badge_classes::mode,
        ))
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(
        (after.0.as_str(), after.1.as_str()),
        ("Demo course", class.image_hash.as_str()),
        "held by the backend"
    );
    assert_eq!(after.2, "verified-plus", "the mode is Accolade's own");
    // Moved, not cleared: its learners' badge would have no mode to be found by.
    let cleared = app
        .post_multipart(&url, &[("mode", ""), ("make_square", "")], &[])
        .await;
    assert_eq!(cleared.status(), 200);
    assert!(cleared.text().await.unwrap().contains("cannot be cleared"));
}

#[tokio::test]
async fn the_report_shows_what_differs_and_exports_safe_csv() {
    let app = spawn_app().await;
    app.login_superuser().await;
    create_course(&app, DEMO, "=HYPERLINK(\"http://evil.example\")");
    create_course(&app, OTHER, "Other");
    freeze(&app, DEMO, "verified");
    freeze(&app, OTHER, "verified");
    freeze(&app, OTHER, "honor");
    let report = app.get_html("/admin/badges/frozen-images/").await;
    assert!(report.contains("3 of 3 frozen course badge images"));
    assert!(!report.contains("Differs from current configuration"));

    // A new image for verified: the two verified courses keep theirs, which now differ.
    let verified = configs::table
        .filter(configs::mode.eq("verified"))
        .select(configs::id)
        .first::<i64>(&mut *app.conn())
        .unwrap();
    let config_url = format!("/admin/certificates/badgeimageconfiguration/{verified}/change/");
    let panel = app.get_html(&config_url).await;
    assert!(panel.contains("2 courses:") && panel.contains(DEMO) && panel.contains(OTHER));
    let r = app
        .post_multipart(
            &config_url,
            &[("mode", "verified"), ("make_square", "")],
            &[("icon", "new.png", png(&solid(100, 100, [5, 200, 5, 255])))],
        )
        .await;
    assert_eq!(r.status(), 302);
    let list = app.get_html(&location(&r)).await;
    assert!(
        list.contains(
            "This change will not affect 2 courses whose badge images are already frozen."
        )
    );

    let differs = app.get_html("/admin/badges/frozen-images/?differs=1").await;
    assert!(differs.contains("2 of 3 frozen course badge images"));
    assert_eq!(
        differs
            .matches("Differs from current configuration")
            .count(),
        2
    );
    let same = app
        .get_html("/admin/badges/frozen-images/?differs=0&mode=honor")
        .await;
    assert!(same.contains("1 of 3"));
    let searched = app
        .get_html("/admin/badges/frozen-images/?q=other+honor")
        .await;
    assert!(searched.contains("1 of 3"));

    let csv = app.get("/admin/badges/frozen-images/?format=csv").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    assert_eq!(body.lines().count(), 4, "header and three rows");
    assert!(
        body.contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""),
        "{body}"
    );
    assert!(!body.contains(",=HYPERLINK"));

    // Courses list which modes are frozen, and filter by it.
    let courses_page = app.get_html("/admin/courses/course/?frozen__exact=1").await;
    assert!(courses_page.contains("honor, verified"));
}

#[tokio::test]
async fn the_report_needs_the_view_permission() {
    let app = spawn_app().await;
    let viewer = app.create_user("viewer", true, false);
    app.create_user("nobody", true, false);
    app.grant(viewer, "badges", "view_badgeclass");
    let client = new_client();
    app.login_with(&client, "viewer", common::PASSWORD).await;
    assert_eq!(
        app.get_with(&client, "/admin/badges/frozen-images/")
            .await
            .status(),
        200
    );
    assert!(
        app.text_with(&client, "/admin/")
            .await
            .contains("Frozen badge images")
    );
    let other = new_client();
    app.login_with(&other, "nobody", common::PASSWORD).await;
    assert_eq!(
        app.get_with(&other, "/admin/badges/frozen-images/")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get_with(&new_client(), "/admin/badges/frozen-images/")
            .await
            .status(),
        302
    );
}

#[tokio::test]
async fn course_keys_and_badge_classes_are_unique_by_named_constraints() {
    let app = spawn_app().await;
    create_course(&app, DEMO, "Demo");
    let mut conn = app.conn();
    let named = |conn: &mut accolade::db::DbConnection, error| {
        accolade::db::violated_constraint(conn, &error).unwrap()
    };
    let again = courses::create(&mut conn, &CourseKey::parse(DEMO).unwrap(), "Again").unwrap_err();
    assert_eq!(
        named(&mut conn, again).as_deref(),
        Some("courses_course_id_key")
    );
    let spec = completion_spec(DEMO, "verified");
    let class = classes::get_badge_class(&mut conn, &spec, true)
        .unwrap()
        .unwrap();
    let copy = classes::NewBadgeClass::of(&spec, &class.image_hash)
        .insert(&mut conn)
        .unwrap_err();
    assert_eq!(
        named(&mut conn, copy).as_deref(),
        Some("badge_classes_slug_issuing_component_course_id_key")
    );
}

#[tokio::test]
async fn the_report_is_a_list_like_every_other() {
    let app = spawn_app().await;
    app.login_superuser().await;
    create_course(&app, DEMO, "Demo");
    create_course(&app, OTHER, "Other");
    let demo = freeze(&app, DEMO, "verified");
    freeze(&app, OTHER, "honor");
    // Sorted by mode, descending: verified (Demo) before honor (Other).
    let sorted = app.get_html("/admin/badges/frozen-images/?o=-3").await;
    let (verified, honor) = (sorted.find(DEMO).unwrap(), sorted.find(OTHER).unwrap());
    assert!(verified < honor, "sorted by mode, descending");
    let ascending = app.get_html("/admin/badges/frozen-images/?o=3").await;
    assert!(ascending.find(OTHER).unwrap() < ascending.find(DEMO).unwrap());
    // Each row leads to its frozen class; a viewer of classes may open it.
    let class_url = format!("/admin/badges/badgeclass/{}/change/", demo.id);
    assert!(
        sorted.contains(&format!("href=\"{class_url}\"")),
        "{sorted}"
    );
    assert_eq!(app.get(&class_url).await.status(), 200);
    // Read-only: no Add button, no bulk actions.
    assert!(!sorted.contains("addlink") && !sorted.contains("name=\"action\""));
    assert!(sorted.contains("Export CSV"));
    // Past the last page, the last page, saying so; an undeclared parameter goes back to
    // the report.
    let past = app.get_html("/admin/badges/frozen-images/?p=99").await;
    assert!(past.contains("2 of 2 frozen course badge images"), "{past}");
    assert!(
        past.contains("There is no page 99: this is the last page, 1."),
        "{past}"
    );
    let unknown = app
        .get("/admin/badges/frozen-images/?password__startswith=a")
        .await;
    assert_eq!(unknown.status(), 302);
    assert_eq!(location(&unknown), "/admin/badges/frozen-images/");
    // The export keeps the list's order.
    let csv = app
        .get("/admin/badges/frozen-images/?o=-3&format=csv")
        .await;
    let body = csv.text().await.unwrap();
    assert!(
        body.find(DEMO).unwrap() < body.find(OTHER).unwrap(),
        "{body}"
    );
}

#[tokio::test]
async fn a_second_role_on_the_same_course_breaks_the_named_key_on_both_backends() {
    use accolade::db::schema::course_roles;
    let app = spawn_app().await;
    let user = app.create_user("twice", false, false);
    let key = CourseKey::parse("course-v1:Org+Twice+2026").unwrap();
    let course = courses::create(&mut app.conn(), &key, "Twice").unwrap().id;
    app.give_course_role(user, course, "staff");
    let mut conn = app.conn();
    let again = diesel::insert_into(course_roles::table)
        .values((
            course_roles::user_id.eq(user),
            course_roles::course_id.eq(course),
            course_roles::role.eq("instructor"),
        ))
        .execute(&mut *conn)
        .unwrap_err();
    assert!(accolade::db::violates_unique(
        &mut conn,
        &again,
        &["course_roles_course_id_user_id_key"]
    ));
}

#[tokio::test]
async fn a_course_is_deleted_only_while_nothing_protects_it_whoever_deletes() {
    use accolade::badging::course_deletion::{delete_unprotected, protections};
    let app = spawn_app().await;
    let kept = create_course(&app, "course-v1:Org+Team+2026", "Team");
    let gone = create_course(&app, "course-v1:Org+Bare+2026", "Bare");
    let member = app.create_user("member", false, false);
    app.give_course_role(member, kept, "staff");
    let mut conn = app.conn();
    let found = protections(&mut conn, &[kept, gone]).unwrap();
    let team: Vec<_> = found.iter().map(|(c, p)| (c.id, p.team.len())).collect();
    assert_eq!(team, [(gone, 0), (kept, 1)], "by key: Bare, then Team");
    // The domain's delete keeps the protected course even when asked for both.
    assert_eq!(delete_unprotected(&mut conn, &[kept, gone]).unwrap(), 1);
    assert!(courses::by_id(&mut conn, kept).unwrap().is_some());
    assert!(courses::by_id(&mut conn, gone).unwrap().is_none());
}

#[tokio::test]
async fn a_class_frozen_meanwhile_is_not_rewritten_by_a_form_read_before() {
    use accolade::badges::classes::{ClassInput, NewBadgeClass};
    let app = spawn_app().await;
    create_course(&app, DEMO, "Demo");
    let class = freeze(&app, DEMO, "verified");
    // What a form read before the freeze would write: refused in the same statement.
    let mut text = ClassInput::of(&class);
    text.display_name = "Rewritten".into();
    let spec = text.spec(&class.image_hash);
    let row = NewBadgeClass::of(&spec, &class.image_hash);
    assert_eq!(row.update_unfrozen(&mut app.conn(), class.id).unwrap(), 0);
    let kept: String = badge_classes::table
        .find(class.id)
        .select(badge_classes::display_name)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(kept, "Demo course");
}
