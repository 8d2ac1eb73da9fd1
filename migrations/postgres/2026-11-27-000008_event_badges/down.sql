DROP INDEX certificates_course;
DROP INDEX award_jobs_learner;
ALTER TABLE award_jobs DROP COLUMN revocation_reason;
ALTER TABLE award_jobs DROP COLUMN badge_slug;
DROP TABLE course_event_badge_configurations;
