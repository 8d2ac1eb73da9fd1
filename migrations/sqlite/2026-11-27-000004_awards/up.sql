-- Learners: the LMS users badges are awarded to (not admin accounts).
CREATE TABLE learners (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username VARCHAR(150) NOT NULL UNIQUE,
    email VARCHAR(254) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Award requests: written with whatever caused them, worked off by the award workers.
CREATE TABLE award_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind VARCHAR(40) NOT NULL,
    learner_id INTEGER NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    course_id VARCHAR(255) NOT NULL DEFAULT '',
    mode VARCHAR(100) NOT NULL DEFAULT '',
    evidence_url VARCHAR(500) NOT NULL DEFAULT '',
    status VARCHAR(20) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_by VARCHAR(100) NOT NULL DEFAULT '',
    locked_until TIMESTAMP NULL,
    last_error TEXT NOT NULL DEFAULT '',
    assertion_id INTEGER NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX award_jobs_due ON award_jobs (status, next_attempt_at);

CREATE TABLE award_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES award_jobs (id) ON DELETE CASCADE,
    worker VARCHAR(100) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    outcome VARCHAR(20) NOT NULL CHECK (outcome IN ('done', 'retry', 'failed', 'skipped')),
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX award_attempts_job ON award_attempts (job_id);

-- One badge awarded to one learner (at most one per learner and class).
CREATE TABLE badge_assertions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id VARCHAR(64) NOT NULL UNIQUE,
    learner_id INTEGER NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    badge_class_id INTEGER NOT NULL REFERENCES badge_classes (id) ON DELETE CASCADE,
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
CREATE INDEX badge_assertions_created ON badge_assertions (created);
