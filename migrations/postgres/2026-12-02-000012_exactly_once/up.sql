-- One award in flight per learner and badge class: a job claims the pair in this row
-- before any backend call, and a second job for the pair finds it taken. `sent_at` marks
-- a request that may have reached the backend without an answer: until the claim is
-- settled by a recorded assertion, every later attempt looks the award up first.
CREATE TABLE award_claims (
    learner_id BIGINT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    badge_class_id BIGINT NOT NULL REFERENCES badge_classes (id) ON DELETE CASCADE,
    job_id BIGINT NOT NULL,
    sent_at TIMESTAMP NULL,
    -- The address the unanswered request went to (the learner's may change meanwhile).
    sent_to VARCHAR(254) NOT NULL DEFAULT '',
    claimed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (learner_id, badge_class_id)
);

-- The creation of a class on the backend, claimed the same way: one creator per class.
-- The tag is sent with the class so that an unanswered creation can be looked up.
ALTER TABLE badge_classes ADD COLUMN creation_job BIGINT NULL;
ALTER TABLE badge_classes ADD COLUMN creation_sent_at TIMESTAMP NULL;
ALTER TABLE badge_classes ADD COLUMN creation_tag VARCHAR(64) NOT NULL DEFAULT '';

-- Whether an attempt's request may have reached the backend without an answer.
ALTER TABLE award_attempts ADD COLUMN unanswered BOOLEAN NOT NULL DEFAULT FALSE;

-- One open job per award: later requests for the same award join the waiting job.
-- Open duplicates from before are closed first, the oldest kept.
UPDATE award_jobs SET status = 'done', locked_by = '', locked_until = NULL,
    last_error = 'superseded by an earlier job for the same award'
WHERE kind = 'course_completion' AND status IN ('pending', 'running')
  AND id NOT IN (SELECT MIN(id) FROM award_jobs
                 WHERE kind = 'course_completion' AND status IN ('pending', 'running')
                 GROUP BY learner_id, course_id, mode);
UPDATE award_jobs SET status = 'done', locked_by = '', locked_until = NULL,
    last_error = 'superseded by an earlier job for the same award'
WHERE kind = 'event_badge' AND status IN ('pending', 'running')
  AND id NOT IN (SELECT MIN(id) FROM award_jobs
                 WHERE kind = 'event_badge' AND status IN ('pending', 'running')
                 GROUP BY learner_id, badge_slug);
UPDATE award_jobs SET status = 'done', locked_by = '', locked_until = NULL,
    last_error = 'superseded by an earlier job for the same revocation'
WHERE kind = 'revocation' AND status IN ('pending', 'running')
  AND id NOT IN (SELECT MIN(id) FROM award_jobs
                 WHERE kind = 'revocation' AND status IN ('pending', 'running')
                 GROUP BY assertion_id);
CREATE UNIQUE INDEX award_jobs_open_completion ON award_jobs (learner_id, course_id, mode)
    WHERE kind = 'course_completion' AND status IN ('pending', 'running');
CREATE UNIQUE INDEX award_jobs_open_event_badge ON award_jobs (learner_id, badge_slug)
    WHERE kind = 'event_badge' AND status IN ('pending', 'running');
CREATE UNIQUE INDEX award_jobs_open_revocation ON award_jobs (assertion_id)
    WHERE kind = 'revocation' AND status IN ('pending', 'running');

-- Reconciliation with the backend: each run, and what it found and did.
CREATE TABLE reconciliation_runs (
    id BIGSERIAL PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NULL,
    fix BOOLEAN NOT NULL,
    summary TEXT NOT NULL DEFAULT ''
);
CREATE TABLE reconciliation_findings (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
    kind VARCHAR(40) NOT NULL,
    badge_class_id BIGINT NULL REFERENCES badge_classes (id) ON DELETE SET NULL,
    learner_id BIGINT NULL REFERENCES learners (id) ON DELETE SET NULL,
    backend_id VARCHAR(255) NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reconciliation_findings_run ON reconciliation_findings (run_id);
