-- Course-event badge configuration, versioned: every save is a new row; the newest applies.
CREATE TABLE course_event_badge_configurations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    change_date TIMESTAMP NOT NULL,
    changed_by_id INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    courses_completed TEXT NOT NULL DEFAULT '',
    courses_enrolled TEXT NOT NULL DEFAULT '',
    course_groups TEXT NOT NULL DEFAULT ''
);
CREATE INDEX course_event_badge_configurations_newest
    ON course_event_badge_configurations (change_date, id);

-- An event badge job names its class by slug (issuing component openedx__course); a
-- revocation job carries the reason an operator gave.
ALTER TABLE award_jobs ADD COLUMN badge_slug VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE award_jobs ADD COLUMN revocation_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX award_jobs_learner ON award_jobs (learner_id, kind, badge_slug);
CREATE INDEX certificates_course ON certificates (course_id, status);
