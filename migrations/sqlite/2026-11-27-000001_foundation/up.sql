CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username VARCHAR(150) NOT NULL UNIQUE,
    first_name VARCHAR(150) NOT NULL DEFAULT '',
    last_name VARCHAR(150) NOT NULL DEFAULT '',
    email VARCHAR(254) NOT NULL DEFAULT '',
    password VARCHAR(255) NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    is_staff BOOLEAN NOT NULL DEFAULT 0,
    is_superuser BOOLEAN NOT NULL DEFAULT 0,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    last_login TIMESTAMP NULL,
    date_joined TIMESTAMP NOT NULL
);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(150) NOT NULL UNIQUE
);

CREATE TABLE permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_label VARCHAR(100) NOT NULL,
    model VARCHAR(100) NOT NULL,
    codename VARCHAR(100) NOT NULL,
    name VARCHAR(255) NOT NULL,
    UNIQUE (app_label, codename)
);

CREATE TABLE user_groups (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_groups_group ON user_groups (group_id);

CREATE TABLE user_permissions (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, permission_id)
);
CREATE INDEX user_permissions_permission ON user_permissions (permission_id);

CREATE TABLE group_permissions (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, permission_id)
);
CREATE INDEX group_permissions_permission ON group_permissions (permission_id);

CREATE TABLE admin_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action_time TIMESTAMP NOT NULL,
    user_id INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
    username VARCHAR(150) NOT NULL,
    app_label VARCHAR(100) NOT NULL,
    model VARCHAR(100) NOT NULL,
    object_id VARCHAR(255) NOT NULL,
    object_repr VARCHAR(200) NOT NULL,
    action_flag INTEGER NOT NULL CHECK (action_flag IN (1, 2, 3)),
    change_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_log_object ON admin_log (app_label, model, object_id);
CREATE INDEX admin_log_user ON admin_log (user_id, action_time);

CREATE TABLE site_settings (
    key VARCHAR(100) PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username VARCHAR(150) NOT NULL,
    client_address VARCHAR(64) NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, failed_at);
CREATE INDEX login_failures_address ON login_failures (client_address, failed_at);
