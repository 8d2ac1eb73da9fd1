-- Issued badges are never deleted with their class or their learner: such a delete is
-- refused.
ALTER TABLE badge_assertions
    DROP CONSTRAINT badge_assertions_learner_id_fkey,
    DROP CONSTRAINT badge_assertions_badge_class_id_fkey,
    ADD CONSTRAINT badge_assertions_learner_id_fkey
        FOREIGN KEY (learner_id) REFERENCES learners (id) ON DELETE RESTRICT,
    ADD CONSTRAINT badge_assertions_badge_class_id_fkey
        FOREIGN KEY (badge_class_id) REFERENCES badge_classes (id) ON DELETE RESTRICT;

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
    id BIGSERIAL PRIMARY KEY,
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
