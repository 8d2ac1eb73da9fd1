CREATE TABLE courses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id VARCHAR(255) NOT NULL UNIQUE,
    display_name VARCHAR(255) NOT NULL DEFAULT '',
    org VARCHAR(255) NOT NULL,
    start_date DATE NULL,
    end_date DATE NULL,
    issue_badges BOOLEAN NOT NULL DEFAULT 1,
    modes VARCHAR(500) NOT NULL DEFAULT '',
    about_url VARCHAR(500) NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX courses_org ON courses (org);

CREATE TABLE course_roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id INTEGER NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role VARCHAR(20) NOT NULL CHECK (role IN ('instructor', 'staff')),
    UNIQUE (course_id, user_id)
);
CREATE INDEX course_roles_user ON course_roles (user_id);

CREATE TABLE badge_classes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug VARCHAR(255) NOT NULL,
    issuing_component VARCHAR(50) NOT NULL DEFAULT '',
    display_name VARCHAR(255) NOT NULL,
    course_id VARCHAR(255) NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    criteria TEXT NOT NULL,
    mode VARCHAR(100) NOT NULL DEFAULT '',
    image_hash VARCHAR(64) NOT NULL REFERENCES stored_images (hash),
    backend_id VARCHAR(255) NOT NULL DEFAULT '',
    frozen_at TIMESTAMP NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (slug, issuing_component, course_id)
);
CREATE INDEX badge_classes_course ON badge_classes (course_id, mode);
