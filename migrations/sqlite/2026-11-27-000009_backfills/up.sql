-- "Issue badges for existing passing certificates" runs: what each queued, so the course
-- page can show its progress.
CREATE TABLE backfills (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id VARCHAR(255) NOT NULL,
    requested_by VARCHAR(150) NOT NULL,
    queued INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX backfills_course ON backfills (course_id, id);

ALTER TABLE award_jobs ADD COLUMN backfill_id INTEGER NULL REFERENCES backfills (id) ON DELETE SET NULL;
CREATE INDEX award_jobs_backfill ON award_jobs (backfill_id, status);
