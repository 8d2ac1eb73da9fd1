-- Issued badges are never deleted with their class or their learner: such a delete is
-- refused (SQLite cannot change a foreign key's action, so the table is rebuilt).
CREATE TABLE badge_assertions_protected (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id VARCHAR(64) NOT NULL UNIQUE,
    learner_id INTEGER NOT NULL REFERENCES learners (id) ON DELETE RESTRICT,
    badge_class_id INTEGER NOT NULL REFERENCES badge_classes (id) ON DELETE RESTRICT,
    backend VARCHAR(50) NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    image_url VARCHAR(500) NOT NULL DEFAULT '',
    assertion_url VARCHAR(500) NOT NULL DEFAULT '',
    evidence_url VARCHAR(500) NOT NULL DEFAULT '',
    recipient_salt VARCHAR(64) NOT NULL DEFAULT '',
    recipient_identity VARCHAR(100) NOT NULL DEFAULT '',
    baked_png BLOB NULL,
    job_id INTEGER NULL REFERENCES award_jobs (id) ON DELETE SET NULL,
    revoked BOOLEAN NOT NULL DEFAULT 0,
    revocation_reason TEXT NOT NULL DEFAULT '',
    created TIMESTAMP NOT NULL,
    modified TIMESTAMP NOT NULL,
    UNIQUE (learner_id, badge_class_id)
);
INSERT INTO badge_assertions_protected (
    id, public_id, learner_id, badge_class_id, backend, data, image_url, assertion_url,
    evidence_url, recipient_salt, recipient_identity, baked_png, job_id, revoked,
    revocation_reason, created, modified)
SELECT id, public_id, learner_id, badge_class_id, backend, data, image_url, assertion_url,
    evidence_url, recipient_salt, recipient_identity, baked_png, job_id, revoked,
    revocation_reason, created, modified
FROM badge_assertions;
DROP TABLE badge_assertions;
ALTER TABLE badge_assertions_protected RENAME TO badge_assertions;
CREATE INDEX badge_assertions_created ON badge_assertions (created);
CREATE INDEX badge_assertions_class ON badge_assertions (badge_class_id);

-- Usernames are unique ignoring case and compatibility forms (NFKC, as Django normalises):
-- the application writes the folded key; accounts that already clash keep theirs under
-- their id.
ALTER TABLE users ADD COLUMN username_key VARCHAR(160) NOT NULL DEFAULT '';
UPDATE users SET username_key = lower(username);
UPDATE users SET username_key = username_key || '#' || id
WHERE id NOT IN (SELECT MIN(id) FROM users GROUP BY username_key);
CREATE UNIQUE INDEX users_username_folded ON users (username_key);

-- Logged-in sessions, kept on the server so that they can be ended: the cookie holds a
-- random key, and only its SHA-256 is stored.
CREATE TABLE user_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
