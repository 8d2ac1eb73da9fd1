//! The generic admin, exercised through the users and groups pages.

mod common;

use accolade::db::schema::{admin_log, groups, users};
use common::{action_form, location, new_client, spawn_app};
use diesel::prelude::*;

/// (URL, whether it needs view, add, change or delete on the model it names)
fn admin_urls(user_id: i64, group_id: i64) -> Vec<(String, &'static str, &'static str)> {
    let mut urls = vec![];
    for (model, id) in [("user", user_id), ("group", group_id)] {
        urls.push((format!("/admin/auth/{model}/"), model, "view"));
        urls.push((format!("/admin/auth/{model}/add/"), model, "add"));
        urls.push((format!("/admin/auth/{model}/{id}/change/"), model, "view"));
        urls.push((format!("/admin/auth/{model}/{id}/history/"), model, "view"));
        urls.push((format!("/admin/auth/{model}/{id}/delete/"), model, "delete"));
    }
    urls.push((
        format!("/admin/auth/user/{user_id}/password/"),
        "user",
        "change",
    ));
    urls
}

#[tokio::test]
async fn the_permission_matrix_holds_on_every_admin_url() {
    let app = spawn_app().await;
    let target = app.create_user("target", false, false);
    let group_id: i64 = diesel::insert_into(groups::table)
        .values(groups::name.eq("editors"))
        .returning(groups::id)
        .get_result(&mut *app.conn())
        .unwrap();
    app.create_user("learner", false, false);
    app.create_user("bare", true, false);
    let some = app.create_user("some", true, false);
    app.grant(some, "auth", "view_user");
    app.grant(some, "auth", "change_group");
    app.create_user("root", true, true);
    let urls = admin_urls(target, group_id);

    // Anonymous and non-staff users are sent to the login page everywhere.
    for who in [None, Some("learner")] {
        let client = new_client();
        if let Some(name) = who {
            assert_eq!(
                app.login_status(&client, name).await,
                200,
                "non-staff refused"
            );
        }
        for (url, _, _) in urls.iter().chain([&("/admin/".to_string(), "", "")]) {
            let response = app.get_with(&client, url).await;
            assert_eq!(response.status(), 302, "{who:?} {url}");
            assert!(
                location(&response).starts_with("/admin/login/"),
                "{who:?} {url}"
            );
        }
    }

    let allowed = |user: &str, model: &str, need: &str| match user {
        "root" => true,
        "some" => matches!(
            (model, need),
            ("user", "view") | ("group", "view" | "change")
        ),
        _ => false,
    };
    for user in ["bare", "some", "root"] {
        let client = new_client();
        assert_eq!(app.login_status(&client, user).await, 302);
        assert_eq!(app.get_with(&client, "/admin/").await.status(), 200);
        for (url, model, need) in &urls {
            let status = app.get_with(&client, url).await.status();
            let expected = if allowed(user, model, need) { 200 } else { 403 };
            assert_eq!(status, expected, "{user} GET {url}");
        }
        // Unsafe requests are checked too, not just the pages.
        let token = app.csrf_token_for(&client).await;
        let add = client
            .post(app.url("/admin/auth/group/add/"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("name", &format!("made-by-{user}")),
            ])
            .send()
            .await
            .unwrap();
        let expected = if user == "root" { 302 } else { 403 };
        assert_eq!(add.status(), expected, "{user} POST add group");
        let delete = client
            .post(app.url(&format!("/admin/auth/user/{target}/delete/")))
            .form(&[("csrf_token", token.as_str()), ("post", "yes")])
            .send()
            .await
            .unwrap();
        if user != "root" {
            assert_eq!(delete.status(), 403, "{user} POST delete user");
        }
    }
}

#[tokio::test]
async fn the_index_shows_only_what_the_user_may_reach() {
    let app = spawn_app().await;
    let some = app.create_user("some", true, false);
    app.grant(some, "auth", "view_user");
    app.login("some").await;
    let html = app.get_html("/admin/").await;
    assert!(html.contains(r#"href="/admin/auth/user/""#));
    assert!(
        html.contains(">View<"),
        "view-only users see View, not Change"
    );
    assert!(!html.contains("/admin/auth/user/add/"));
    assert!(!html.contains("/admin/auth/group/"));

    let bare = new_client();
    app.create_user("bare", true, false);
    app.login_with(&bare, "bare", common::PASSWORD).await;
    let html = app.text_with(&bare, "/admin/").await;
    assert!(html.contains("You don’t have permission to view or edit anything."));

    let root = new_client();
    app.create_user("root", true, true);
    app.login_with(&root, "root", common::PASSWORD).await;
    let html = app.text_with(&root, "/admin/").await;
    for link in [
        "/admin/auth/user/add/",
        "/admin/auth/group/add/",
        "Authentication and Authorization",
    ] {
        assert!(html.contains(link), "{link}");
    }
}

#[tokio::test]
async fn add_change_delete_are_written_to_history() {
    let app = spawn_app().await;
    app.login_superuser().await;

    let add = app
        .post_form(
            "/admin/auth/group/add/",
            &[("name", "editors"), ("_save", "Save")],
        )
        .await;
    assert_eq!(add.status(), 302);
    assert_eq!(location(&add), "/admin/auth/group/");
    let list = app.get_html("/admin/auth/group/").await;
    assert!(list.contains("The group “editors” was added successfully."));
    let id: i64 = groups::table
        .select(groups::id)
        .first(&mut *app.conn())
        .unwrap();

    let change = app
        .post_form(
            &format!("/admin/auth/group/{id}/change/"),
            &[("name", "reviewers"), ("_continue", "1")],
        )
        .await;
    assert_eq!(location(&change), format!("/admin/auth/group/{id}/change/"));
    let form = app
        .get_html(&format!("/admin/auth/group/{id}/change/"))
        .await;
    assert!(form.contains("was changed successfully. You may edit it again below."));

    let confirm = app
        .get_html(&format!("/admin/auth/group/{id}/delete/"))
        .await;
    assert!(confirm.contains("Are you sure you want to delete the group “reviewers”?"));
    let delete = app
        .post_form(
            &format!("/admin/auth/group/{id}/delete/"),
            &[("post", "yes")],
        )
        .await;
    assert_eq!(delete.status(), 302);
    assert_eq!(
        groups::table
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap(),
        0
    );

    let history = app
        .get_html(&format!("/admin/auth/group/{id}/history/"))
        .await;
    for entry in ["Added.", "Changed Name.", "Deleted.", "root"] {
        assert!(history.contains(entry), "{entry}");
    }
    let flags: Vec<i32> = admin_log::table
        .order(admin_log::id)
        .select(admin_log::action_flag)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(flags, vec![1, 2, 3]);
    let index = app.get_html("/admin/").await;
    assert!(
        index.contains("reviewers"),
        "recent actions list the object"
    );
}

#[tokio::test]
async fn invalid_forms_show_errors_beside_fields_and_save_nothing() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let response = app
        .post_form(
            "/admin/auth/user/add/",
            &[
                ("username", "bad name!"),
                ("email", "not-an-email"),
                ("password1", "a"),
                ("password2", "b"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Please correct the errors below."));
    assert!(html.contains("Enter a valid username."));
    assert!(html.contains("Enter a valid email address."));
    assert!(html.contains("The two password fields didn’t match."));
    assert!(!html.contains(r#"value="a""#), "passwords are never echoed");
    assert_eq!(
        users::table
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap(),
        1
    );

    let duplicate = app
        .post_form(
            "/admin/auth/user/add/",
            &[
                ("username", "root"),
                ("password1", common::PASSWORD),
                ("password2", common::PASSWORD),
            ],
        )
        .await;
    assert!(
        common::text_of(duplicate)
            .await
            .contains("A user with that username already exists.")
    );

    let ok = app
        .post_form(
            "/admin/auth/user/add/",
            &[
                ("username", "newbie"),
                ("password1", common::PASSWORD),
                ("password2", common::PASSWORD),
            ],
        )
        .await;
    assert_eq!(ok.status(), 302);
    assert!(
        location(&ok).ends_with("/change/"),
        "users continue to the full form after add"
    );
}

#[tokio::test]
async fn only_superusers_grant_rights() {
    let app = spawn_app().await;
    let editor = app.create_user("editor", true, false);
    app.grant(editor, "auth", "change_user");
    app.login("editor").await;
    let form = app
        .get_html(&format!("/admin/auth/user/{editor}/change/"))
        .await;
    assert!(form.contains("Only superusers may change this."));
    let response = app
        .post_form(
            &format!("/admin/auth/user/{editor}/change/"),
            &[
                ("username", "editor"),
                ("is_active", "on"),
                ("is_staff", "on"),
                ("is_superuser", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 302);
    let is_superuser: bool = users::table
        .find(editor)
        .select(users::is_superuser)
        .first(&mut *app.conn())
        .unwrap();
    assert!(!is_superuser, "the superuser flag was ignored");
}

#[tokio::test]
async fn the_user_changelist_searches_sorts_filters_and_pages() {
    let app = spawn_app().await;
    app.login_superuser().await;
    {
        let hash = common::shared_hash();
        let mut conn = app.conn();
        for i in 0..130 {
            let name = format!("user{i:03}");
            let email = if i % 10 == 0 {
                format!("{name}@big.example")
            } else {
                format!("{name}@small.example")
            };
            let mut new = accolade::auth::users::NewUser::new(&name, &email, &hash);
            new.is_staff = i % 2 == 0;
            accolade::auth::users::create(&mut conn, &new).unwrap();
        }
        diesel::update(users::table.filter(users::username.eq("user007")))
            .set((
                users::first_name.eq("Ada"),
                users::last_name.eq("Lovelace King"),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    let first = app.get_html("/admin/auth/user/").await;
    assert_eq!(
        first.matches("name=\"_selected_action\"").count(),
        100,
        "100 a page"
    );
    assert!(first.contains("131 users"));
    let second = app.get_html("/admin/auth/user/?p=2").await;
    assert_eq!(second.matches("name=\"_selected_action\"").count(), 31);

    // Every word must match some field; quoted phrases stay whole. Filters combine with
    // search (the staff filter).
    for (query, shown, why) in [
        (
            "q=big+user01",
            "1 user (131 total)",
            "only user010 has both",
        ),
        (
            "q=%22lovelace+king%22",
            "1 user (131 total)",
            "a quoted phrase",
        ),
        (
            "q=%22king+lovelace%22",
            "0 users (131 total)",
            "a phrase stays whole",
        ),
        ("q=%25", "0 users (131 total)", "% is literal"),
        (
            "is_staff__exact=1&q=big",
            "13 users (131 total)",
            "user000..user120 step 10, all even",
        ),
    ] {
        let html = app.get_html(&format!("/admin/auth/user/?{query}")).await;
        assert!(html.contains(shown), "{query}: {why}");
    }

    // Sorting by username descending, and the header links keep the search.
    let sorted = app.get_html("/admin/auth/user/?o=-1").await;
    let first_row = sorted.find("user129").unwrap();
    assert!(first_row < sorted.find("user128").unwrap());
    let searched = app.get_html("/admin/auth/user/?q=small&o=1").await;
    assert!(searched.contains("q=small"), "sort links keep the search");

    // Unknown filters are refused with a message (which does not name them), not applied.
    let unknown = app.get("/admin/auth/user/?password__startswith=x").await;
    assert_eq!(unknown.status(), 302);
    let back = app.get_html(&location(&unknown)).await;
    assert!(back.contains("Unknown filters were ignored."));
    assert!(!back.contains("password__startswith"));
}

#[tokio::test]
async fn changelist_filters_survive_a_save() {
    let app = spawn_app().await;
    app.login_superuser().await;
    app.post_form("/admin/auth/group/add/", &[("name", "editors")])
        .await;
    let list = app.get_html("/admin/auth/group/?q=edit").await;
    assert!(list.contains("_changelist_filters=q%3Dedit"));
    let id: i64 = groups::table
        .select(groups::id)
        .first(&mut *app.conn())
        .unwrap();
    let saved = app
        .post_form(
            &format!("/admin/auth/group/{id}/change/"),
            &[("name", "editors2"), ("_changelist_filters", "q=edit")],
        )
        .await;
    assert_eq!(location(&saved), "/admin/auth/group/?q=edit");
}

#[tokio::test]
async fn delete_selected_asks_first_and_lists_related_objects() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let a = app.create_user("alpha", false, false);
    let b = app.create_user("beta", false, false);
    let gid: i64 = diesel::insert_into(groups::table)
        .values(groups::name.eq("editors"))
        .returning(groups::id)
        .get_result(&mut *app.conn())
        .unwrap();
    diesel::insert_into(accolade::db::schema::user_groups::table)
        .values((
            accolade::db::schema::user_groups::user_id.eq(a),
            accolade::db::schema::user_groups::group_id.eq(gid),
        ))
        .execute(&mut *app.conn())
        .unwrap();

    let nothing = app
        .post_form("/admin/auth/user/", &[("action", "delete_selected")])
        .await;
    assert_eq!(nothing.status(), 302);
    let back = app.get_html("/admin/auth/user/").await;
    assert!(back.contains(
        "Items must be selected in order to perform actions on them. No items have been changed."
    ));

    let (a_s, b_s) = (a.to_string(), b.to_string());
    let selected = action_form("delete_selected", &[&a_s, &b_s]);
    let confirm = app.post_form("/admin/auth/user/", &selected).await;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(html.contains("Are you sure you want to delete the selected users?"));
    assert!(html.contains("Group membership: alpha in editors"));
    assert_eq!(
        users::table
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap(),
        3,
        "nothing deleted yet"
    );

    let confirmed = [selected, vec![("post", "yes")]].concat();
    let done = app.post_form("/admin/auth/user/", &confirmed).await;
    assert_eq!(done.status(), 302);
    assert!(
        app.get_html("/admin/auth/user/")
            .await
            .contains("Successfully deleted 2 users.")
    );
    assert_eq!(
        users::table
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn user_supplied_text_is_escaped() {
    let app = spawn_app().await;
    app.login_superuser().await;
    app.post_form(
        "/admin/auth/group/add/",
        &[("name", "<script>alert(1)</script>")],
    )
    .await;
    let list = app.get_html("/admin/auth/group/").await;
    assert!(!list.contains("<script>alert(1)</script>"));
    assert!(list.contains("&#60;script&#62;") || list.contains("&lt;script&gt;"));
    let search = app
        .get_html("/admin/auth/group/?q=%22%3E%3Cscript%3E")
        .await;
    assert!(!search.contains("\"><script>"));
}

#[tokio::test]
async fn a_superuser_sets_another_users_password() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let id = app.create_user("alice", true, false);
    let new_password = "quartz-lantern-meadow-7";
    let response = app
        .post_form(
            &format!("/admin/auth/user/{id}/password/"),
            &[
                ("new_password1", new_password),
                ("new_password2", new_password),
            ],
        )
        .await;
    assert_eq!(response.status(), 302);
    let client = new_client();
    assert_eq!(
        app.login_with(&client, "alice", new_password)
            .await
            .status(),
        302
    );
    let history = app
        .get_html(&format!("/admin/auth/user/{id}/history/"))
        .await;
    assert!(history.contains("Changed Password."));
}

#[tokio::test]
async fn a_user_delete_page_names_everything_that_goes_with_the_user() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let temp = app.create_user("temp", false, false);
    app.create_token_as_is(temp).await;
    let key = "course-v1:Org+Temp+2026";
    accolade::courses::create(
        &mut app.conn(),
        &accolade::courses::CourseKey::parse(key).unwrap(),
        "Temp",
    )
    .unwrap();
    app.give_course_role(temp, app.course_id(key), "staff");
    let page = app
        .get_html(&format!("/admin/auth/user/{temp}/delete/"))
        .await;
    assert!(page.contains("Service token: LMS"), "{page}");
    assert!(
        page.contains(&format!("Course team role: staff on {key}")),
        "{page}"
    );
}

#[tokio::test]
async fn an_object_that_is_not_there_sends_back_to_the_index_with_a_warning() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let gone = app.create_user("gone", false, false);
    diesel::delete(users::table.find(gone))
        .execute(&mut *app.conn())
        .unwrap();
    for page in ["change", "delete", "history"] {
        let response = app.get(&format!("/admin/auth/user/{gone}/{page}/")).await;
        assert_eq!(response.status(), 302, "{page}");
        assert_eq!(location(&response), "/admin/", "{page}");
        let index = app.get_html("/admin/").await;
        let warning = format!("User with ID “{gone}” doesn’t exist. Perhaps it was deleted?");
        assert!(index.contains(&warning), "{page}: {index}");
    }
    // A change posted for it meanwhile saves nothing and says the same.
    let posted = app
        .post_form(
            &format!("/admin/auth/user/{gone}/change/"),
            &[("username", "gone")],
        )
        .await;
    assert_eq!(location(&posted), "/admin/");
    assert!(
        app.get_html("/admin/")
            .await
            .contains("Perhaps it was deleted?")
    );
}

#[tokio::test]
async fn an_admin_may_delete_their_own_account() {
    let app = spawn_app().await;
    let me = app.login_superuser().await;
    let deleted = app
        .post_form(
            &format!("/admin/auth/user/{me}/delete/"),
            &[("post", "yes")],
        )
        .await;
    assert_eq!(deleted.status(), 302);
    let mut conn = app.conn();
    let left: i64 = users::table
        .filter(users::id.eq(me))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(left, 0);
    // The entry outlives its author (whose id the database then forgets).
    let logged: i64 = admin_log::table
        .filter(admin_log::action_flag.eq(3))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(logged, 1);
}

#[tokio::test]
async fn every_model_that_offers_deleting_can_preview_and_delete() {
    use accolade::auth::permissions::Action;
    let app = spawn_app().await;
    let site = app.admin_site();
    let mut conn = app.conn();
    for (_, models) in site.apps() {
        for model in models.iter().filter(|m| m.allows(Action::Delete)) {
            let name = model.info().model;
            // Declaring Delete without the hooks behind it fails here, not on a user's page.
            let nothing = [String::from("0")];
            assert!(
                model
                    .delete_preview(&mut conn, &nothing)
                    .unwrap()
                    .is_empty(),
                "{name}"
            );
            assert_eq!(model.delete(&mut conn, &nothing).unwrap(), 0, "{name}");
        }
    }
}
