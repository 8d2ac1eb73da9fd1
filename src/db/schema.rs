//! The one schema both backends share (the migrations keep them in step).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        first_name -> Text,
        last_name -> Text,
        email -> Text,
        password -> Text,
        is_active -> Bool,
        is_staff -> Bool,
        is_superuser -> Bool,
        must_change_password -> Bool,
        last_login -> Nullable<Timestamp>,
        date_joined -> Timestamp,
        /// NFKC and lower case: unique (see `auth::users::username_key`).
        username_key -> Text,
    }
}

diesel::table! {
    user_sessions (id) {
        id -> BigInt,
        key_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::joinable!(user_sessions -> users (user_id));

diesel::table! {
    groups (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    permissions (id) {
        id -> BigInt,
        app_label -> Text,
        model -> Text,
        codename -> Text,
        name -> Text,
    }
}

diesel::table! {
    user_groups (user_id, group_id) {
        user_id -> BigInt,
        group_id -> BigInt,
    }
}

diesel::table! {
    user_permissions (user_id, permission_id) {
        user_id -> BigInt,
        permission_id -> BigInt,
    }
}

diesel::table! {
    group_permissions (group_id, permission_id) {
        group_id -> BigInt,
        permission_id -> BigInt,
    }
}

diesel::table! {
    admin_log (id) {
        id -> BigInt,
        action_time -> Timestamp,
        user_id -> Nullable<BigInt>,
        username -> Text,
        app_label -> Text,
        model -> Text,
        object_id -> Text,
        object_repr -> Text,
        action_flag -> Integer,
        change_message -> Text,
    }
}

diesel::table! {
    site_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        username -> Text,
        client_address -> Text,
        failed_at -> Timestamp,
    }
}

diesel::joinable!(user_groups -> users (user_id));
diesel::joinable!(user_groups -> groups (group_id));
diesel::joinable!(user_permissions -> users (user_id));
diesel::joinable!(user_permissions -> permissions (permission_id));
diesel::joinable!(group_permissions -> groups (group_id));
diesel::joinable!(group_permissions -> permissions (permission_id));
diesel::joinable!(admin_log -> users (user_id));

diesel::table! {
    stored_images (hash) {
        hash -> Text,
        png -> Binary,
        thumbnail -> Binary,
        width -> Integer,
        height -> Integer,
        bytes -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    badge_image_configurations (id) {
        id -> BigInt,
        mode -> Text,
        image_hash -> Text,
        is_default -> Bool,
        is_shipped -> Bool,
        original_filename -> Text,
        uploaded_by_id -> Nullable<BigInt>,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(badge_image_configurations -> stored_images (image_hash));

diesel::table! {
    courses (id) {
        id -> BigInt,
        course_id -> Text,
        display_name -> Text,
        org -> Text,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        issue_badges -> Bool,
        modes -> Text,
        about_url -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    course_roles (id) {
        id -> BigInt,
        course_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    badge_classes (id) {
        id -> BigInt,
        slug -> Text,
        issuing_component -> Text,
        display_name -> Text,
        course_id -> Text,
        description -> Text,
        criteria -> Text,
        mode -> Text,
        image_hash -> Text,
        backend_id -> Text,
        frozen_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        creation_job -> Nullable<BigInt>,
        creation_sent_at -> Nullable<Timestamp>,
        creation_tag -> Text,
    }
}

diesel::joinable!(course_roles -> courses (course_id));
diesel::joinable!(course_roles -> users (user_id));
diesel::joinable!(badge_classes -> stored_images (image_hash));

diesel::table! {
    learners (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    award_jobs (id) {
        id -> BigInt,
        kind -> Text,
        learner_id -> BigInt,
        course_id -> Text,
        mode -> Text,
        evidence_url -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_by -> Text,
        locked_until -> Nullable<Timestamp>,
        last_error -> Text,
        assertion_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        badge_slug -> Text,
        revocation_reason -> Text,
        backfill_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    award_attempts (id) {
        id -> BigInt,
        job_id -> BigInt,
        worker -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        outcome -> Text,
        reason -> Text,
        unanswered -> Bool,
    }
}

diesel::table! {
    badge_assertions (id) {
        id -> BigInt,
        public_id -> Text,
        learner_id -> BigInt,
        badge_class_id -> BigInt,
        backend -> Text,
        data -> Text,
        image_url -> Text,
        assertion_url -> Text,
        evidence_url -> Text,
        recipient_salt -> Text,
        recipient_identity -> Text,
        baked_png -> Nullable<Binary>,
        job_id -> Nullable<BigInt>,
        revoked -> Bool,
        revocation_reason -> Text,
        created -> Timestamp,
        modified -> Timestamp,
    }
}

diesel::joinable!(award_jobs -> learners (learner_id));
diesel::joinable!(award_attempts -> award_jobs (job_id));
diesel::joinable!(badge_assertions -> learners (learner_id));
diesel::joinable!(badge_assertions -> badge_classes (badge_class_id));

diesel::table! {
    service_tokens (id) {
        id -> BigInt,
        name -> Text,
        user_id -> BigInt,
        token_prefix -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(service_tokens -> users (user_id));

diesel::table! {
    api_events (id) {
        id -> BigInt,
        event_id -> Text,
        kind -> Text,
        payload -> Text,
        job_ids -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    enrollments (id) {
        id -> BigInt,
        learner_id -> BigInt,
        course_id -> Text,
        mode -> Text,
        is_active -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    certificates (id) {
        id -> BigInt,
        learner_id -> BigInt,
        course_id -> Text,
        mode -> Text,
        status -> Text,
        verify_uuid -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(enrollments -> learners (learner_id));
diesel::joinable!(certificates -> learners (learner_id));

diesel::table! {
    course_event_badge_configurations (id) {
        id -> BigInt,
        change_date -> Timestamp,
        changed_by_id -> Nullable<BigInt>,
        enabled -> Bool,
        courses_completed -> Text,
        courses_enrolled -> Text,
        course_groups -> Text,
    }
}

diesel::joinable!(course_event_badge_configurations -> users (changed_by_id));

diesel::table! {
    backfills (id) {
        id -> BigInt,
        course_id -> Text,
        requested_by -> Text,
        queued -> Integer,
        skipped -> Integer,
        created_at -> Timestamp,
    }
}

diesel::joinable!(award_jobs -> backfills (backfill_id));

diesel::table! {
    badges_issued_daily (day) {
        day -> Text,
        issued -> BigInt,
    }
}

diesel::table! {
    award_claims (learner_id, badge_class_id) {
        learner_id -> BigInt,
        badge_class_id -> BigInt,
        job_id -> BigInt,
        sent_at -> Nullable<Timestamp>,
        sent_to -> Text,
        claimed_at -> Timestamp,
    }
}

diesel::joinable!(award_claims -> learners (learner_id));
diesel::joinable!(award_claims -> badge_classes (badge_class_id));

diesel::table! {
    reconciliation_runs (id) {
        id -> BigInt,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        fix -> Bool,
        summary -> Text,
    }
}

diesel::table! {
    reconciliation_findings (id) {
        id -> BigInt,
        run_id -> BigInt,
        kind -> Text,
        badge_class_id -> Nullable<BigInt>,
        learner_id -> Nullable<BigInt>,
        backend_id -> Text,
        detail -> Text,
        action -> Text,
    }
}

diesel::joinable!(reconciliation_findings -> reconciliation_runs (run_id));
diesel::joinable!(reconciliation_findings -> badge_classes (badge_class_id));
diesel::joinable!(reconciliation_findings -> learners (learner_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_sessions,
    groups,
    permissions,
    user_groups,
    user_permissions,
    group_permissions,
    admin_log,
    site_settings,
    login_failures,
    stored_images,
    badge_image_configurations,
    courses,
    course_roles,
    badge_classes,
    learners,
    award_jobs,
    award_attempts,
    badge_assertions,
    service_tokens,
    api_events,
    enrollments,
    certificates,
    course_event_badge_configurations,
    backfills,
    badges_issued_daily,
    award_claims,
    reconciliation_runs,
    reconciliation_findings,
);
